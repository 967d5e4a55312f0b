"""Routing: first matching route wins; the sensor id comes from the configured level."""

from __future__ import annotations

from edge_agent.config.models import RouteSettings
from edge_agent.transport.routing import Router


def _router() -> Router:
    return Router(
        {
            "cams": RouteSettings(topic="sensors/+/image", pipeline="faces"),
            "deep": RouteSettings(topic="home/+/+/text", pipeline="text", sensor_level=2),
            "all": RouteSettings(topic="#", pipeline="text"),
        },
        "edge-agent",
    )


def test_sensor_from_level_one() -> None:
    match = _router().match("sensors/door/image")
    assert match is not None
    assert (match.route, match.sensor) == ("cams", "door")


def test_sensor_from_configured_level() -> None:
    match = _router().match("home/kitchen/fridge/text")
    assert match is not None
    assert match.sensor == "fridge"


def test_first_route_wins() -> None:
    match = _router().match("sensors/door/image")
    assert match is not None
    assert match.route == "cams"


def test_own_topics_are_never_routed() -> None:
    assert _router().match("edge-agent/dev/results/faces/door") is None


def test_system_topics_are_never_routed() -> None:
    assert _router().match("$SYS/broker/uptime") is None


def test_unmatched_topic() -> None:
    router = Router({"cams": RouteSettings(topic="sensors/+/image", pipeline="faces")}, "ea")
    assert router.match("sensors/door/audio") is None
