"""What a pipeline publishes beside its per-message results.

Results stay on the result topic, one document per result, as the contract
says. Stateful summaries go beside them (DESIGN §7): **events**
(``<prefix>/<device>/events/<pipeline>/<sensor>``, schema ``edge-agent/event/1``:
an object entered, a voice command), **retained states** (``counts/<sensor>/<label>``:
a number that changes only when it changes) and **partials** (streamed pieces of
a result that takes long, such as generated text). A pipeline records them on
the message's :class:`SideOutputs`; the daemon publishes events and states after
the message's results, before the message is acknowledged, and partials at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["EVENT_ENVELOPE_KEYS", "Event", "RetainedState", "SideOutputs"]

EVENT_ENVELOPE_KEYS = frozenset(
    {"schema", "event_type", "request_id", "device", "pipeline", "route", "sensor", "time", "model"}
)
"""Keys the daemon sets on every event document; event data may not use them."""

# Retained states live in these namespaces under <prefix>/<device>/ only, so a
# pipeline can never overwrite status, results or another daemon's topics.
_STATE_NAMESPACES = frozenset({"counts"})
_LEVEL = re.compile(r"^[^/+#\x00]{1,128}$")


@dataclass(frozen=True, slots=True)
class Event:
    """One event document's content.

    Attributes:
        event_type: What happened (``new``, ``update``, ``end``, ``voice_command``).
        data: Its fields (flattened into the document beside the envelope keys).
    """

    event_type: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RetainedState:
    """A retained value under ``<prefix>/<device>/<path>``.

    Attributes:
        path: Topic levels below the device (``counts/door/person``).
        payload: The retained payload; empty clears it.
    """

    path: str
    payload: bytes


class SideOutputs:
    """Collects one message's events and retained states; forwards partials at once.

    Args:
        partial_sink: Called with each partial's data as it is produced (the
            worker sets it; None drops partials, as one-shot ``infer`` does).
    """

    __slots__ = ("_partial_seq", "events", "partial_sink", "states")

    def __init__(
        self, partial_sink: Callable[[int, Mapping[str, Any]], None] | None = None
    ) -> None:
        self.events: list[Event] = []
        self.states: list[RetainedState] = []
        self.partial_sink = partial_sink
        self._partial_seq = 0

    def event(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Record an event for ``<prefix>/<device>/events/<pipeline>/<sensor>``.

        Raises:
            ValueError: ``data`` uses an envelope key, or ``event_type`` is empty.
        """
        if not event_type:
            raise ValueError("event_type must not be empty")
        clash = EVENT_ENVELOPE_KEYS.intersection(data)
        if clash:
            raise ValueError(f"event data may not set envelope keys {sorted(clash)}")
        self.events.append(Event(event_type, dict(data)))

    def retain(self, path: str, value: str | float | None) -> None:
        """Record a retained state; ``None`` clears it (empty retained payload).

        Args:
            path: ``counts/<sensor>/<label>`` or ``counts/<sensor>/<zone>/<label>``.
            value: The value, published as plain text (what Home Assistant's and
                Frigate's count topics carry).

        Raises:
            ValueError: The path is outside the allowed namespaces or has a bad level.
        """
        levels = path.split("/")
        if levels[0] not in _STATE_NAMESPACES or len(levels) < 2:
            raise ValueError(f"retained states live under {sorted(_STATE_NAMESPACES)}")
        if not all(_LEVEL.match(level) for level in levels):
            raise ValueError("a state topic level is empty, too long or has a wildcard")
        payload = b"" if value is None else str(value).encode()
        self.states.append(RetainedState(path, payload))

    def partial(self, data: Mapping[str, Any]) -> None:
        """Publish a partial result now (numbered from 0 within the message)."""
        if self.partial_sink is not None:
            self.partial_sink(self._partial_seq, data)
        self._partial_seq += 1
