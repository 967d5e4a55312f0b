"""Voice-activity gate for the wake-word models (``pymicro-vad``, Apache-2.0).

The audio frontend always runs (its noise estimate must see every hop, or the
features would differ); only the wake-word models are gated. Every quantized
feature frame also goes into a pre-roll ring; while no speech is heard, only
there. When speech starts, the models are reset and the ring is replayed, so
they see the same frames (grouped in threes on the same boundaries) as an
ungated stream would. From the zeroed state the outputs are not trustworthy
until the models' receptive field has been filled (measured: outputs converge
to the ungated ones within 59 invocations = 1.77 s; a zeroed model can briefly
output 0.99), so results of the first ``receptive_field_s`` + window of a replay
are discarded, and the pre-roll (2.5 s by default) leaves ~0.5 s of trusted
context before the speech onset. After speech stops the
models keep running for ``hangover`` hops so a phrase's tail is still heard.

Two stages decide "speech": a cheap energy test (mean square of the hop, a numpy
dot product) and, above it, the micro VAD network. The network costs ~170 µs per
10 ms hop here, more than the four wake-word models together, so on its own it
would cost CPU rather than save it; the energy test is what makes silence cheap.
A hop reaches the network only when it is louder than a fixed floor *and* than
the tracked noise level plus a margin (the noise level follows drops at once and
rises slowly, 2 dB/s, from the fixed floor), so steady background noise is
cheap too once the estimate has caught up with it. The VAD
answers -1 while it warms up (~0.76 s): that counts as speech.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Replay", "VadGate", "VoiceDetector"]

_RISE_PER_HOP = math.pow(10.0, 2.0 / 100 / 10)  # noise estimate rises 2 dB/s
_PRIME_MAX_HOPS = 200  # pymicro-vad 2.1.0 answers -1 for its first 76 hops

Replay = tuple[int, list[float], float]
"""A frame to run: (frame index, its 40 frontend features, offset_s)."""


class VoiceDetector:
    """Classifies 10 ms hops: cheap energy tests first, the micro VAD network above them.

    Shared by the wake-word gate and the speech family's endpointer.

    Args:
        vad_factory: Builds a ``pymicro_vad.MicroVad`` (or anything with ``process_10ms``).
        energy_floor_dbfs: Hops quieter than this are silence without asking the VAD.
        noise_margin_db: Hops less than this above the tracked noise level are
            silence without asking the VAD (0 turns noise tracking off).
        prime: Warm a new VAD up on silence (76 hops), so its first answers on real
            audio are probabilities, not -1. Without it the warm-up happens on the
            first loud hops, which may be the start of speech.
    """

    __slots__ = ("_energy_floor", "_factory", "_margin", "_noise", "_prime", "_vad", "vad_hops")

    def __init__(
        self,
        vad_factory: Callable[[], Any],
        *,
        energy_floor_dbfs: float,
        noise_margin_db: float = 0.0,
        prime: bool = False,
    ) -> None:
        self._factory = vad_factory
        self._prime = prime
        self._vad = self._new_vad()
        # mean square of int16 samples at the floor
        self._energy_floor = (32768.0 * math.pow(10.0, energy_floor_dbfs / 20.0)) ** 2
        self._margin = math.pow(10.0, noise_margin_db / 10.0) if noise_margin_db > 0 else 0.0
        self._noise = self._energy_floor  # tracked noise power, starts at the floor
        self.vad_hops = 0  # hops the VAD network actually ran on (for the benchmarks)

    def _new_vad(self) -> Any:
        vad = self._factory()
        if self._prime:
            silence = bytes(320)
            for _ in range(_PRIME_MAX_HOPS):
                if vad.process_10ms(silence) >= 0.0:
                    break
        return vad

    def reset(self) -> None:
        """Forget the noise estimate and the VAD's own state."""
        self._vad = self._new_vad()
        self._noise = self._energy_floor

    def probability(self, hop: bytes) -> float | None:
        """Speech probability of one 10 ms hop (320 bytes of int16).

        Returns:
            None when the hop is too quiet to ask the network (silence); the
            network's probability otherwise, -1.0 while it warms up (~0.76 s).
        """
        samples = np.frombuffer(hop, dtype=np.int16).astype(np.float32)
        power = float(np.dot(samples, samples)) / len(samples)
        loud_enough = power >= self._energy_floor
        if self._margin:
            noise = self._noise
            if power < noise:
                self._noise = power
            else:
                self._noise = min(power, noise * _RISE_PER_HOP + 1e-3)
            loud_enough = loud_enough and power >= noise * self._margin
        if not loud_enough:
            return None
        self.vad_hops += 1
        return float(self._vad.process_10ms(hop))


class VadGate:
    """Decides, hop by hop, whether the wake-word models run.

    Args:
        vad_factory: Builds a ``pymicro_vad.MicroVad`` (or anything with ``process_10ms``).
        threshold: VAD probability at or above which a hop is speech.
        energy_floor_dbfs: Hops quieter than this are silence without asking the VAD.
        noise_margin_db: Hops less than this above the tracked noise level are
            silence without asking the VAD (0 turns noise tracking off).
        hangover_hops: Hops the models keep running after the last speech hop.
        preroll_frames: Frames replayed when speech starts (rounded down to ``stride``).
        stride: Frames per model invocation (3); replays start on its boundaries.
    """

    __slots__ = (
        "_active_until",
        "_hangover",
        "_hop",
        "_preroll",
        "_running",
        "_stride",
        "_threshold",
        "_voice",
    )

    def __init__(
        self,
        vad_factory: Callable[[], Any],
        *,
        threshold: float,
        energy_floor_dbfs: float,
        noise_margin_db: float = 0.0,
        hangover_hops: int,
        preroll_frames: int,
        stride: int,
    ) -> None:
        self._voice = VoiceDetector(
            vad_factory, energy_floor_dbfs=energy_floor_dbfs, noise_margin_db=noise_margin_db
        )
        self._threshold = threshold
        self._hangover = hangover_hops
        self._stride = stride
        keep = max(stride, preroll_frames - preroll_frames % stride)
        self._preroll: deque[Replay] = deque(maxlen=keep + stride - 1)
        self._hop = 0
        self._active_until = 0
        self._running = False

    @property
    def vad_hops(self) -> int:
        """Hops the VAD network actually ran on (for the benchmark)."""
        return self._voice.vad_hops

    def reset(self) -> None:
        """Forget speech history, pre-roll and the VAD's own state."""
        self._voice.reset()
        self._preroll.clear()
        self._hop = 0
        self._active_until = 0
        self._running = False

    def observe(self, hop: bytes) -> None:
        """Classify one 10 ms hop (320 bytes of int16)."""
        self._hop += 1
        prob = self._voice.probability(hop)
        if prob is not None and (prob < 0.0 or prob >= self._threshold):
            self._active_until = self._hop + self._hangover

    def admit(
        self,
        frame: int,
        features: list[float],
        offset: float,
        reset_models: Callable[[int], None],
    ) -> list[Replay]:
        """Return the frames the models must run now (possibly none).

        Args:
            frame: Index of this feature frame in the stream.
            features: Its frontend features.
            offset: Its stream time in seconds.
            reset_models: Resets every model before a replay; gets the replay's
                first frame index.

        Returns:
            Nothing while silent; the aligned pre-roll plus this frame when speech
            starts; this frame alone while speech lasts.
        """
        active = self._hop <= self._active_until
        self._preroll.append((frame, features, offset))
        if active and self._running:
            return [(frame, features, offset)]
        if not active:
            self._running = False
            return []
        self._running = True
        replay = list(self._preroll)
        skip = (-replay[0][0]) % self._stride
        replay = replay[skip:]
        reset_models(replay[0][0])
        return replay
