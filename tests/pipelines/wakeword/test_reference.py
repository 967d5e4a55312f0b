"""The ``wakeword`` pipeline against ``pymicro-wakeword``'s own code (the reference).

Positives: each wake phrase in voices of espeak-ng, flite and festival.
Negatives: other speech, confusable phrases, noise, tones, silence. Both sides
get the same audio in uneven chunks; per clip and model they must reach the same
decision, and their highest windowed probabilities must agree within 0.01.
Skips with the reason when a synthesiser binary or ``pymicro-wakeword`` is absent.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge_agent.pipelines.base import AudioSample, RequestContext
from edge_agent.pipelines.wakeword import (
    WakewordOptions,
    WakewordPipeline,
    WakewordRouteOptions,
)
from edge_agent.runtime.manifest import load_package

ROOT = Path(__file__).resolve().parents[3]
Clip = tuple[str, npt.NDArray[np.int16]]

NEGATIVE_TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "please turn off the kitchen lights and lock the door",
    "okay google",
    "hey travis",
    "alex said",
    "hey microsoft",
    "okay now boo",
]


def _bench_module(name: str) -> ModuleType:
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _synth_module() -> ModuleType:
    return _bench_module("wakeword_synth")


@pytest.fixture(scope="module")
def synth() -> ModuleType:
    module = _synth_module()
    missing = module.missing_tools()
    if missing:
        pytest.skip(
            f"speech synthesisers missing: {', '.join(missing)} "
            "(apt-get install espeak-ng flite festival festvox-kdlpc16k sox)"
        )
    return module


@pytest.fixture(scope="module")
def reference() -> Any:
    return pytest.importorskip("pymicro_wakeword", reason="pymicro-wakeword (test extra) absent")


def _signals(rng: np.random.Generator) -> list[Clip]:
    t = np.arange(16000 * 3) / 16000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    sweep = (6000 * np.sin(2 * np.pi * (200 + 600 * t) * t)).astype(np.int16)
    noise = rng.normal(0, 2000, 16000 * 3).astype(np.int16)
    return [
        ("silence", np.zeros(16000 * 2, np.int16)),
        ("tone", tone),
        ("sweep", sweep),
        ("noise", noise),
    ]


@pytest.fixture(scope="module")
def clips(synth: ModuleType) -> list[Clip]:
    voices = synth.available_voices()
    pick = [v for v in voices if v.engine != "espeak-ng"] + [
        v for v in voices if v.engine == "espeak-ng"
    ][:5]
    out: list[Clip] = []
    for voice in pick:
        for text in synth.PHRASES.values():
            out.append((f"{voice.label}|{text}", synth.synthesize(voice, text)))
    for voice in pick[::3]:
        for text in NEGATIVE_TEXTS:
            out.append((f"{voice.label}|{text}", synth.synthesize(voice, text)))
    return out + _signals(np.random.default_rng(7))


@pytest.fixture(scope="module")
def pipeline() -> Iterator[WakewordPipeline]:
    pipe = WakewordPipeline(
        "wakeword", load_package(ROOT / "models" / "wakeword"), WakewordOptions(max_streams=4)
    )
    pipe.load("all-int8")
    yield pipe
    pipe.unload()


def _chunks(
    pcm: npt.NDArray[np.int16], rng: np.random.Generator
) -> Iterator[npt.NDArray[np.int16]]:
    i = 0
    while i < len(pcm):
        n = int(rng.integers(1, 4000))
        yield pcm[i : i + n]
        i += n


def _reference_run(
    reference: Any, models: dict[str, Any], pcm: npt.NDArray[np.int16], rng: np.random.Generator
) -> dict[str, float]:
    features = reference.MicroWakeWordFeatures()
    best = dict.fromkeys(models, 0.0)
    for model in models.values():
        model.reset()
    for chunk in _chunks(pcm, rng):
        for frame in features.process_streaming(chunk.tobytes()):
            for name, model in models.items():
                best[name] = max(best[name], model.process_streaming_prob(frame) or 0.0)
    return best


def _pipeline_run(
    pipe: WakewordPipeline, sensor: str, pcm: npt.NDArray[np.int16], rng: np.random.Generator
) -> tuple[set[str], dict[str, float]]:
    fired: set[str] = set()
    for chunk in _chunks(pcm, rng):
        ctx = RequestContext(
            topic=f"s/{sensor}/audio",
            sensor=sensor,
            route="audio",
            request_id="r",
            route_options=WakewordRouteOptions(),
        )
        sample = AudioSample(
            pcm=chunk, rate=16000, source_rate=16000, source_channels=1, source_format="audio/L16"
        )
        fired |= {e["wake_word"] for e in pipe.process(sample, ctx)}
    return fired, pipe.max_probabilities("audio", sensor)


def test_same_decisions_and_probabilities_as_reference(
    reference: Any, pipeline: WakewordPipeline, clips: list[Clip]
) -> None:
    models = {m.value: reference.MicroWakeWord.from_builtin(m) for m in reference.Model}
    rng = np.random.default_rng(11)
    mismatches = []
    for i, (label, pcm) in enumerate(clips):
        ref_best = _reference_run(reference, models, pcm, rng)
        fired, ours = _pipeline_run(pipeline, f"clip{i}", pcm, rng)
        for name, model in models.items():
            ref_fired = ref_best[name] > model.probability_cutoff
            if ref_fired != (name in fired) or abs(ref_best[name] - ours[name]) > 0.01:
                mismatches.append((label, name, ref_best[name], ours[name], name in fired))
    assert mismatches == []


def test_reference_set_exercises_both_decisions(
    reference: Any, pipeline: WakewordPipeline, clips: list[Clip]
) -> None:
    rng = np.random.default_rng(5)
    fired = set()
    for i, (_, pcm) in enumerate(clips[:16]):
        fired |= _pipeline_run(pipeline, f"probe{i}", pcm, rng)[0]
    assert fired == {"okay_nabu", "hey_jarvis", "alexa", "hey_mycroft"}


@pytest.mark.parametrize("seed", [1, 5])
def test_vad_gate_keeps_events_on_speech_dense_streams(
    synth: ModuleType, pipeline: WakewordPipeline, seed: int
) -> None:
    # Phrases in several voices over -41 dBFS noise, 0.5-3 s apart: the gate closes
    # and reopens often, and replays start inside earlier speech (where a zeroed
    # model once produced a spurious detection).
    audio = _bench_module("wakeword_streams")._audio(20.0, seed)
    events = {}
    for vad in (False, True):
        sensor = f"dense{seed}{vad}"
        ctx = RequestContext(
            topic="s",
            sensor=sensor,
            route="audio",
            request_id="r",
            route_options=WakewordRouteOptions(vad=vad),
        )
        found = []
        for i in range(0, len(audio), 640):
            sample = AudioSample(audio[i : i + 640], 16000, 16000, 1, "audio/L16")
            found += [(e["wake_word"], e["offset_s"]) for e in pipeline.process(sample, ctx)]
        events[vad] = found
    assert events[False]
    assert events[True] == events[False]
