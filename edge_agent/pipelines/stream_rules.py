"""When a sensor's audio stream starts over: the rules every streaming family shares.

A sensor may send MQTT v5 user properties with each chunk: ``stream`` (an id of
the recording; a new id is a new stream) and ``seq`` (0, 1, 2, ... within it).
A stream's state starts over when its ``stream`` id changes, when ``seq`` is not
the previous one plus one (a chunk was lost or reordered: the audio is no longer
contiguous), or when no chunk came for ``idle_s`` seconds. Senders without
properties (MQTT 3.1.1) get only the idle rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["StreamMark", "reset_reason", "stream_mark"]


@dataclass(frozen=True, slots=True)
class StreamMark:
    """What a chunk says about its place in a stream.

    Attributes:
        stream_id: The ``stream`` user property, if sent.
        seq: The ``seq`` user property as an integer, if sent and numeric.
    """

    stream_id: str | None
    seq: int | None


def stream_mark(user_properties: Mapping[str, str]) -> StreamMark:
    """Read ``stream`` and ``seq`` from a chunk's user properties."""
    seq_text = user_properties.get("seq")
    seq = int(seq_text) if seq_text is not None and seq_text.lstrip("-").isdigit() else None
    return StreamMark(user_properties.get("stream"), seq)


def reset_reason(
    mark: StreamMark,
    *,
    stream_id: str | None,
    last_seq: int | None,
    last_seen: float,
    now: float,
    idle_s: float,
) -> str | None:
    """Why a kept stream state must start over before this chunk (None: it continues).

    Args:
        mark: The new chunk's mark.
        stream_id: The state's stream id.
        last_seq: ``seq`` of the state's previous chunk.
        last_seen: Clock time of that chunk.
        now: Clock time now.
        idle_s: Idle time after which a stream starts over.

    Returns:
        ``stream_changed``, ``seq_gap``, ``idle`` or None.
    """
    if mark.stream_id != stream_id:
        return "stream_changed"
    if mark.seq is not None and last_seq is not None and mark.seq != last_seq + 1:
        return "seq_gap"
    if now - last_seen > idle_s:
        return "idle"
    return None
