"""When a sensor's audio stream starts over: the rules every streaming family shares.

A sensor may send MQTT v5 user properties with each chunk: ``stream`` (an id of
the recording; a new id is a new stream) and ``seq`` (0, 1, 2, ... within it).
A stream's state starts over when its ``stream`` id changes, when ``seq`` is not
the previous one plus one (a chunk was lost or reordered: the audio is no longer
contiguous), or when no chunk came for ``idle_s`` seconds. Senders without
properties (MQTT 3.1.1) get only the idle rule.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["StreamMark", "StreamState", "StreamTable", "reset_reason", "stream_mark"]


class StreamState(Protocol):
    """What a family's per-stream state must offer the table."""

    stream_id: str | None
    last_seq: int | None
    last_seen: float

    def reset(self, stream_id: str | None) -> None:
        """Start over as the stream ``stream_id``."""

    def close(self) -> None:
        """Release what the state holds (interpreters)."""


S = TypeVar("S", bound=StreamState)


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


class StreamTable(Generic[S]):
    """The live stream states by (route, sensor), bounded in number and idle time.

    Args:
        max_streams: Most streams kept; the least recently used is dropped.
        idle_s: A stream idle this long starts over (and is dropped by :meth:`sweep`).
        clock: Monotonic clock.
    """

    def __init__(self, *, max_streams: int, idle_s: float, clock: Callable[[], float]) -> None:
        self.max_streams = max_streams
        self.idle_s = idle_s
        self._clock = clock
        self._streams: OrderedDict[tuple[str, str], S] = OrderedDict()
        self._last_sweep = 0.0

    def __len__(self) -> int:
        return len(self._streams)

    def __iter__(self) -> Iterator[tuple[tuple[str, str], S]]:
        return iter(list(self._streams.items()))

    def __getitem__(self, key: tuple[str, str]) -> S:
        return self._streams[key]

    def get(self, key: tuple[str, str]) -> S | None:
        """The stream of ``key`` if kept (no rules applied)."""
        return self._streams.get(key)

    def pop(self, key: tuple[str, str]) -> None:
        """Drop one stream."""
        stream = self._streams.pop(key, None)
        if stream is not None:
            stream.close()

    def clear(self) -> None:
        """Drop every stream."""
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()

    def sweep(self, now: float) -> int:
        """Drop streams idle past ``idle_s`` (at most once a second); how many went."""
        if now - self._last_sweep < 1.0:
            return 0
        self._last_sweep = now
        idle = [k for k, st in self._streams.items() if now - st.last_seen > self.idle_s]
        for key in idle:
            self.pop(key)
        return len(idle)

    def stream(
        self,
        key: tuple[str, str],
        mark: StreamMark,
        make: Callable[[str | None], S],
        before_reset: Callable[[S, str], None] | None = None,
    ) -> tuple[S, str | None]:
        """The stream for a new chunk, after the stream rules.

        Args:
            key: (route, sensor).
            mark: The chunk's ``stream``/``seq``.
            make: Builds a new stream for a stream id.
            before_reset: Called with the state and the reason before it starts over.

        Returns:
            The stream, and why it started over (None: it continues or is new).
        """
        now = self._clock()
        state = self._streams.get(key)
        why = None
        if state is None:
            state = make(mark.stream_id)
            self._streams[key] = state
            while len(self._streams) > self.max_streams:
                _, old = self._streams.popitem(last=False)
                old.close()
        else:
            self._streams.move_to_end(key)
            why = reset_reason(
                mark,
                stream_id=state.stream_id,
                last_seq=state.last_seq,
                last_seen=state.last_seen,
                now=now,
                idle_s=self.idle_s,
            )
            if why is not None:
                if before_reset is not None:
                    before_reset(state, why)
                state.reset(mark.stream_id)
        state.last_seen = now
        state.last_seq = mark.seq
        return state, why
