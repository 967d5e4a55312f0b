"""Endpointing: start, end after silence, the maximum, chunking, restart; fake and real VAD."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.speech import silence, speak

from edge_agent.pipelines.speech.endpointer import Endpointer, Utterance
from edge_agent.pipelines.wakeword.vad import VoiceDetector

RATE = 16000


class LoudIsSpeech:
    """A hop classifier at the seam: loud hops are speech, quiet ones silence."""

    def probability(self, hop: bytes) -> float | None:
        samples = np.frombuffer(hop, dtype="<i2").astype(np.float64)
        return 0.9 if np.sqrt(np.mean(samples**2)) > 1000 else None

    def reset(self) -> None:
        pass


def _tone(seconds: float) -> npt.NDArray[np.int16]:
    t = np.arange(round(seconds * RATE)) / RATE
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def _endpointer(voice: Any = None, **kw: Any) -> Endpointer:
    args: dict[str, Any] = {
        "threshold": 0.5,
        "start_hops": 5,
        "end_hops": 30,
        "max_samples": 4 * RATE,
        "preroll_hops": 10,
        "clock": lambda: 0.0,
    }
    args.update(kw)
    return Endpointer(voice or LoudIsSpeech(), **args)


def _feed(ep: Endpointer, pcm: npt.NDArray[np.int16], sizes: list[int]) -> list[Utterance]:
    data = pcm.astype("<i2").tobytes()
    out, at, i = [], 0, 0
    while at < len(data):
        n = 2 * sizes[i % len(sizes)]
        out += ep.feed(data[at : at + n])
        at, i = at + n, i + 1
    return out


def test_one_burst_is_one_utterance_with_preroll_and_silence() -> None:
    pcm = np.concatenate([silence(1.0), _tone(1.0), silence(1.0)])
    (utt,) = _feed(_endpointer(), pcm, [1600])
    assert utt.end_reason == "silence"
    assert utt.start_s == pytest.approx(1.0 - 0.1)  # 10 hops of pre-roll
    assert utt.speech_end_s == pytest.approx(2.0)
    assert utt.duration_s == pytest.approx(0.1 + 1.0 + 0.3)  # pre-roll, speech, end silence


def test_a_pause_shorter_than_the_end_silence_does_not_split() -> None:
    pcm = np.concatenate([_tone(0.5), silence(0.2), _tone(0.5), silence(1.0)])
    assert len(_feed(_endpointer(), pcm, [777])) == 1


def test_a_longer_pause_splits_in_two() -> None:
    pcm = np.concatenate([_tone(0.5), silence(0.5), _tone(0.5), silence(1.0)])
    first, second = _feed(_endpointer(), pcm, [777])
    assert second.start_s > first.speech_end_s


def test_a_click_shorter_than_the_start_is_no_utterance() -> None:
    pcm = np.concatenate([silence(0.5), _tone(0.03), silence(1.0)])
    assert _feed(_endpointer(), pcm, [320]) == []


def test_speech_that_never_ends_is_cut_at_the_maximum_and_goes_on() -> None:
    ep = _endpointer(max_samples=2 * RATE)
    cuts = _feed(ep, _tone(5.0), [2000])
    assert [u.end_reason for u in cuts] == ["max_length", "max_length"]
    assert all(u.duration_s == pytest.approx(2.0) for u in cuts)
    assert ep.in_utterance  # the rest goes on as the next utterance
    assert ep.buffered_samples <= 2 * RATE
    rest = ep.flush()
    assert rest is not None
    assert rest.end_reason == "stream_end"
    assert rest.duration_s == pytest.approx(1.0, abs=0.01)


def test_restart_drops_what_was_heard_but_keeps_speech_going() -> None:
    ep = _endpointer()
    _feed(ep, _tone(0.6), [1000])
    ep.restart()
    assert ep.in_utterance
    assert ep.buffered_samples == 0
    (utt,) = _feed(ep, np.concatenate([_tone(0.4), silence(0.5)]), [1000])
    assert utt.start_s == pytest.approx(0.6)
    assert utt.duration_s == pytest.approx(0.7)


def test_restart_while_idle_forgets_the_preroll() -> None:
    ep = _endpointer()
    _feed(ep, silence(0.5), [800])
    ep.restart()
    (utt,) = _feed(ep, np.concatenate([_tone(0.3), silence(0.5)]), [800])
    assert utt.start_s == pytest.approx(0.5)  # nothing before the restart


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=12),
    gaps=st.lists(st.floats(min_value=0.05, max_value=0.8), min_size=1, max_size=4),
)
def test_chunking_never_changes_the_utterances(sizes: list[int], gaps: list[float]) -> None:
    parts = [silence(0.3)]
    for gap in gaps:
        parts += [_tone(0.4), silence(gap)]
    pcm = np.concatenate([*parts, silence(0.5)])
    whole = _feed(_endpointer(), pcm, [pcm.size])
    chunked = _feed(_endpointer(), pcm, sizes)
    assert [(u.start_s, u.speech_end_s, u.end_reason) for u in chunked] == [
        (u.start_s, u.speech_end_s, u.end_reason) for u in whole
    ]
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a.pcm, b.pcm)


@pytest.mark.usefixtures("synth_ok")
def test_real_vad_finds_a_spoken_sentence() -> None:
    from pymicro_vad import MicroVad

    speech = speak("turn off the kitchen lights", lead_s=0.0, tail_s=0.0)
    pcm = np.concatenate([silence(1.0), speech, silence(1.5)])
    ep = _endpointer(VoiceDetector(MicroVad, energy_floor_dbfs=-60.0, prime=True), end_hops=50)
    (utt,) = _feed(ep, pcm, [480])
    speech_s = speech.size / RATE
    assert utt.start_s <= 1.0 + 0.05  # the start (pre-roll covers the VAD's lag)
    assert 1.0 + speech_s - 0.2 <= utt.speech_end_s <= 1.0 + speech_s + 0.8  # VAD hangs on
