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


def test_a_topic_seen_again_gets_the_same_answer() -> None:
    router = _router()
    first = router.match("sensors/door/image")
    assert first is not None
    assert router.match("sensors/door/image") is first
    assert router.match("edge-agent/x/status") is None
    assert router.match("edge-agent/x/status") is None


def test_remembered_topics_stay_bounded() -> None:
    from edge_agent.transport import routing

    router = _router()
    for i in range(routing._REMEMBERED * 2 + 7):
        found = router.match(f"sensors/cam{i}/image")
        assert found is not None
        assert found.sensor == f"cam{i}"
    assert len(router._seen) <= routing._REMEMBERED
