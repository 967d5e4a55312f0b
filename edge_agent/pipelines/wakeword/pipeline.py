"""The ``wakeword`` pipeline: microWakeWord models over streamed or whole audio.

Streams: each (route, sensor) keeps its own :class:`StreamState` (frontend, one
interpreter per wake word, probability windows, refractory timers). A stream
starts over cleanly when the sensor's v5 user property ``stream`` changes, when
``seq`` is not the previous one plus one, or when no audio came for
``idle_reset_s``. A detection publishes one ``wake_word`` event; everything else
publishes nothing. At most ``max_streams`` states are kept (least recently used
is dropped), and states idle past ``idle_reset_s`` are dropped (they would start
over anyway), so memory follows the number of live streams (the shared
:class:`~edge_agent.pipelines.stream_rules.StreamTable`).

Clips (route option ``mode = "clip"``): a whole recording gives one result
listing every detection, computed on fresh state.

Memory: a stream owns one interpreter per wake word (measured ~0.76 MB anonymous
per stream for all four, plus shared file pages; ``benchmarks/wakeword_model.py``)
instead of saving and restoring the models' resource variables, which LiteRT's
Python API cannot read or write without rewriting the graphs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import structlog
from pydantic import BaseModel

from edge_agent.errors import ModelError, PayloadError, Reason
from edge_agent.pipelines.base import AudioSample, Pipeline, RequestContext, Sample
from edge_agent.pipelines.stream_rules import StreamTable, stream_mark
from edge_agent.pipelines.wakeword.bundle import load_bundle
from edge_agent.pipelines.wakeword.options import (
    WakewordOptions,
    WakewordPackageSettings,
    WakewordRouteOptions,
)
from edge_agent.pipelines.wakeword.stream import (
    HOP_SAMPLES,
    SAMPLE_RATE,
    Detection,
    StreamState,
    WakeWordSpec,
    WordDetector,
    open_interpreter,
)
from edge_agent.pipelines.wakeword.vad import VadGate

__all__ = ["WakewordOptions", "WakewordPackageSettings", "WakewordPipeline", "WakewordRouteOptions"]

log = structlog.get_logger("edge_agent.pipelines.wakeword")


Clock = Callable[[], float]


class WakewordPipeline(Pipeline):
    """Wake-word detection over 16 kHz audio streams and clips."""

    kind: ClassVar[str] = "wakeword"
    modality: ClassVar[Literal["audio"]] = "audio"
    default_priority: ClassVar[int] = 90
    audio_rate: ClassVar[int | None] = SAMPLE_RATE
    streaming: ClassVar[bool] = True
    options_model: ClassVar[type[BaseModel]] = WakewordOptions
    route_options_model: ClassVar[type[BaseModel]] = WakewordRouteOptions

    def __init__(self, *args: Any, clock: Clock = time.monotonic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock
        self._opts: WakewordOptions = (
            self.options if isinstance(self.options, WakewordOptions) else WakewordOptions()
        )
        self._settings = self.family_settings(WakewordPackageSettings)
        self._variant: str | None = None
        self._specs: dict[str, WakeWordSpec] = {}
        self._streams: StreamTable[StreamState] = StreamTable(
            max_streams=self._opts.max_streams, idle_s=self._opts.idle_reset_s, clock=clock
        )

    @property
    def active_variant(self) -> str | None:
        """Id of the loaded variant, or None."""
        return self._variant

    @property
    def wake_words(self) -> tuple[str, ...]:
        """Wake words enabled in the loaded variant."""
        return tuple(self._specs)

    def max_probabilities(self, route: str, sensor: str) -> dict[str, float]:
        """Highest windowed probability per wake word since the stream's start.

        For calibration and tests; empty when the stream has no state.
        """
        state = self._streams.get((route, sensor))
        if state is None:
            return {}
        return {d.spec.name: d.max_probability for d in state.detectors}

    def load(self, variant_id: str) -> None:
        """Verify the variant's bundle and models, warm each once, then switch.

        Stream states hold interpreters of the old variant, so every stream starts
        over after a switch (the next chunk opens a fresh state).

        Raises:
            ModelError: Bad files, or an enabled wake word the variant lacks.
        """
        spec = self.package.variant(variant_id)
        family = self.package.family
        specs = load_bundle(
            self.package.variant_path(variant_id), spec.sha256, family=family, variant=variant_id
        )
        by_name = {s.name: s for s in specs}
        wanted = self._opts.wake_words or tuple(by_name)
        missing = [w for w in wanted if w not in by_name]
        unknown = [w for w in self._opts.probability_cutoffs if w not in by_name]
        if missing or unknown:
            raise ModelError(
                f"wake words not in this variant: {missing + unknown}",
                family=family,
                variant=variant_id,
            )
        chosen: dict[str, WakeWordSpec] = {}
        for name in wanted:
            s = by_name[name]
            cutoff = self._opts.probability_cutoffs.get(name, s.cutoff)
            if not 0.0 < cutoff < 1.0:
                raise ModelError(
                    f"cutoff for {name} must be in (0, 1)", family=family, variant=variant_id
                )
            chosen[name] = WakeWordSpec(s.name, s.phrase, s.path, cutoff, s.window)
        warm = self._make_state(tuple(chosen.values()), vad=False)
        warm.feed(bytes(HOP_SAMPLES * 2 * 9))
        warm.close()
        self._drop_streams()
        self._specs = chosen
        self._variant = variant_id
        log.info("wakeword_loaded", family=family, variant=variant_id, wake_words=list(chosen))

    def unload(self) -> None:
        """Drop every stream state and the loaded specs."""
        self._drop_streams()
        self._specs = {}
        self._variant = None

    def reset(self, sensor: str) -> None:
        """Forget every stream state of ``sensor``."""
        for key, _ in self._streams:
            if key[1] == sensor:
                self._streams.pop(key)

    def _drop_streams(self) -> None:
        self._streams.clear()

    def _make_state(
        self, specs: Sequence[WakeWordSpec], *, vad: bool, stream_id: str | None = None
    ) -> StreamState:
        from pymicro_features import MicroFrontend

        family, variant = self.package.family, self._variant
        detectors = [
            WordDetector(
                s,
                open_interpreter(
                    s.path, xnnpack=self._opts.kernels == "xnnpack", family=family, variant=variant
                ),
            )
            for s in specs
        ]
        gate = None
        if vad:
            from pymicro_vad import MicroVad

            hops_per_s = SAMPLE_RATE / HOP_SAMPLES
            gate = VadGate(
                MicroVad,
                threshold=self._opts.vad_threshold,
                energy_floor_dbfs=self._opts.vad_energy_floor_dbfs,
                noise_margin_db=self._opts.vad_noise_margin_db,
                hangover_hops=round(self._opts.vad_hangover_s * hops_per_s),
                preroll_frames=round(self._opts.vad_preroll_s * hops_per_s),
                stride=max(d.stride for d in detectors),
            )
        return StreamState(
            detectors,
            MicroFrontend,
            refractory_s=self._opts.refractory_s,
            vad=gate,
            warmup_frames=round(self._settings.receptive_field_s * 100)
            + max(s.window for s in specs) * max(d.stride for d in detectors),
            stream_id=stream_id,
        )

    def _route_specs(self, route: WakewordRouteOptions) -> tuple[WakeWordSpec, ...]:
        if route.wake_words is None:
            return tuple(self._specs.values())
        missing = [w for w in route.wake_words if w not in self._specs]
        if missing:
            raise ModelError(
                f"route asks for wake words not enabled: {missing}",
                family=self.package.family,
                variant=self._variant,
            )
        return tuple(self._specs[w] for w in route.wake_words)

    def _stream(self, ctx: RequestContext, route: WakewordRouteOptions) -> StreamState:
        dropped = self._streams.sweep(self._clock())
        if dropped:
            log.info("wakeword_streams_dropped", count=dropped, kept=len(self._streams))

        def logged(state: StreamState, why: str) -> None:
            log.info(
                "wakeword_stream_reset",
                sensor=ctx.sensor,
                route=ctx.route,
                why=why,
                offset_s=round(state.offset_s, 3),
            )

        state, _ = self._streams.stream(
            (ctx.route, ctx.sensor),
            stream_mark(ctx.user_properties),
            lambda sid: self._make_state(self._route_specs(route), vad=route.vad, stream_id=sid),
            logged,
        )
        return state

    def process(self, sample: Sample, ctx: RequestContext) -> list[dict[str, Any]]:
        """Feed a chunk (stream mode) or a whole recording (clip mode).

        Returns:
            Stream mode: one ``wake_word`` event per detection, usually none.
            Clip mode: exactly one result with every detection and the duration.

        Raises:
            PayloadError: Not 16 kHz audio.
            ModelError: No variant loaded, or the route names a disabled wake word.
        """
        if not isinstance(sample, AudioSample):
            raise PayloadError(
                Reason.WRONG_MODALITY, "wakeword needs audio", topic=ctx.topic, sensor=ctx.sensor
            )
        if sample.rate != SAMPLE_RATE:
            raise PayloadError(
                Reason.MALFORMED_AUDIO,
                f"expected {SAMPLE_RATE} Hz, got {sample.rate}",
                topic=ctx.topic,
                sensor=ctx.sensor,
            )
        if self._variant is None:
            raise ModelError("no variant loaded", family=self.package.family)
        route = ctx.route_options
        if not isinstance(route, WakewordRouteOptions):
            route = WakewordRouteOptions()
        with ctx.timer.stage("prepare"):
            pcm = sample.pcm.astype("<i2", copy=False).tobytes()
        if route.mode == "clip":
            return [self._clip(pcm, route, ctx)]
        state = self._stream(ctx, route)
        with ctx.timer.stage("infer"):
            found = state.feed(pcm)
        with ctx.timer.stage("interpret"):
            events = [self._event(d, state.stream_id) for d in found]
        for d in found:
            log.info(
                "wake_word_detected",
                sensor=ctx.sensor,
                wake_word=d.wake_word,
                probability=round(d.probability, 4),
                offset_s=round(d.offset_s, 3),
            )
        return events

    def _clip(self, pcm: bytes, route: WakewordRouteOptions, ctx: RequestContext) -> dict[str, Any]:
        state = self._make_state(self._route_specs(route), vad=route.vad)
        try:
            with ctx.timer.stage("infer"):
                found = state.feed(pcm)
        finally:
            state.close()
        with ctx.timer.stage("interpret"):
            return {
                "detections": [
                    {
                        "wake_word": d.wake_word,
                        "phrase": d.phrase,
                        "probability": round(d.probability, 4),
                        "offset_s": round(d.offset_s, 3),
                    }
                    for d in found
                ],
                "duration_s": round(len(pcm) / 2 / SAMPLE_RATE, 3),
            }

    @staticmethod
    def _event(d: Detection, stream_id: str | None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event": "wake_word",
            "wake_word": d.wake_word,
            "phrase": d.phrase,
            "probability": round(d.probability, 4),
            "offset_s": round(d.offset_s, 3),
        }
        if stream_id is not None:
            event["stream"] = stream_id
        return event
