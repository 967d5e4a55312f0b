"""Per-stream wake-word state: one frontend pass shared by every wake word.

Audio (16 kHz int16 mono, chunks of any size) goes through the TFLite-Micro
audio frontend (``pymicro-features``) in 10 ms hops. Feature frames (40 values)
are grouped in threes (the models' input is ``[1, 3, 40]`` int8, the stride every
wake word shares), quantized once per group and distinct input quantization, and
handed to every wake word's detector. A detector invokes its own interpreter
(the models keep streaming state in resource variables, so each stream owns one
interpreter per wake word: about 0.5 ms to build, reset with
``reset_all_variables``) and averages the last ``sliding_window_size``
probabilities, exactly as ``pymicro-wakeword`` does.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.errors import ModelError
from edge_agent.pipelines.wakeword.vad import VadGate
from edge_agent.runtime.interpreter import load_interpreter_class

__all__ = [
    "FEATURES_PER_FRAME",
    "HOP_BYTES",
    "SAMPLE_RATE",
    "Detection",
    "StreamState",
    "WakeWordSpec",
    "WordDetector",
    "open_interpreter",
]

SAMPLE_RATE = 16000
HOP_SAMPLES = 160  # 10 ms, the frontend's step
HOP_BYTES = HOP_SAMPLES * 2
FEATURES_PER_FRAME = 40


@dataclass(frozen=True, slots=True)
class WakeWordSpec:
    """One wake word of a loaded variant.

    Attributes:
        name: Model id (``okay_nabu``).
        phrase: Spoken phrase (``Okay Nabu``).
        path: Model file (already verified by sha256).
        cutoff: Detection threshold on the windowed mean probability.
        window: Number of model outputs averaged (``sliding_window_size``).
    """

    name: str
    phrase: str
    path: Path
    cutoff: float
    window: int


@dataclass(frozen=True, slots=True)
class Detection:
    """A wake word heard in a stream.

    Attributes:
        wake_word: Model id.
        phrase: Spoken phrase.
        probability: Windowed mean probability that crossed the cutoff.
        offset_s: Stream time of the frame that triggered, in seconds.
    """

    wake_word: str
    phrase: str
    probability: float
    offset_s: float


def open_interpreter(
    path: Path, *, xnnpack: bool = False, family: str | None = None, variant: str | None = None
) -> Any:
    """Build and allocate an interpreter (builtin TFLite kernels unless ``xnnpack``).

    XNNPACK (LiteRT's default delegate) rounds a few int8 results differently from
    the builtin TFLite kernels that ``pymicro-wakeword`` and microcontrollers use
    (up to 12 output steps of 1/256 seen here; windowed probabilities within
    0.01), so by default it is disabled and the outputs match the reference
    exactly. XNNPACK is ~6x faster per invocation on this x86 box (7 vs 50 µs).

    Args:
        path: Model file (already verified).
        xnnpack: Allow the default XNNPACK delegate.
        family: Family name, for error context.
        variant: Variant id, for error context.

    Raises:
        ModelError: The runtime rejects the file.
    """
    cls, _ = load_interpreter_class()
    resolver = getattr(sys.modules[cls.__module__], "OpResolverType", None)
    kwargs: dict[str, Any] = {"model_path": str(path), "num_threads": 1}
    if resolver is not None and not xnnpack:
        kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        interp = cls(**kwargs)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(
            f"runtime rejected the model: {exc}", family=family, variant=variant, path=str(path)
        ) from exc
    return interp


class WordDetector:
    """One wake word's interpreter and probability window.

    Args:
        spec: The wake word.
        interpreter: Its own allocated interpreter (stateful: never share between streams).
    """

    __slots__ = (
        "_in_dtype",
        "_in_index",
        "_interp",
        "_out_index",
        "_out_scale",
        "_out_zero",
        "_probs",
        "max_probability",
        "scale",
        "spec",
        "stride",
        "zero_point",
    )

    def __init__(self, spec: WakeWordSpec, interpreter: Any) -> None:
        self.spec = spec
        self._interp: Any = interpreter
        inp = interpreter.get_input_details()[0]
        out = interpreter.get_output_details()[0]
        if tuple(inp["shape"][::2]) != (1, FEATURES_PER_FRAME):
            raise ModelError(f"unexpected input shape {list(inp['shape'])}", path=str(spec.path))
        self.stride = int(inp["shape"][1])
        scale, zero_point = inp["quantization"]
        self.scale = float(scale)
        self.zero_point = int(zero_point)
        self._in_dtype = np.dtype(inp["dtype"])
        self._in_index = int(inp["index"])
        self._out_index = int(out["index"])
        out_scale, out_zero = out["quantization"]
        self._out_scale = float(out_scale)
        self._out_zero = int(out_zero)
        self._probs: deque[float] = deque(maxlen=spec.window)
        self.max_probability = 0.0

    def run(self, block: npt.NDArray[Any], *, track: bool = True) -> float:
        """Invoke the model on one group of quantized frames.

        Args:
            block: Shape ``[1, stride, 40]`` in the model's input dtype.
            track: Count the result in ``max_probability`` (False while warming up).

        Returns:
            The mean of the last ``window`` probabilities, or ``0.0`` until the
            window is full (as ``pymicro-wakeword`` reports).
        """
        interp = self._interp
        interp.set_tensor(self._in_index, block)
        interp.invoke()
        raw = int(interp.get_tensor(self._out_index).reshape(-1)[0])
        probs = self._probs
        probs.append((raw - self._out_zero) * self._out_scale)
        if len(probs) < self.spec.window:
            return 0.0
        prob = sum(probs) / len(probs)
        if track and prob > self.max_probability:
            self.max_probability = prob
        return prob

    def reset(self, *, keep_max: bool = False) -> None:
        """Forget probabilities and the model's streaming state.

        Args:
            keep_max: Keep ``max_probability`` (a VAD replay, not a new stream).
        """
        self._probs.clear()
        if not keep_max:
            self.max_probability = 0.0
        self._interp.reset_all_variables()

    def close(self) -> None:
        """Release the interpreter."""
        self._interp = None


Frontend = Any  # pymicro_features.MicroFrontend (untyped C extension)


class StreamState:
    """Everything one audio stream needs between chunks.

    Args:
        detectors: One detector per enabled wake word (owned by this stream).
        frontend_factory: Builds a fresh audio frontend.
        refractory_s: After a detection, that wake word stays silent this long, and
            until its probability has fallen back to the cutoff (one event per utterance).
        vad: Optional voice-activity gate (models run only around speech).
        warmup_frames: After the gate resets the models for a replay, frames whose
            results are not trusted (the models' receptive field plus the
            probability window): from a zeroed state the models can output high
            probabilities for a moment. Those results neither fire nor count.
        stream_id: The sensor's stream id, when it sends one.
    """

    def __init__(
        self,
        detectors: Sequence[WordDetector],
        frontend_factory: Callable[[], Frontend],
        *,
        refractory_s: float,
        vad: VadGate | None = None,
        warmup_frames: int = 0,
        stream_id: str | None = None,
    ) -> None:
        self.detectors = tuple(detectors)
        self._frontend_factory = frontend_factory
        self._frontend = frontend_factory()
        self._refractory_frames = max(1, round(refractory_s * SAMPLE_RATE / HOP_SAMPLES))
        self.vad = vad
        self._warmup_frames = warmup_frames
        self._warm_from = 0  # first frame whose results count
        self.stream_id = stream_id
        self.last_seq: int | None = None
        self.last_seen = 0.0
        self._pending = b""
        self._samples = 0  # samples consumed by the frontend since the reset
        self._frames = 0  # feature frames produced since the reset
        self._quiet_until = [0] * len(self.detectors)
        self._armed = [True] * len(self.detectors)
        strides = {d.stride for d in self.detectors}
        if len(strides) != 1:
            raise ModelError(f"wake words of one stream must share a stride, got {sorted(strides)}")
        self._stride = strides.pop()
        self._group = np.zeros((self._stride, FEATURES_PER_FRAME), dtype=np.float64)
        self._fill = 0
        quants = sorted({(d.scale, d.zero_point, d._in_dtype.str) for d in self.detectors})
        self._quant = [(sc, zp, np.dtype(dt)) for sc, zp, dt in quants]
        self._quant_of = [
            quants.index((d.scale, d.zero_point, d._in_dtype.str)) for d in self.detectors
        ]
        self.model_frames = 0  # frames the models actually saw (for the VAD benchmark)

    @property
    def offset_s(self) -> float:
        """Stream time consumed so far, in seconds."""
        return self._samples / SAMPLE_RATE

    def reset(self, stream_id: str | None = None) -> None:
        """Start over: fresh frontend, models, windows and clock."""
        self._frontend = self._frontend_factory()
        for d in self.detectors:
            d.reset()
        if self.vad is not None:
            self.vad.reset()
        self._pending = b""
        self._samples = 0
        self._frames = 0
        self._fill = 0
        self._warm_from = 0
        self._quiet_until = [0] * len(self.detectors)
        self._armed = [True] * len(self.detectors)
        self.stream_id = stream_id
        self.last_seq = None

    def close(self) -> None:
        """Release every interpreter."""
        for d in self.detectors:
            d.close()

    def _quantize(self) -> list[npt.NDArray[Any]]:
        # float64 division like pymicro-wakeword: float32 flips a few roundings
        out = []
        for scale, zero, dtype in self._quant:
            q = np.round(self._group / scale + zero)
            info = np.iinfo(dtype)
            np.minimum(q, float(info.max), out=q)
            np.maximum(q, float(info.min), out=q)
            out.append(q.astype(dtype).reshape(1, self._stride, FEATURES_PER_FRAME))
        return out

    def _run_models(
        self, features: list[float], frame: int, offset: float, found: list[Detection]
    ) -> None:
        """Add one frame; when a group is complete, run every wake word on it."""
        self.model_frames += 1
        self._group[self._fill] = features
        self._fill += 1
        if self._fill < self._stride:
            return
        self._fill = 0
        blocks = self._quantize()
        warm = frame >= self._warm_from
        for i, det in enumerate(self.detectors):
            prob = det.run(blocks[self._quant_of[i]], track=warm)
            if not warm:
                continue
            if prob <= det.spec.cutoff:
                # re-arm only once the probability fell back below the cutoff
                if frame >= self._quiet_until[i]:
                    self._armed[i] = True
                continue
            if not self._armed[i] or frame < self._quiet_until[i]:
                continue
            self._armed[i] = False
            self._quiet_until[i] = frame + self._refractory_frames
            found.append(Detection(det.spec.name, det.spec.phrase, prob, offset))

    def feed(self, pcm: bytes) -> list[Detection]:
        """Process a chunk of 16 kHz int16 mono audio (any length).

        Args:
            pcm: Little-endian int16 samples.

        Returns:
            Detections triggered inside this chunk, in stream order.
        """
        buf = self._pending + pcm if self._pending else pcm
        found: list[Detection] = []
        idx = 0
        frontend = self._frontend
        vad = self.vad
        while idx + HOP_BYTES <= len(buf):
            hop = buf[idx : idx + HOP_BYTES]
            result = frontend.process_samples(hop)
            read = int(result.samples_read)
            features = result.features
            idx += read * 2
            self._samples += read
            if vad is not None:
                vad.observe(hop)
            if not features:
                continue
            frame = self._frames
            self._frames += 1
            offset = self._samples / SAMPLE_RATE
            if vad is None:
                self._run_models(features, frame, offset, found)
                continue
            for index, feats, at in vad.admit(frame, features, offset, self._reset_models):
                self._run_models(feats, index, at, found)
        self._pending = buf[idx:]
        return found

    def _reset_models(self, first_frame: int) -> None:
        self._fill = 0
        # a replay from the stream's first frame is exactly the ungated start
        self._warm_from = first_frame + self._warmup_frames if first_frame > 0 else 0
        for d in self.detectors:
            d.reset(keep_max=True)
