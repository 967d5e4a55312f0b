"""What the speech pipeline publishes for a stream: the utterance's result, the voice command.

Clip results are :meth:`~edge_agent.pipelines.speech.decoder.Transcript.as_dict` as is.
A stream's result adds where the utterance sits in the stream (segment times move
to stream time) and how it ended; a chain route's ``voice_command`` event carries
the wake word, the text and the timings (README, "Speech: transcripts and voice
commands").
"""

from __future__ import annotations

import time
from typing import Any

from edge_agent.pipelines.speech.decoder import Transcript
from edge_agent.pipelines.speech.endpointer import Utterance
from edge_agent.pipelines.wakeword.stream import Detection

__all__ = ["stream_result", "voice_command"]


def stream_result(
    transcript: Transcript,
    utt: Utterance,
    stream_id: str | None,
    wake: Detection | None,
    latency: dict[str, float],
) -> dict[str, Any]:
    """The result of one utterance of a stream (segment times in stream time).

    Args:
        transcript: Its transcript.
        utt: The utterance.
        stream_id: The sensor's ``stream`` id, if it sends one.
        wake: The wake word it followed (chain routes).
        latency: ``end_of_speech_to_transcript`` and ``transcribe``, in ms.
    """
    result = transcript.as_dict()
    for seg in result["segments"]:
        seg["start_s"] = round(seg["start_s"] + utt.start_s, 2)
        seg["end_s"] = round(seg["end_s"] + utt.start_s, 2)
    result.update(
        start_s=round(utt.start_s, 3),
        end_s=round(utt.speech_end_s, 3),
        end_reason=utt.end_reason,
        latency_ms=latency,
    )
    if stream_id is not None:
        result["stream"] = stream_id
    if wake is not None:
        result["wake_word"] = wake.wake_word
    return result


def voice_command(
    wake: Detection,
    stream_id: str | None,
    heard: tuple[Utterance, Transcript] | None,
    transcribe_ms: float,
) -> dict[str, Any]:
    """The data of the one ``voice_command`` event a wake word gets.

    Args:
        wake: The detection that opened the listening window.
        stream_id: The sensor's ``stream`` id, if it sends one.
        heard: The command's utterance and transcript; None when the window timed out.
        transcribe_ms: How long the decoding took.
    """
    data: dict[str, Any] = {
        "wake_word": wake.wake_word,
        "phrase": wake.phrase,
        "wake_offset_s": round(wake.offset_s, 3),
        "text": heard[1].text if heard is not None else "",
        "end_reason": heard[0].end_reason if heard is not None else "timeout",
    }
    if heard is not None:
        utt, transcript = heard
        data["language"] = transcript.language
        data["start_s"] = round(utt.start_s, 3)
        data["end_s"] = round(utt.speech_end_s, 3)
        data["latency_ms"] = {
            "end_of_speech_to_transcript": round((time.monotonic() - utt.speech_end_at) * 1000, 1),
            "transcribe": transcribe_ms,
        }
    if stream_id is not None:
        data["stream"] = stream_id
    return data
