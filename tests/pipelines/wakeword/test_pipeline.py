"""Behaviour of the ``wakeword`` pipeline with the real models (no fakes).

Fixture ``okay_nabu_flite_rms.wav``: "okay nabu" spoken by flite's ``rms`` voice
(``benchmarks/wakeword_synth.py``), 16 kHz mono, 0.3 s lead, 0.7 s tail.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge_agent.errors import ModelError, PayloadError
from edge_agent.pipelines.base import AudioSample, RequestContext
from edge_agent.pipelines.wakeword import (
    WakewordOptions,
    WakewordPipeline,
    WakewordRouteOptions,
)
from edge_agent.runtime.manifest import load_package

pytest.importorskip("pymicro_features", reason="pymicro-features is a runtime dependency")

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "wakeword" / "okay_nabu_flite_rms.wav"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def wakeword_package() -> Any:
    return load_package(ROOT / "models" / "wakeword")


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


def _pipeline(package: Any, clock: _Clock, **options: Any) -> WakewordPipeline:
    pipe = WakewordPipeline("wakeword", package, WakewordOptions(**options), clock=clock)
    pipe.load("all-int8")
    return pipe


@pytest.fixture
def pipeline(wakeword_package: Any, clock: _Clock) -> Iterator[WakewordPipeline]:
    pipe = _pipeline(wakeword_package, clock)
    yield pipe
    pipe.unload()


@pytest.fixture(scope="module")
def okay_nabu_pcm() -> npt.NDArray[np.int16]:
    with wave.open(str(FIXTURE), "rb") as wf:
        return np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2").astype(np.int16)


def _audio(pcm: npt.NDArray[np.int16], rate: int = 16000) -> AudioSample:
    return AudioSample(
        pcm=pcm, rate=rate, source_rate=rate, source_channels=1, source_format="audio/L16"
    )


def _ctx(sensor: str = "mic1", props: dict[str, str] | None = None, **route: Any) -> RequestContext:
    return RequestContext(
        topic=f"sensors/{sensor}/audio",
        sensor=sensor,
        route="audio",
        request_id="r",
        route_options=WakewordRouteOptions(**route),
        user_properties=props or {},
    )


def _stream(
    pipe: WakewordPipeline,
    pcm: npt.NDArray[np.int16],
    chunk: int,
    sensor: str = "mic1",
    props: dict[str, str] | None = None,
    **route: Any,
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(0, len(pcm), chunk):
        events += pipe.process(_audio(pcm[i : i + chunk]), _ctx(sensor, props, **route))
    return events


def test_silence_publishes_nothing(pipeline: WakewordPipeline) -> None:
    assert _stream(pipeline, np.zeros(16000 * 3, np.int16), 1600) == []


def test_phrase_gives_one_event(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    events = _stream(pipeline, okay_nabu_pcm, 320)
    assert [e["wake_word"] for e in events] == ["okay_nabu"]
    assert events[0]["event"] == "wake_word"
    assert events[0]["probability"] > 0.85
    assert 0.3 < events[0]["offset_s"] < len(okay_nabu_pcm) / 16000


def test_chunk_size_does_not_change_events(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    small = _stream(pipeline, okay_nabu_pcm, 77, sensor="a")
    large = _stream(pipeline, okay_nabu_pcm, 5003, sensor="b")
    assert small == large


def test_refractory_suppresses_repeat(
    wakeword_package: Any, clock: _Clock, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    pipeline = _pipeline(wakeword_package, clock, refractory_s=5.0)
    twice = np.concatenate([okay_nabu_pcm, okay_nabu_pcm])
    assert len(_stream(pipeline, twice, 1600)) == 1


def test_one_event_per_utterance_despite_short_refractory(
    wakeword_package: Any, clock: _Clock, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    pipe = _pipeline(wakeword_package, clock, refractory_s=0.1)
    twice = np.concatenate([okay_nabu_pcm, okay_nabu_pcm])
    assert len(_stream(pipe, twice, 1600)) == 2


def test_sensors_have_separate_state(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    half = len(okay_nabu_pcm) // 2
    events = _stream(pipeline, okay_nabu_pcm[:half], 800, sensor="a")
    events += _stream(pipeline, okay_nabu_pcm[:half], 800, sensor="b")
    events += _stream(pipeline, okay_nabu_pcm[half:], 800, sensor="a")
    assert [e["offset_s"] for e in events] == [
        e["offset_s"] for e in _stream(pipeline, okay_nabu_pcm, 800, sensor="c")
    ]


def test_new_stream_id_restarts_offsets(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    _stream(pipeline, np.zeros(16000 * 2, np.int16), 1600, props={"stream": "s1"})
    events = _stream(pipeline, okay_nabu_pcm, 1600, props={"stream": "s2"})
    assert events[0]["stream"] == "s2"
    assert events[0]["offset_s"] < len(okay_nabu_pcm) / 16000


def test_seq_gap_resets_state(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    pipeline.process(_audio(np.zeros(32000, np.int16)), _ctx(props={"seq": "1"}))
    events = pipeline.process(_audio(okay_nabu_pcm), _ctx(props={"seq": "3"}))
    assert events[0]["offset_s"] < len(okay_nabu_pcm) / 16000


def test_consecutive_seq_keeps_state(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    pipeline.process(_audio(np.zeros(32000, np.int16)), _ctx(props={"seq": "1"}))
    events = pipeline.process(_audio(okay_nabu_pcm), _ctx(props={"seq": "2"}))
    assert events[0]["offset_s"] > 2.0


def test_idle_gap_resets_state(
    pipeline: WakewordPipeline, clock: _Clock, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    pipeline.process(_audio(np.zeros(32000, np.int16)), _ctx())
    clock.now += 5.0
    events = pipeline.process(_audio(okay_nabu_pcm), _ctx())
    assert events[0]["offset_s"] < len(okay_nabu_pcm) / 16000


def test_route_subset_limits_wake_words(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    assert _stream(pipeline, okay_nabu_pcm, 1600, wake_words=("alexa",)) == []


def test_route_word_not_enabled_is_an_error(
    wakeword_package: Any, clock: _Clock, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    pipe = _pipeline(wakeword_package, clock, wake_words=("alexa",))
    with pytest.raises(ModelError):
        pipe.process(_audio(okay_nabu_pcm), _ctx(wake_words=("okay_nabu",)))


def test_cutoff_override_applies(
    wakeword_package: Any, clock: _Clock, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    pipe = _pipeline(wakeword_package, clock, probability_cutoffs={"okay_nabu": 0.999})
    assert _stream(pipe, okay_nabu_pcm, 1600) == []


def test_unknown_wake_word_fails_load(wakeword_package: Any, clock: _Clock) -> None:
    with pytest.raises(ModelError):
        _pipeline(wakeword_package, clock, wake_words=("hey_computer",))


def test_clip_mode_gives_one_result(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    results = pipeline.process(_audio(okay_nabu_pcm), _ctx(mode="clip"))
    assert len(results) == 1
    assert [d["wake_word"] for d in results[0]["detections"]] == ["okay_nabu"]
    assert results[0]["duration_s"] == pytest.approx(len(okay_nabu_pcm) / 16000, abs=1e-3)


def test_clip_mode_ignores_stream_state(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    half = len(okay_nabu_pcm) // 2
    pipeline.process(_audio(okay_nabu_pcm[:half]), _ctx())
    clip = pipeline.process(_audio(okay_nabu_pcm[half:]), _ctx(mode="clip"))
    assert clip[0]["detections"] == []


def test_vad_keeps_the_detection(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    padded = np.concatenate([np.zeros(16000 * 3, np.int16), okay_nabu_pcm])
    plain = _stream(pipeline, padded, 1600, sensor="plain")
    gated = _stream(pipeline, padded, 1600, sensor="gated", vad=True)
    assert gated == plain


def test_vad_skips_models_on_silence(pipeline: WakewordPipeline) -> None:
    _stream(pipeline, np.zeros(16000 * 3, np.int16), 1600, vad=True)
    state = pipeline._streams[("audio", "mic1")]
    assert state.model_frames == 0


def test_wrong_rate_is_rejected(pipeline: WakewordPipeline) -> None:
    with pytest.raises(PayloadError):
        pipeline.process(_audio(np.zeros(800, np.int16), rate=8000), _ctx())


def test_unloaded_pipeline_raises(wakeword_package: Any, clock: _Clock) -> None:
    pipe = WakewordPipeline("wakeword", wakeword_package, WakewordOptions(), clock=clock)
    with pytest.raises(ModelError):
        pipe.process(_audio(np.zeros(800, np.int16)), _ctx())


def test_xnnpack_kernels_detect_too(
    wakeword_package: Any, clock: _Clock, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    pipe = _pipeline(wakeword_package, clock, kernels="xnnpack")
    assert [e["wake_word"] for e in _stream(pipe, okay_nabu_pcm, 1600)] == ["okay_nabu"]


def test_idle_streams_are_dropped(pipeline: WakewordPipeline, clock: _Clock) -> None:
    _stream(pipeline, np.zeros(1600, np.int16), 1600, sensor="old")
    clock.now += 10.0
    _stream(pipeline, np.zeros(1600, np.int16), 1600, sensor="new")
    assert pipeline.max_probabilities("audio", "old") == {}


def test_vad_skips_models_in_steady_noise(pipeline: WakewordPipeline) -> None:
    noise = np.random.default_rng(3).normal(0, 100, 16000 * 12).astype(np.int16)  # ~ -50 dBFS
    _stream(pipeline, noise[: 16000 * 8], 1600, vad=True)
    state = pipeline._streams[("audio", "mic1")]
    assert state.vad is not None
    asked, ran = state.vad.vad_hops, state.model_frames
    _stream(pipeline, noise[16000 * 8 :], 1600, vad=True)
    assert (state.vad.vad_hops, state.model_frames) == (asked, ran)


def test_vad_replay_after_a_pause_keeps_events(
    pipeline: WakewordPipeline, okay_nabu_pcm: npt.NDArray[np.int16]
) -> None:
    quiet = np.random.default_rng(4).normal(0, 3, 16000 * 3).astype(np.int16)
    audio = np.concatenate([okay_nabu_pcm, quiet, okay_nabu_pcm, quiet[:16000], okay_nabu_pcm])
    plain = _stream(pipeline, audio, 1600, sensor="plain")
    gated = _stream(pipeline, audio, 1600, sensor="gated", vad=True)
    assert len(plain) == 3
    assert gated == plain
