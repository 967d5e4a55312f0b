"""The objects pipeline end to end: real mosquitto, real daemon, real model and JPEGs.

A JPEG on the route's topic gives the per-frame result, ``new`` events on the
events topic and retained counts (a client subscribing later gets them with the
retain flag); the same frame again adds no event and republishes no count; bad
input gets a reason-coded error and the next frame is still answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from support.client import TestClient
from support.daemon import DaemonProcess

FIXTURES = Path(__file__).parents[2] / "fixtures" / "objects"
RESULT = "edge-agent/testdev/results/objects/door"
EVENTS = "edge-agent/testdev/events/objects/door"
COUNTS = "edge-agent/testdev/counts/door"
ERRORS = "edge-agent/testdev/errors"
LEFT = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]


def _start(start_daemon: Callable[..., DaemonProcess]) -> DaemonProcess:
    return start_daemon(
        pipelines={
            "faces": {"kind": "faces", "enabled": False},
            "objects": {"kind": "objects", "options": {"classes": ["person", "cat"]}},
        },
        elastic={"pinned": {"objects": "int8-416"}, "mode": "pinned"},
        routes={
            "snapshots": {
                "topic": "sensors/+/snapshot",
                "pipeline": "objects",
                "options": {"zones": {"porch": LEFT}},
            }
        },
    )


def test_a_jpeg_gives_a_result_new_events_and_retained_counts(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: object
) -> None:
    _start(start_daemon)
    frame = (FIXTURES / "person_cat_row.jpg").read_bytes()
    mqtt.publish("sensors/door/snapshot", frame, content_type="image/jpeg", correlation_data=b"f1")
    doc = mqtt.on_topic(RESULT)[0].json()
    assert doc["request_id"] == "f1"
    assert doc["model"]["variant"] == "int8-416"
    assert doc["result"]["counts"] == {"person": 1, "cat": 1}
    events = [m.json() for m in mqtt.on_topic(EVENTS, count=2)]
    assert {(e["schema"], e["event_type"], e["label"]) for e in events} == {
        ("edge-agent/event/1", "new", "person"),
        ("edge-agent/event/1", "new", "cat"),
    }
    person = next(e for e in events if e["label"] == "person")
    assert person["zones"] == ["porch"]
    assert person["entered_zones"] == ["porch"]
    assert (person["request_id"], person["sensor"], person["route"]) == ("f1", "door", "snapshots")
    ids = {o["label"]: o["id"] for o in doc["result"]["objects"]}
    assert {e["label"]: e["id"] for e in events} == ids
    mqtt.wait_for(lambda m: m.topic.startswith(COUNTS), count=3)  # all published live first

    late = TestClient(broker.tcp_url)  # type: ignore[attr-defined]
    try:
        late.subscribe(f"{COUNTS}/#")
        retained = {m.topic: m for m in late.wait_for(lambda m: True, count=3)}
    finally:
        late.close()
    assert {t: (m.payload, m.retain) for t, m in retained.items()} == {
        f"{COUNTS}/person": (b"1", True),
        f"{COUNTS}/cat": (b"1", True),
        f"{COUNTS}/porch/person": (b"1", True),
    }

    mqtt.publish("sensors/door/snapshot", frame, content_type="image/jpeg", correlation_data=b"f2")
    mqtt.wait_for(lambda m: m.topic == RESULT and m.json()["request_id"] == "f2")
    time.sleep(1.0)  # events and counts of f2 would have followed its result by now
    assert len(mqtt.matching(lambda m: m.topic == EVENTS)) == 2
    assert len(mqtt.matching(lambda m: m.topic.startswith(COUNTS))) == 3


def test_bad_input_is_reported_and_the_next_frame_answered(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    daemon = _start(start_daemon)
    good = (FIXTURES / "horse.jpg").read_bytes()
    mqtt.publish(
        "sensors/door/snapshot", good[:300], content_type="image/jpeg", correlation_data=b"bad"
    )
    mqtt.publish("sensors/door/snapshot", b"not an image at all", correlation_data=b"junk")
    mqtt.publish("sensors/door/snapshot", good, content_type="image/jpeg", correlation_data=b"good")
    errors = [m.json() for m in mqtt.on_topic(ERRORS, count=2)]
    assert [(e["request_id"], e["reason"]) for e in errors] == [
        ("bad", "malformed_image"),
        ("junk", "unknown_format"),
    ]
    doc = mqtt.wait_for(lambda m: m.topic == RESULT)[0].json()
    assert doc["request_id"] == "good"
    assert doc["result"]["count"] == 0  # a horse, but the pipeline reports persons and cats
    assert '"reason":"malformed_image"' in daemon.log().replace(": ", ":")
