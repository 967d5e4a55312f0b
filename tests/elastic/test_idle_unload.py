"""An idle family is unloaded after idle_unload_s and loaded again by its next message."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from support.client import TestClient
from support.daemon import DaemonProcess

FACE = Path(__file__).parents[1] / "fixtures" / "images" / "face.jpg"
RESULT = "edge-agent/testdev/results/faces/cam1"
DETAILS = "edge-agent/testdev/status/details"


def _variant(mqtt: TestClient) -> str | None:
    docs = [m.json() for m in mqtt.messages if m.topic == DETAILS]
    return docs[-1]["pipelines"]["faces"]["variant"] if docs else "?"


def test_idle_family_unloads_and_reloads_on_demand(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon(elastic={"check_interval_s": 0.3, "idle_unload_s": 1.5, "hold_s": 0.0})
    mqtt.publish("sensors/cam1/image", FACE.read_bytes(), correlation_data=b"first")
    mqtt.on_topic(RESULT)
    deadline = time.monotonic() + 20
    while _variant(mqtt) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _variant(mqtt) is None, "the idle family was not unloaded"
    mqtt.publish("sensors/cam1/image", FACE.read_bytes(), correlation_data=b"again")
    answers = mqtt.wait_for(
        lambda m: m.topic == RESULT and m.json()["request_id"] == "again", timeout=30
    )
    assert answers[0].json()["result"]["count"] == 1
    assert answers[0].json()["model"]["variant"] is not None
