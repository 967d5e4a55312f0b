"""The ``speech`` pipeline with real Whisper weights and real synthesized speech.

Speech comes from the eval's dev voices only (flite ``slt``, espeak-ng ``en-us``).
tiny-en serves almost every test (loaded once); base only in the swap test.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from support.speech import (
    ESPEAK,
    SLT,
    FakeClock,
    audio,
    ctx,
    feed,
    make_pipeline,
    silence,
    speak,
    wav_bytes,
)

from edge_agent.codecs.decode import decode
from edge_agent.codecs.limits import Limits
from edge_agent.errors import MissingExtraError, ModelError, PayloadError
from edge_agent.pipelines.base import TextSample
from edge_agent.pipelines.speech import SpeechPipeline
from edge_agent.pipelines.speech.wer import word_error_rate
from edge_agent.runtime.manifest import ModelPackage

pytestmark = pytest.mark.usefixtures("synth_ok")

SENTENCES = [
    "turn off the kitchen lights",
    "set a timer for ten minutes",
    "lock the front door",
    "call Maria",
]


def _clip(pipe: SpeechPipeline, pcm: np.ndarray) -> dict:
    (result,) = pipe.process(audio(pcm), ctx(mode="clip"))
    return result


def test_clips_of_known_sentences_are_transcribed_within_a_wer_bound(
    tiny: SpeechPipeline,
) -> None:
    pairs = []
    for voice in (SLT, ESPEAK):
        for text in SENTENCES[:3]:
            pairs.append((text, _clip(tiny, speak(text, voice))["text"]))
    count = word_error_rate(pairs)
    assert count.words >= 24
    assert count.wer <= 0.15, pairs


def test_a_clip_result_has_timed_segments_and_scores(tiny: SpeechPipeline) -> None:
    pcm = speak("set the thermostat to twenty one degrees")
    result = _clip(tiny, pcm)
    duration = pcm.size / 16000
    assert result["language"] == "en"
    assert result["duration_s"] == pytest.approx(duration, abs=0.001)
    assert result["segments"]
    for seg in result["segments"]:
        assert 0.0 <= seg["start_s"] <= seg["end_s"] <= duration + 0.01
        assert seg["avg_logprob"] < 0.0
    assert " ".join(s["text"] for s in result["segments"]) == result["text"]
    assert -1.0 < result["avg_logprob"] < 0.0
    assert 0.0 <= result["no_speech_prob"] < 0.5


def test_silence_gives_no_text(tiny: SpeechPipeline) -> None:
    result = _clip(tiny, silence(2.0))
    assert result["text"] == ""
    assert result["segments"] == []


def test_any_rate_and_channels_are_resampled_to_the_same_words(tiny: SpeechPipeline) -> None:
    pcm = speak("lock the front door")
    # 44.1 kHz stereo through the codec: what a sensor may really send
    t = np.arange(pcm.size) / 16000
    t44 = np.arange(round(pcm.size * 44100 / 16000)) / 44100
    up = np.interp(t44, t, pcm.astype(np.float64)).astype(np.int16)
    stereo = np.stack([up, up], axis=1).reshape(-1)
    sample = decode(
        wav_bytes(stereo, rate=44100, channels=2),
        modality="audio",
        content_type="audio/wav",
        declared_format=None,
        limits=Limits(),
        audio_rate=16000,
    )
    assert sample.rate == 16000  # type: ignore[union-attr]
    (result,) = tiny.process(sample, ctx(mode="clip"))
    assert word_error_rate([("lock the front door", result["text"])]).errors == 0


def _encoder_windows(pipe: SpeechPipeline, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the frame count of every encoder call (a spy on the real backend)."""
    backend = pipe._transcriber.backend  # type: ignore[union-attr]
    frames: list[int] = []
    encode = backend.encode

    def spy(features: np.ndarray) -> object:
        frames.append(features.shape[-1])
        return encode(features)

    monkeypatch.setattr(backend, "encode", spy)
    return frames


def test_a_short_clip_gets_a_fitted_window(
    tiny: SpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = _encoder_windows(tiny, monkeypatch)
    _clip(tiny, speak("lock the front door"))  # ~1.7 s: the 10 s minimum
    longer = np.concatenate([speak("lock the front door"), silence(12.0)])
    _clip(tiny, longer)
    # its length + 1 s, in whole seconds of 100 frames
    assert frames == [1000, math.ceil(longer.size / 16000 + 1.0) * 100]


def test_a_clip_longer_than_one_window_is_decoded_window_by_window(
    tiny: SpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = _encoder_windows(tiny, monkeypatch)
    first, second = speak("turn off the kitchen lights"), speak("lock the front door")
    pcm = np.concatenate([first, silence(31.0 - first.size / 16000), second])
    result = _clip(tiny, pcm)
    assert frames[0] == 3000
    assert len(frames) >= 2
    words = result["text"].lower()
    assert "kitchen" in words
    assert "front door" in words
    assert max(s["end_s"] for s in result["segments"]) > 30.0


def test_stream_chunks_of_any_size_give_one_transcript_per_utterance(
    tiny: SpeechPipeline,
) -> None:
    texts = ["turn off the kitchen lights", "set a timer for ten minutes"]
    pcm = np.concatenate([silence(0.5), speak(texts[0]), silence(1.5), speak(texts[1])])
    results = feed(tiny, np.concatenate([pcm, silence(1.5)]), [517, 3001, 80, 1600], sensor="st1")
    assert len(results) == 2
    first, second = results
    assert word_error_rate(zip(texts, [r["text"] for r in results], strict=True)).errors <= 1
    assert first["end_reason"] == second["end_reason"] == "silence"
    assert first["stream"] == "s1"
    assert 0.0 <= first["start_s"] < first["end_s"] < second["start_s"] < second["end_s"]
    assert first["segments"][0]["start_s"] >= first["start_s"]
    assert first["latency_ms"]["end_of_speech_to_transcript"] >= first["latency_ms"]["transcribe"]


def test_an_utterance_that_never_ends_is_cut_at_the_maximum(
    speech_package: ModelPackage, speech_cache: Path
) -> None:
    pipe = make_pipeline(speech_package, speech_cache, max_utterance_s=3.0)
    pipe.load("tiny-en")
    talk = np.concatenate(
        [speak(t, lead_s=0.0, tail_s=0.05) for t in SENTENCES] * 2
    )  # about 8 s without a pause the endpointer would take for an end
    results = feed(pipe, talk, [1600], sensor="cut1")
    pipe.unload()
    assert len(results) >= 2
    assert results[0]["end_reason"] == "max_length"
    assert results[0]["duration_s"] == pytest.approx(3.0, abs=0.011)
    assert all(r["duration_s"] <= 3.0 + 0.011 for r in results)


def test_the_end_property_transcribes_the_utterance_in_progress(tiny: SpeechPipeline) -> None:
    pcm = np.concatenate([silence(0.3), speak("lock the front door", tail_s=0.0)])
    assert tiny.process(audio(pcm), ctx("end1", {"stream": "e"})) == []
    (result,) = tiny.process(audio(silence(0.01)), ctx("end1", {"stream": "e", "end": "1"}))
    assert result["end_reason"] == "stream_end"
    assert word_error_rate([("lock the front door", result["text"])]).errors == 0


def test_a_seq_gap_drops_the_utterance_in_progress(tiny: SpeechPipeline) -> None:
    half = speak("turn off the kitchen lights", tail_s=0.0)
    tiny.process(audio(half), ctx("gap1", {"stream": "g", "seq": "0"}))
    assert tiny.process(audio(silence(1.5)), ctx("gap1", {"stream": "g", "seq": "5"})) == []


def test_idle_streams_start_over_and_are_dropped(
    speech_package: ModelPackage, speech_cache: Path
) -> None:
    clock = FakeClock()
    pipe = make_pipeline(speech_package, speech_cache, clock=clock, max_streams=2)
    pipe.load("tiny-en")
    for sensor in ("a", "b", "c"):
        pipe.process(audio(silence(0.1)), ctx(sensor))
    assert pipe._streams.get(("voice", "a")) is None  # least recently used, dropped
    assert len(pipe._streams) == 2
    clock.now += 10.0
    pipe.process(audio(silence(0.1)), ctx("c"))
    assert len(pipe._streams) == 1  # b went idle
    pipe.unload()


def test_swapping_variants_mid_utterance_loses_nothing(
    speech_package: ModelPackage, speech_cache: Path
) -> None:
    """tiny-en -> base between two chunks, and an unload + load (a release-first swap)."""
    pipe = make_pipeline(speech_package, speech_cache)
    pipe.load("tiny-en")
    text = "set the thermostat to twenty one degrees"
    pcm = np.concatenate([silence(0.3), speak(text), silence(1.5)])
    cut = pcm.size // 2
    assert pipe.process(audio(pcm[:cut]), ctx("swap", {"stream": "w", "seq": "0"})) == []
    pipe.load("base")  # joins base's two parts into the cache first
    (result,) = pipe.process(audio(pcm[cut:]), ctx("swap", {"stream": "w", "seq": "1"}))
    assert pipe.active_variant == "base"
    assert word_error_rate([(text, result["text"])]).errors == 0
    assert pipe.process(audio(pcm[:cut]), ctx("swap", {"stream": "w", "seq": "2"})) == []
    pipe.unload()
    pipe.load("tiny-en")
    (result,) = pipe.process(audio(pcm[cut:]), ctx("swap", {"stream": "w", "seq": "3"}))
    assert word_error_rate([(text, result["text"])]).errors == 0
    pipe.unload()


def test_wrong_rate_modality_or_no_model_are_errors(
    tiny: SpeechPipeline, speech_package: ModelPackage, speech_cache: Path
) -> None:
    with pytest.raises(PayloadError) as rate:
        tiny.process(audio(silence(0.5), rate=8000), ctx())
    assert rate.value.reason.value == "malformed_audio"
    with pytest.raises(PayloadError) as modality:
        tiny.process(TextSample("hello", {}, "text/plain"), ctx())
    assert modality.value.reason.value == "wrong_modality"
    with pytest.raises(ModelError, match="no variant loaded"):
        make_pipeline(speech_package, speech_cache).process(audio(silence(0.5)), ctx())


def test_a_missing_runtime_is_a_missing_extra_error(
    speech_package: ModelPackage, speech_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # what an absent extra looks like
    why = speech_package.unavailable_reason("tiny-en")
    assert why is not None
    assert "edge-agent[speech]" in why  # sizing leaves the family out, naming the fix
    with pytest.raises(MissingExtraError) as err:
        make_pipeline(speech_package, speech_cache).load("tiny-en")
    assert err.value.extra == "speech"
    assert "pip install 'edge-agent[speech]'" in str(err.value)
