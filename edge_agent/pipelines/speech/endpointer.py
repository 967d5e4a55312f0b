"""Utterances out of a stream of 16 kHz audio chunks: speech start, end, maximum length.

Hop by hop (10 ms) the shared :class:`~edge_agent.pipelines.wakeword.vad.VoiceDetector`
(an energy test, then ``pymicro-vad``) says silence, speech, or "warming up"
(the VAD's first ~0.76 s). The endpointer is idle until ``start_hops``
consecutive speech hops; the utterance then starts ``preroll`` before the first
hop of that run that was not known silence, so speech heard while the VAD
warms up is kept. It ends after ``end_hops`` hops of silence (the utterance's
audio keeps that silence: Whisper is fine with it), or is cut when it reaches
``max_samples``; speech that goes on after a cut continues as the next
utterance, and a continuation without speech is dropped.

Memory per stream is bounded: a pre-roll ring of hops while idle, and at most
``max_samples`` int16 samples while an utterance lasts. Chunk boundaries never
matter: a partial hop waits for the next chunk, so the same audio cut any way
gives the same utterances.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge_agent.pipelines.wakeword.vad import VoiceDetector

__all__ = ["HOP_BYTES", "HOP_SAMPLES", "EndReason", "Endpointer", "Utterance"]

SAMPLE_RATE = 16000
HOP_SAMPLES = 160
HOP_BYTES = HOP_SAMPLES * 2
_LAG_HOPS = 100  # ring room for the VAD's lag (and its -1 warm-up) beside the pre-roll

EndReason = Literal["silence", "max_length", "stream_end"]


@dataclass(frozen=True, slots=True)
class Utterance:
    """One stretch of speech, ready to transcribe.

    Attributes:
        pcm: Its samples (16 kHz int16), pre-roll and trailing silence included.
        start_s: Stream time of ``pcm[0]`` in seconds.
        speech_end_s: Stream time of the end of the last speech hop.
        end_reason: ``silence``, ``max_length`` (cut) or ``stream_end`` (flushed).
        speech_end_at: Clock time when the last speech hop was processed.
    """

    pcm: npt.NDArray[np.int16]
    start_s: float
    speech_end_s: float
    end_reason: EndReason
    speech_end_at: float

    @property
    def duration_s(self) -> float:
        """Length of ``pcm`` in seconds."""
        return self.pcm.size / SAMPLE_RATE


class Endpointer:
    """Finds utterances in one audio stream.

    Args:
        voice: Hop classifier (owned by this endpointer).
        threshold: VAD probability at or above which a hop is speech.
        start_hops: Consecutive speech hops that start an utterance.
        end_hops: Consecutive silent hops that end one.
        max_samples: Longest utterance; longer ones are cut.
        preroll_hops: Hops kept before the speech start.
        clock: Wall clock (for latency figures).
    """

    __slots__ = (
        "_buffer",
        "_clock",
        "_end_hops",
        "_fill",
        "_hops",
        "_max",
        "_pending",
        "_preroll",
        "_ring",
        "_run_start",
        "_silence_run",
        "_speech_end_at",
        "_speech_end_fill",
        "_speech_hops",
        "_speech_run",
        "_start_hop",
        "_start_hops",
        "_threshold",
        "voice",
    )

    def __init__(
        self,
        voice: VoiceDetector,
        *,
        threshold: float,
        start_hops: int,
        end_hops: int,
        max_samples: int,
        preroll_hops: int,
        clock: Callable[[], float],
    ) -> None:
        self.voice = voice
        self._threshold = threshold
        self._start_hops = max(1, start_hops)
        self._end_hops = max(1, end_hops)
        self._max = max(HOP_SAMPLES, max_samples - max_samples % HOP_SAMPLES)
        self._preroll = preroll_hops
        self._clock = clock
        self._ring: deque[bytes] = deque(maxlen=preroll_hops + _LAG_HOPS + self._start_hops)
        self._buffer: npt.NDArray[np.int16] | None = None
        self._pending = b""
        self._hops = 0
        self._clear()

    def _clear(self) -> None:
        """Idle, nothing heard: no utterance, an empty pre-roll ring."""
        self._ring.clear()
        self._buffer = None
        self._fill = 0
        self._run_start: int | None = None
        self._speech_run = 0
        self._speech_hops = 0
        self._silence_run = 0
        self._start_hop = 0
        self._speech_end_fill = 0
        self._speech_end_at = 0.0

    @property
    def offset_s(self) -> float:
        """Stream time processed so far, in seconds (whole hops)."""
        return self._hops * HOP_SAMPLES / SAMPLE_RATE

    @property
    def consumed_samples(self) -> int:
        """Samples taken from the stream so far (processed hops plus the partial one)."""
        return self._hops * HOP_SAMPLES + len(self._pending) // 2

    @property
    def in_utterance(self) -> bool:
        """Whether an utterance is in progress."""
        return self._buffer is not None

    @property
    def buffered_samples(self) -> int:
        """Samples held for the utterance in progress (0 when idle)."""
        return self._fill

    def reset(self) -> None:
        """Start over: a new stream (fresh VAD, clock at zero)."""
        self.voice.reset()
        self._pending = b""
        self._hops = 0
        self._clear()

    def restart(self) -> None:
        """Drop what was heard so far but keep listening from here (after a wake word).

        Speech that is still going on goes on as a new, empty utterance; when idle,
        the pre-roll ring is emptied so audio before this point is never part of
        the next utterance.
        """
        speaking = self._buffer is not None and self._silence_run == 0
        self._clear()
        if speaking:
            self._open(self._hops)

    def _open(self, first_hop: int) -> npt.NDArray[np.int16]:
        buffer = np.empty(self._max, dtype=np.int16)
        self._buffer = buffer
        self._fill = 0
        self._start_hop = first_hop
        self._speech_hops = 0
        self._silence_run = 0
        self._speech_end_fill = 0
        return buffer

    def _append(self, buffer: npt.NDArray[np.int16], hop: bytes) -> None:
        buffer[self._fill : self._fill + HOP_SAMPLES] = np.frombuffer(hop, dtype="<i2")
        self._fill += HOP_SAMPLES

    def _close(self, buffer: npt.NDArray[np.int16], reason: EndReason) -> Utterance | None:
        """End the utterance in progress; None when it held too little speech."""
        pcm = buffer[: self._fill].copy()
        start_s = self._start_hop * HOP_SAMPLES / SAMPLE_RATE
        speech_end_s = start_s + self._speech_end_fill / SAMPLE_RATE
        enough = self._speech_hops >= self._start_hops
        speech_end_at = self._speech_end_at
        self._clear()
        if not enough:
            return None
        return Utterance(pcm, start_s, speech_end_s, reason, speech_end_at)

    def _idle_hop(self, hop: bytes, speech: bool, quiet: bool) -> None:
        index = self._hops
        self._ring.append(hop)
        if quiet:
            self._run_start = None
            self._speech_run = 0
            return
        if self._run_start is None:
            self._run_start = index
        self._speech_run = self._speech_run + 1 if speech else 0
        if self._speech_run < self._start_hops:
            return
        first = max(self._run_start - self._preroll, index + 1 - len(self._ring))
        kept = list(self._ring)[first - (index + 1 - len(self._ring)) :]
        buffer = self._open(first)
        for old in kept:
            self._append(buffer, old)
        self._speech_hops = self._speech_run
        self._speech_end_fill = self._fill
        self._speech_end_at = self._clock()
        self._ring.clear()

    def _utterance_hop(
        self, buffer: npt.NDArray[np.int16], hop: bytes, speech: bool
    ) -> Utterance | None:
        if self._fill + HOP_SAMPLES > self._max:
            cut = self._close(buffer, "max_length")
            buffer = self._open(self._hops)  # what follows continues as the next utterance
            self._append(buffer, hop)
            self._count(speech)
            return cut
        self._append(buffer, hop)
        self._count(speech)
        if self._silence_run >= self._end_hops:
            return self._close(buffer, "silence")
        return None

    def _count(self, speech: bool) -> None:
        if speech:
            self._speech_hops += 1
            self._silence_run = 0
            self._speech_end_fill = self._fill
            self._speech_end_at = self._clock()
        else:
            self._silence_run += 1

    def feed(self, pcm: bytes) -> list[Utterance]:
        """Process a chunk of 16 kHz int16 little-endian mono audio (any length).

        Returns:
            Utterances that ended (or were cut) inside this chunk, in stream order.
        """
        buf = self._pending + pcm if self._pending else pcm
        done: list[Utterance] = []
        idx = 0
        while idx + HOP_BYTES <= len(buf):
            hop = buf[idx : idx + HOP_BYTES]
            idx += HOP_BYTES
            prob = self.voice.probability(hop)
            # only hops below the energy floor are surely silence: the VAD says "speech"
            # 150-400 ms into a word, so the utterance starts from the loud run's start
            quiet = prob is None
            speech = prob is not None and prob >= self._threshold
            buffer = self._buffer
            if buffer is None:
                self._idle_hop(hop, speech, quiet)
            else:
                # inside an utterance the VAD is warm: only real speech counts
                ended = self._utterance_hop(buffer, hop, speech)
                if ended is not None:
                    done.append(ended)
            self._hops += 1
        self._pending = buf[idx:]
        return done

    def flush(self) -> Utterance | None:
        """End the utterance in progress now (the stream ended); None when idle."""
        if self._buffer is None:
            return None
        return self._close(self._buffer, "stream_end")
