"""Overlapping route filters: mosquitto sends a v5 client one copy per matching
subscription; the daemon answers each message once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.client import TestClient
from support.daemon import DaemonProcess

FACE = Path(__file__).parents[1] / "fixtures" / "images" / "face.jpg"
RESULTS = "edge-agent/testdev/results/faces/door"


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_message_matching_two_routes_is_answered_once(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, protocol: str
) -> None:
    start_daemon(
        broker={"protocol": protocol},
        routes={
            "images": {"topic": "sensors/+/image", "pipeline": "faces"},
            "door": {"topic": "sensors/door/#", "pipeline": "faces"},
        },
    )
    for i in range(3):
        mqtt.publish("sensors/door/image", FACE.read_bytes(), correlation_data=f"r{i}".encode())
    mqtt.on_topic(RESULTS, count=3)
    time.sleep(1.0)  # a second copy would be answered by now
    answers = [m.json() for m in mqtt.matching(lambda m: m.topic == RESULTS)]
    assert len(answers) == 3
    if protocol == "5":  # 3.1.1 has no correlation data: ids are the daemon's own
        assert sorted(a["request_id"] for a in answers) == ["r0", "r1", "r2"]
    assert {a["route"] for a in answers} == {"images"}  # the first route wins
