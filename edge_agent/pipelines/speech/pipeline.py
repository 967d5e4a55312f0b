"""The ``speech`` pipeline: Whisper (CTranslate2) over clips and streams, and the voice chain.

Clips (route option ``mode = "clip"``): a whole recording gives exactly one
result: ``text``, ``language``, ``segments`` (times in the recording),
``avg_logprob``, ``no_speech_prob``, ``duration_s``.

Streams (``mode = "stream"``, the default): chunks per (route, sensor) under the
stream rules of :mod:`edge_agent.pipelines.stream_rules`; the endpointer cuts
utterances (speech start, ``end_silence_s`` of silence, at most
``max_utterance_s``) and each non-empty utterance gives one result: the clip
fields (segment times in stream time) plus ``start_s``/``end_s`` (stream time
of the utterance and of its last speech), ``end_reason`` (``silence``,
``max_length``, ``stream_end``), ``stream`` and ``latency_ms``
(``end_of_speech_to_transcript``: from processing the last speech hop to the
transcript; ``transcribe``: the decoding alone). A chunk with the user property
``end`` = ``1``/``true`` ends the stream: the utterance in progress is
transcribed at once.

The voice chain (route option ``after_wake_word``): the pipeline runs the
wake-word models of the ``wakeword`` family on the same stream, on this worker
thread, so one thread owns both; only the utterance after a wake word is
transcribed, and it is published once as a ``voice_command`` event (wake word,
text, timings; ``text`` empty with ``end_reason = "timeout"`` when nothing was
said) and, when it has text, as the result (which a route's ``forward`` hands
to the next pipeline: ``{"text": ...}``).

Transcripts are derived data: they go to the local broker only and never into
a log line (logs carry lengths, counts and timings).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import structlog
from pydantic import BaseModel

from edge_agent.errors import ModelError, PayloadError, Reason
from edge_agent.pipelines.base import AudioSample, Pipeline, RequestContext, Sample
from edge_agent.pipelines.speech.decoder import Transcriber, Transcript, WhisperTokenizer
from edge_agent.pipelines.speech.documents import stream_result, voice_command
from edge_agent.pipelines.speech.endpointer import HOP_SAMPLES, SAMPLE_RATE, Endpointer, Utterance
from edge_agent.pipelines.speech.model_files import model_files
from edge_agent.pipelines.speech.options import (
    SpeechOptions,
    SpeechPackageSettings,
    SpeechRouteOptions,
)
from edge_agent.pipelines.speech.streams import Heard, SpeechStream
from edge_agent.pipelines.stream_rules import StreamTable, stream_mark
from edge_agent.pipelines.wakeword.stream import Detection, WakeWordSpec
from edge_agent.pipelines.wakeword.vad import VoiceDetector
from edge_agent.runtime.backend import import_runtime
from edge_agent.runtime.ctranslate2 import WhisperBackend

__all__ = ["SpeechOptions", "SpeechPackageSettings", "SpeechPipeline", "SpeechRouteOptions"]

log = structlog.get_logger("edge_agent.pipelines.speech")

Clock = Callable[[], float]
_END_VALUES = frozenset({"1", "true", "yes"})


class SpeechPipeline(Pipeline):
    """Speech to text over 16 kHz clips and streams (see the module docstring)."""

    kind: ClassVar[str] = "speech"
    modality: ClassVar[Literal["audio"]] = "audio"
    audio_rate: ClassVar[int | None] = SAMPLE_RATE
    options_model: ClassVar[type[BaseModel]] = SpeechOptions
    route_options_model: ClassVar[type[BaseModel]] = SpeechRouteOptions
    # Stream state (utterances in progress) lives per sensor; one shard by default:
    # every shard would hold its own Whisper model (72-110 MB).
    sensor_affinity: ClassVar[bool] = True
    default_priority: ClassVar[int] = 50
    default_load: ClassVar[Literal["at_start", "on_demand"]] = "on_demand"
    # A transcription holds the worker 0.3-3 s while chunks keep coming: the inbox
    # must hold that much audio (256 chunks of 100 ms is 25 s).
    default_inbox_size: ClassVar[int] = 256

    def __init__(self, *args: Any, clock: Clock = time.monotonic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock
        self._opts: SpeechOptions = (
            self.options if isinstance(self.options, SpeechOptions) else SpeechOptions()
        )
        self._settings = self.family_settings(SpeechPackageSettings)
        self._variant: str | None = None
        self._backend: WhisperBackend | None = None
        self._transcriber: Transcriber | None = None
        # Idle time is the sensors' silence, not our work: while we transcribe or load
        # a model, chunks wait in the inbox. The streams' clock leaves out that work.
        self._busy_s = 0.0
        self._streams: StreamTable[SpeechStream] = StreamTable(
            max_streams=self._opts.max_streams,
            idle_s=self._opts.idle_reset_s,
            clock=self._idle_clock,
        )
        self._wake_specs: dict[str, WakeWordSpec] | None = None
        self._cancelled = False

    def _idle_clock(self) -> float:
        return self._clock() - self._busy_s

    @contextmanager
    def _busy(self) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self._busy_s += time.monotonic() - start

    @property
    def active_variant(self) -> str | None:
        """Id of the loaded variant, or None."""
        return self._variant

    # -- models ---------------------------------------------------------------------------

    def prepare(self, variant_ids: Sequence[str]) -> None:
        """Join split variants (``base``) into the cache now, so a later swap only loads."""
        for variant_id in variant_ids:
            if self.package.unavailable_reason(variant_id) is None:
                model_files(self.package, variant_id, self.cache_dir)

    def _open(self, variant_id: str) -> WhisperBackend:
        files = model_files(self.package, variant_id, self.cache_dir)
        args: dict[str, Any] = {
            "files": files.files,
            "threads": self.num_threads,
            "compute_type": self._opts.compute_type,
            "family": self.package.family,
            "variant": variant_id,
        }
        try:
            return WhisperBackend(files.directory, **args)
        except ModelError as exc:
            if not files.joined or "sha256" not in exc.reason:
                raise
        # a joined file that went bad in the cache: join it again, once
        for name in files.joined:
            (files.directory / name).unlink(missing_ok=True)
        files = model_files(self.package, variant_id, self.cache_dir)
        return WhisperBackend(files.directory, **args)

    def load(self, variant_id: str) -> None:
        """Verify, load and warm a variant, then switch to it; streams are kept.

        Raises:
            MissingExtraError: The ``speech`` extra is not installed.
            ModelError: The variant cannot be loaded (the previous one keeps serving).
        """
        import_runtime("ctranslate2", extra="speech", family=self.package.family)
        why = self.package.unavailable_reason(variant_id)
        if why is not None:
            raise ModelError(why, family=self.package.family, variant=variant_id)
        with self._busy():
            self._load(variant_id)

    def _load(self, variant_id: str) -> None:
        backend = self._open(variant_id)
        try:
            files = model_files(self.package, variant_id, self.cache_dir, join=False)
            tokenizer = WhisperTokenizer(
                files.tokenizer, family=self.package.family, variant=variant_id
            )
            transcriber = Transcriber(backend, tokenizer, self._opts)
            transcriber.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))  # warm up
        except BaseException:
            backend.close()
            raise
        if self._backend is not None:
            self._backend.close()
        self._backend, self._transcriber, self._variant = backend, transcriber, variant_id
        log.info(
            "speech_loaded",
            family=self.package.family,
            variant=variant_id,
            multilingual=backend.is_multilingual,
            threads=self.num_threads,
            streams_kept=len(self._streams),
        )

    def unload(self) -> None:
        """Drop the model (and idle streams); utterances in progress are kept."""
        if self._backend is not None:
            self._backend.close()
        self._backend = self._transcriber = None
        self._variant = None
        for key, stream in self._streams:
            if not stream.busy:
                self._streams.pop(key)

    def reset(self, sensor: str) -> None:
        """Forget every stream of ``sensor``."""
        for key, _ in self._streams:
            if key[1] == sensor:
                self._streams.pop(key)

    def cancel(self) -> None:
        """Stop a long transcription at the next window (shutdown)."""
        self._cancelled = True

    def _wake_word_specs(self, wanted: Sequence[str]) -> list[WakeWordSpec]:
        if self._wake_specs is None:
            from edge_agent.pipelines.wakeword.bundle import load_bundle
            from edge_agent.runtime.manifest import load_package

            family = self._settings.wake_word_family
            if self.models_dir is None:
                raise ModelError("the voice chain needs models_dir", family=family)
            package = load_package(self.models_dir / family)
            vid = package.manifest.preferred.quality_first
            specs = load_bundle(
                package.variant_path(vid), package.variant(vid).sha256, family=family, variant=vid
            )
            self._wake_specs = {s.name: s for s in specs}
        missing = [w for w in wanted if w not in self._wake_specs]
        if missing:
            raise ModelError(
                f"wake words not in the wake-word family: {missing}",
                family=self._settings.wake_word_family,
            )
        return [self._wake_specs[w] for w in wanted]

    # -- streams --------------------------------------------------------------------------

    def _make_stream(self, route: SpeechRouteOptions, stream_id: str | None) -> SpeechStream:
        from pymicro_vad import MicroVad

        opts = self._opts
        hops_per_s = SAMPLE_RATE / HOP_SAMPLES
        endpointer = Endpointer(
            VoiceDetector(MicroVad, energy_floor_dbfs=opts.vad_energy_floor_dbfs, prime=True),
            threshold=opts.vad_threshold,
            start_hops=round(opts.speech_start_s * hops_per_s),
            end_hops=round(opts.end_silence_s * hops_per_s),
            max_samples=round(opts.max_utterance_s * SAMPLE_RATE),
            preroll_hops=round(opts.preroll_s * hops_per_s),
            clock=time.monotonic,
        )
        wake = None
        if route.after_wake_word:
            from pymicro_features import MicroFrontend

            from edge_agent.pipelines.wakeword.stream import (
                StreamState,
                WordDetector,
                open_interpreter,
            )

            family = self._settings.wake_word_family
            detectors = [
                WordDetector(s, open_interpreter(s.path, family=family))
                for s in self._wake_word_specs(route.after_wake_word)
            ]
            wake = StreamState(
                detectors,
                MicroFrontend,
                refractory_s=opts.wake_word_refractory_s,
                stream_id=stream_id,
            )
        return SpeechStream(endpointer, wake=wake, listen_s=route.listen_s, stream_id=stream_id)

    def _stream(self, ctx: RequestContext, route: SpeechRouteOptions) -> SpeechStream:
        dropped = self._streams.sweep(self._idle_clock())
        if dropped:
            log.info("speech_streams_dropped", count=dropped, kept=len(self._streams))
        key = (ctx.route, ctx.sensor)
        state, why = self._streams.stream(
            key, stream_mark(ctx.user_properties), lambda sid: self._make_stream(route, sid)
        )
        if why is not None:
            log.info("speech_stream_reset", sensor=ctx.sensor, route=ctx.route, why=why)
        return state

    # -- messages -------------------------------------------------------------------------

    def process(self, sample: Sample, ctx: RequestContext) -> list[dict[str, Any]]:
        """Transcribe a clip, or feed a stream chunk and transcribe the utterances it ended.

        Returns:
            Clip mode: exactly one result. Stream mode: one result per utterance
            with text, usually none.

        Raises:
            PayloadError: Not 16 kHz audio.
            ModelError: No variant loaded, or the route names an unknown wake word.
            CancelledError: Shutdown cut a transcription short.
        """
        if not isinstance(sample, AudioSample):
            raise PayloadError(
                Reason.WRONG_MODALITY, "speech needs audio", topic=ctx.topic, sensor=ctx.sensor
            )
        if sample.rate != SAMPLE_RATE:
            raise PayloadError(
                Reason.MALFORMED_AUDIO,
                f"expected {SAMPLE_RATE} Hz, got {sample.rate}",
                topic=ctx.topic,
                sensor=ctx.sensor,
            )
        if self._transcriber is None:
            raise ModelError("no variant loaded", family=self.package.family)
        route = ctx.route_options
        if not isinstance(route, SpeechRouteOptions):
            route = SpeechRouteOptions()
        if route.mode == "clip":
            with ctx.timer.stage("prepare"):
                audio = sample.pcm.astype(np.float32) / 32768.0
            transcript = self._transcribe(audio, ctx)
            self._log(ctx, transcript, None)
            return [transcript.as_dict()]
        state = self._stream(ctx, route)
        with ctx.timer.stage("prepare"):
            heard = state.feed(sample.pcm.astype("<i2", copy=False).tobytes())
            if ctx.user_properties.get("end", "").lower() in _END_VALUES:
                heard += state.flush()
        results = []
        for item in heard:
            result = self._heard(item, state, ctx)
            if result is not None:
                results.append(result)
        return results

    def _transcribe(self, audio: npt.NDArray[np.float32], ctx: RequestContext) -> Transcript:
        transcriber = self._transcriber
        if transcriber is None:
            raise ModelError("no variant loaded", family=self.package.family)
        self._cancelled = False
        with ctx.timer.stage("infer"), self._busy():
            return transcriber.transcribe(audio, cancelled=lambda: self._cancelled)

    def _heard(
        self, item: Heard, state: SpeechStream, ctx: RequestContext
    ) -> dict[str, Any] | None:
        """Transcribe one utterance; publish the voice command of a chain route."""
        utt = item.utterance
        if utt is None:  # a listening window timed out
            if item.wake is not None:
                self._voice_command(ctx, item.wake, state)
                log.info("voice_command_timeout", sensor=ctx.sensor, wake_word=item.wake.wake_word)
            return None
        started = time.monotonic()
        transcript = self._transcribe(utt.pcm.astype(np.float32) / 32768.0, ctx)
        done = time.monotonic()
        latency = {
            "end_of_speech_to_transcript": round((done - utt.speech_end_at) * 1000.0, 1),
            "transcribe": round((done - started) * 1000.0, 1),
        }
        self._log(ctx, transcript, utt, latency)
        if item.wake is not None:
            if not transcript.text and utt.end_reason == "silence":
                state.keep_listening(item.wake)  # the wake phrase's tail, a cough: go on
                if state.listening:
                    return None
            self._voice_command(
                ctx, item.wake, state, heard=(utt, transcript), transcribe_ms=latency["transcribe"]
            )
            log.info(
                "voice_command",
                sensor=ctx.sensor,
                wake_word=item.wake.wake_word,
                chars=len(transcript.text),
                end_reason=utt.end_reason,
            )
        if not transcript.text:
            return None
        with ctx.timer.stage("interpret"):
            return stream_result(transcript, utt, state.stream_id, item.wake, latency)

    def _voice_command(
        self,
        ctx: RequestContext,
        wake: Detection,
        state: SpeechStream,
        *,
        heard: tuple[Utterance, Transcript] | None = None,
        transcribe_ms: float = 0.0,
    ) -> None:
        """Publish the one ``voice_command`` event of a wake word (``heard``: None on timeout)."""
        ctx.outputs.event(
            "voice_command", voice_command(wake, state.stream_id, heard, transcribe_ms)
        )

    def _log(
        self,
        ctx: RequestContext,
        transcript: Transcript,
        utt: Utterance | None,
        latency: dict[str, float] | None = None,
    ) -> None:
        # lengths and scores only: the transcript itself never goes into a log line
        log.info(
            "speech_transcribed",
            sensor=ctx.sensor,
            route=ctx.route,
            request_id=ctx.request_id,
            variant=self._variant,
            duration_s=round(transcript.duration_s, 3),
            chars=len(transcript.text),
            segments=len(transcript.segments),
            windows=transcript.windows,
            fallbacks=transcript.fallbacks,
            avg_logprob=round(transcript.avg_logprob, 3),
            end_reason=utt.end_reason if utt is not None else None,
            latency_ms=latency,
        )
