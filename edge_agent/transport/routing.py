"""Map incoming topics to routes, and take the sensor id from the topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from paho.mqtt.client import topic_matches_sub

from edge_agent.config.models import RouteSettings

__all__ = ["Match", "Router"]

_REMEMBERED = 4096


@dataclass(frozen=True, slots=True)
class Match:
    """A topic matched to a route.

    Attributes:
        route: Route name.
        settings: The route's settings.
        sensor: Sensor id from the topic.
    """

    route: str
    settings: RouteSettings
    sensor: str


class Router:
    """First matching route wins, in config order.

    Topics under our own ``<prefix>/`` are never routed, so a broad filter like
    ``#`` cannot feed our results back to us.

    Args:
        routes: Enabled routes by name, in priority order.
        own_prefix: Our topic prefix.
    """

    def __init__(self, routes: Mapping[str, RouteSettings], own_prefix: str) -> None:
        self._routes = list(routes.items())
        self._own = own_prefix.rstrip("/") + "/"
        self._seen: dict[str, Match | None] = {}

    def match(self, topic: str) -> Match | None:
        """Return the route for ``topic``, or None if no route takes it."""
        # A sensor sends on the same topic again and again (an audio stream 50 times a
        # second), and paho's matcher builds a trie per call: remember recent topics.
        try:
            return self._seen[topic]
        except KeyError:
            pass
        found = self._match(topic)
        if len(self._seen) >= _REMEMBERED:
            self._seen.clear()  # topics are the senders' choice: stay bounded
        self._seen[topic] = found
        return found

    def _match(self, topic: str) -> Match | None:
        if topic.startswith((self._own, "$")):
            return None
        for name, route in self._routes:
            if route.topic is not None and topic_matches_sub(route.topic, topic):
                levels = topic.split("/")
                sensor = levels[route.sensor_level] if route.sensor_level < len(levels) else ""
                return Match(name, route, sensor or "unknown")
        return None

    def forwarded(self, route_name: str, sensor: str) -> Match:
        """The match of a message forwarded along a chain to ``route_name`` for ``sensor``."""
        return Match(route_name, dict(self._routes)[route_name], sensor)
