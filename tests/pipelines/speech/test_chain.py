"""The voice chain in the pipeline: wake word -> listening window -> one voice command.

The wake phrase "okay nabu" and the commands are spoken by flite's ``slt`` (a dev
voice); the ``okay_nabu`` model of the wakeword family hears it (probability
0.88 here), on the speech pipeline's own thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from support.speech import audio, ctx, silence, speak

from edge_agent.errors import ModelError
from edge_agent.pipelines.base import RequestContext
from edge_agent.pipelines.speech import SpeechPipeline
from edge_agent.pipelines.speech.wer import word_error_rate

pytestmark = pytest.mark.usefixtures("synth_ok")

CHAIN: dict[str, Any] = {"after_wake_word": ("okay_nabu",), "listen_s": 4.0}


def _run(
    pipe: SpeechPipeline, pcm: np.ndarray, sensor: str, **options: Any
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    results, events = [], []
    for seq, at in enumerate(range(0, pcm.size, 1600)):
        c: RequestContext = ctx(sensor, {"stream": sensor, "seq": str(seq)}, **options)
        results += pipe.process(audio(pcm[at : at + 1600]), c)
        events += [(e.event_type, dict(e.data)) for e in c.outputs.events]
    return results, events


def test_the_command_after_the_wake_word_is_one_voice_command(tiny: SpeechPipeline) -> None:
    text = "turn off the kitchen lights"
    pcm = np.concatenate(
        [silence(0.5), speak("okay nabu"), silence(0.2), speak(text), silence(1.5)]
    )
    results, events = _run(tiny, pcm, "ch1", **CHAIN)
    assert [e[0] for e in events] == ["voice_command"]
    command = events[0][1]
    assert command["wake_word"] == "okay_nabu"
    assert command["end_reason"] == "silence"
    assert word_error_rate([(text, command["text"])]).errors == 0
    assert command["latency_ms"]["end_of_speech_to_transcript"] > 0
    (result,) = results
    assert result["wake_word"] == "okay_nabu"
    assert result["text"] == command["text"]
    assert tiny.forward_payload(result) == {"text": command["text"]}


def test_speech_without_the_wake_word_is_not_transcribed(tiny: SpeechPipeline) -> None:
    pcm = np.concatenate([silence(0.5), speak("turn off the kitchen lights"), silence(1.5)])
    assert _run(tiny, pcm, "ch2", **CHAIN) == ([], [])


def test_a_window_without_a_command_times_out_once(tiny: SpeechPipeline) -> None:
    pcm = np.concatenate([silence(0.5), speak("okay nabu"), silence(5.0)])
    results, events = _run(tiny, pcm, "ch3", **CHAIN)
    assert results == []
    assert [(t, e["end_reason"], e["text"]) for t, e in events] == [
        ("voice_command", "timeout", "")
    ]


def test_an_unknown_wake_word_is_a_model_error(tiny: SpeechPipeline) -> None:
    with pytest.raises(ModelError, match="hey_siri"):
        tiny.process(audio(silence(0.1)), ctx("ch4", after_wake_word=("hey_siri",)))
