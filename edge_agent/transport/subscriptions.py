"""The daemon's subscriptions, and which copy of a message to keep when they overlap.

An MQTT v5 broker sends a message once per matching subscription (mosquitto does:
``sensors/+/image`` and ``sensors/door/image`` both match ``sensors/door/image``, and
the daemon would get — and answer — it twice). Each filter is therefore subscribed
with its own subscription identifier, and of the copies of one message only the one
delivered for the *first* matching filter (in subscription order) is kept. A broker
that sends one copy listing several identifiers is handled the same way. MQTT 3.1.1
has no identifiers; mosquitto sends a single copy there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paho.mqtt.client import topic_matches_sub

__all__ = ["Subscription", "SubscriptionSet"]

_REMEMBERED = 4096


@dataclass(frozen=True, slots=True)
class Subscription:
    """One filter as subscribed: identifier, QoS and retain handling (v5)."""

    filter: str
    qos: int
    retain_handling: int
    identifier: int


class SubscriptionSet:
    """Distinct filters in the order given, each with an identifier from 1.

    A filter given twice is subscribed once (with the first one's QoS and retain
    handling: the route that wins routing is also the first one given).

    Args:
        subscriptions: ``(filter, qos)`` or ``(filter, qos, retain_handling)``.
    """

    def __init__(self, subscriptions: Sequence[tuple[str, int] | tuple[str, int, int]]) -> None:
        seen: dict[str, Subscription] = {}
        for sub in subscriptions:
            topic, qos = sub[0], sub[1]
            if topic not in seen:
                rh = sub[2] if len(sub) > 2 else 0
                seen[topic] = Subscription(topic, qos, rh, len(seen) + 1)
        self.items: tuple[Subscription, ...] = tuple(seen.values())
        self._by_id = {s.identifier: s for s in self.items}
        self._owners: dict[str, Subscription | None] = {}
        self.copies_dropped = 0
        """Copies of a message delivered for a later overlapping subscription."""

    def owner(self, topic: str) -> Subscription | None:
        """The first subscription whose filter matches ``topic``."""
        try:
            return self._owners[topic]
        except KeyError:
            pass
        found = next((s for s in self.items if topic_matches_sub(s.filter, topic)), None)
        if len(self._owners) >= _REMEMBERED:
            self._owners.clear()  # topics are the senders' choice: stay bounded
        self._owners[topic] = found
        return found

    def is_extra_copy(self, topic: str, identifiers: Sequence[int]) -> bool:
        """True for a copy delivered only for subscriptions other than the topic's owner.

        Without identifiers (MQTT 3.1.1, or a broker that sends none) every copy is kept.
        """
        if not identifiers:
            return False
        owner = self.owner(topic)
        if owner is None or owner.identifier in identifiers:
            return False
        if not any(i in self._by_id for i in identifiers):
            return False  # identifiers of an earlier session's subscriptions: keep it
        self.copies_dropped += 1
        return True
