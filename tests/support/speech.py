"""Real synthesized speech for the speech family's tests (espeak-ng / flite / festival).

Clips come from ``benchmarks/wakeword_synth.py`` (the project's one synthesis
module: deterministic, cached outside the repo), spoken only by the eval's *dev*
voices (``models/speech/eval/voices.toml``): the held-out voices stay out of
every test.
"""

from __future__ import annotations

import importlib.util
import sys
import wave
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.pipelines.base import AudioSample, RequestContext
from edge_agent.pipelines.speech import SpeechOptions, SpeechPipeline, SpeechRouteOptions
from edge_agent.runtime.manifest import ModelPackage

__all__ = [
    "ESPEAK",
    "ROOT",
    "SLT",
    "FakeClock",
    "audio",
    "ctx",
    "feed",
    "l16_chunks",
    "make_pipeline",
    "silence",
    "speak",
    "synth_module",
    "wav_bytes",
]

ROOT = Path(__file__).resolve().parents[2]
SLT = ("flite", "slt")  # the dev voices of the eval
ESPEAK = ("espeak-ng", "en-us")


def synth_module() -> ModuleType:
    """``benchmarks/wakeword_synth.py``, imported by path."""
    name = "wakeword_synth"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def speak(
    text: str, voice: tuple[str, str] = SLT, *, lead_s: float = 0.3, tail_s: float = 0.3
) -> npt.NDArray[np.int16]:
    """``text`` spoken by a dev voice: 16 kHz int16 mono with silence either side."""
    synth = synth_module()
    engine, name = voice
    speed = 160
    return synth.synthesize(synth.Voice(engine, name, speed), text, lead_s=lead_s, tail_s=tail_s)


def silence(seconds: float) -> npt.NDArray[np.int16]:
    """Digital silence."""
    return np.zeros(round(seconds * 16000), dtype=np.int16)


def wav_bytes(pcm: npt.NDArray[np.int16], rate: int = 16000, channels: int = 1) -> bytes:
    """A WAV file of ``pcm`` (interleaved when ``channels`` > 1)."""
    import io

    buf = io.BytesIO()
    with wave.open(buf, "wb") as wf:
        wf.setnchannels(channels)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


def l16_chunks(pcm: npt.NDArray[np.int16], sizes: list[int]) -> list[bytes]:
    """``pcm`` as big-endian ``audio/L16`` chunks of the given sample counts (the rest last)."""
    big = pcm.astype(">i2").tobytes()
    out, at = [], 0
    for n in sizes:
        if at >= len(big):
            break
        out.append(big[at : at + 2 * n])
        at += 2 * n
    if at < len(big):
        out.append(big[at:])
    return out


class FakeClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pipeline(
    package: ModelPackage, cache: Path, clock: Any = None, **options: Any
) -> SpeechPipeline:
    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return SpeechPipeline(
        "speech",
        package,
        SpeechOptions(**options),
        num_threads=2,
        cache_dir=cache,
        models_dir=ROOT / "models",
        **kwargs,
    )


def audio(pcm: npt.NDArray[np.int16], rate: int = 16000) -> AudioSample:
    return AudioSample(
        pcm=pcm, rate=rate, source_rate=rate, source_channels=1, source_format="audio/L16"
    )


def ctx(
    sensor: str = "mic1",
    props: dict[str, str] | None = None,
    route: str = "voice",
    **options: Any,
) -> RequestContext:
    return RequestContext(
        topic=f"sensors/{sensor}/audio",
        sensor=sensor,
        route=route,
        request_id="r1",
        route_options=SpeechRouteOptions(**options),
        user_properties=props or {},
    )


def feed(
    pipe: SpeechPipeline,
    pcm: npt.NDArray[np.int16],
    sizes: list[int],
    *,
    sensor: str = "mic1",
    stream_id: str = "s1",
    contexts: list[RequestContext] | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Feed ``pcm`` in chunks of ``sizes`` samples (cycled); all results in order."""
    results: list[dict[str, Any]] = []
    at, seq = 0, 0
    while at < pcm.size:
        n = sizes[seq % len(sizes)]
        c = ctx(sensor, {"stream": stream_id, "seq": str(seq)}, **options)
        results += pipe.process(audio(pcm[at : at + n]), c)
        if contexts is not None:
            contexts.append(c)
        at += n
        seq += 1
    return results
