"""End to end through a real mosquitto: images in, results out, on the documented topics."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.broker import Broker
from support.client import TestClient
from support.daemon import DaemonProcess

FACE = Path(__file__).parents[1] / "fixtures" / "images" / "face.jpg"
RESULT = "edge-agent/testdev/results/faces/cam1"


def test_jpeg_from_paho_gets_a_result(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon()
    mqtt.publish("sensors/cam1/image", FACE.read_bytes(), content_type="image/jpeg")
    doc = mqtt.on_topic(RESULT)[0].json()
    assert doc["schema"] == "edge-agent/result/1"
    assert doc["result"]["count"] == 1
    assert doc["model"]["family"] == "faces"
    assert {"decode", "prepare", "infer", "interpret"} <= set(doc["timings_ms"])
    assert (doc["device"], doc["sensor"], doc["pipeline"]) == ("testdev", "cam1", "faces")


def test_jpeg_from_mosquitto_pub_file_gets_a_result(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    start_daemon()
    subprocess.run(
        [
            "mosquitto_pub",
            "-p",
            str(broker.port),
            "-h",
            "127.0.0.1",
            "-q",
            "1",
            "-t",
            "sensors/cam1/image",
            "-f",
            str(FACE),
        ],
        check=True,
        timeout=20,
    )
    doc = mqtt.on_topic(RESULT)[0].json()
    assert doc["result"]["count"] == 1


def test_result_boxes_are_normalised(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon()
    mqtt.publish("sensors/cam1/image", FACE.read_bytes())
    face = mqtt.on_topic(RESULT)[0].json()["result"]["faces"][0]
    x0, y0, x1, y1 = face["box"]
    assert 0 <= x0 < x1 <= 1
    assert 0 <= y0 < y1 <= 1


def test_v5_response_topic_gets_the_answer_with_correlation(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon()
    mqtt.subscribe("replies/me")
    mqtt.publish(
        "sensors/cam1/image",
        FACE.read_bytes(),
        content_type="image/jpeg",
        response_topic="replies/me",
        correlation_data=b"req-42",
    )
    reply = mqtt.on_topic("replies/me")[0]
    assert reply.correlation_data == b"req-42"
    assert reply.json()["request_id"] == "req-42"


def test_mqtt_311_client_is_answered(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    start_daemon()
    old = TestClient(broker.tcp_url, protocol="3.1.1")
    try:
        old.publish("sensors/cam1/image", FACE.read_bytes())
    finally:
        old.close()
    assert mqtt.on_topic(RESULT)[0].json()["result"]["count"] == 1


def test_daemon_speaking_311_works(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon(broker={"protocol": "3.1.1"})
    mqtt.publish("sensors/cam1/image", FACE.read_bytes())
    assert mqtt.on_topic(RESULT)[0].json()["result"]["count"] == 1


def test_daemon_over_tcp_loopback(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    start_daemon(url=broker.tcp_url)
    mqtt.publish("sensors/cam1/image", FACE.read_bytes())
    assert mqtt.on_topic(RESULT)[0].json()["result"]["count"] == 1


def test_stats_carry_counts_and_percentiles(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon()
    for _ in range(3):
        mqtt.publish("sensors/cam1/image", FACE.read_bytes())
    mqtt.on_topic(RESULT, count=3)
    stats = mqtt.wait_for(
        lambda m: (
            m.topic == "edge-agent/testdev/stats"
            and m.json()["pipelines"].get("faces", {}).get("processed", 0) >= 3
        )
    )[0].json()
    faces = stats["pipelines"]["faces"]
    assert faces["received"] >= 3
    assert set(faces["latency_ms"]["infer"]) >= {"p50", "p95", "p99"}
    assert stats["memory"]["vmrss"] > 0
    assert faces["variant"] is not None


@pytest.mark.parametrize("size", [1, 3])
def test_full_inbox_drops_oldest_and_reports_it(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, size: int
) -> None:
    start_daemon(
        pipelines={
            "faces": {"kind": "faces", "inbox_size": size},
            "text": {"kind": "text", "enabled": False},
            "wakeword": {"kind": "wakeword", "enabled": False},
        }
    )
    sent = 30
    for i in range(sent):
        mqtt.publish("sensors/cam1/image", FACE.read_bytes(), correlation_data=f"r{i}".encode())

    def accounted() -> int:
        drops = mqtt.matching(
            lambda m: m.topic == "edge-agent/testdev/errors" and m.json()["reason"] == "inbox_full"
        )
        return len(mqtt.matching(lambda m: m.topic == RESULT)) + sum(
            m.json()["count"] for m in drops
        )

    # Every message is either answered or counted in a drop report: none vanishes.
    deadline = time.monotonic() + 30
    while accounted() < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    answered = {m.json()["request_id"] for m in mqtt.matching(lambda m: m.topic == RESULT)}
    reports = [
        m.json()
        for m in mqtt.matching(
            lambda m: m.topic == "edge-agent/testdev/errors" and m.json()["reason"] == "inbox_full"
        )
    ]
    assert accounted() == sent
    assert len(answered) + sum(r["count"] for r in reports) == sent
    assert reports, "a burst of 30 into a tiny inbox must drop some"
    # Aggregated: far fewer reports than drops (one at once, then one per window).
    assert len(reports) < sent - len(answered) or sent - len(answered) <= 2
    assert not answered & {r["request_id"] for r in reports}
    assert "r29" in answered  # the newest is kept


def test_dropped_request_with_a_response_topic_gets_its_own_error_there(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon(
        pipelines={
            "faces": {"kind": "faces", "inbox_size": 1},
            "text": {"kind": "text", "enabled": False},
            "wakeword": {"kind": "wakeword", "enabled": False},
        }
    )
    mqtt.subscribe("replies/#")
    sent = 20
    for i in range(sent):
        mqtt.publish(
            "sensors/cam1/image",
            FACE.read_bytes(),
            correlation_data=f"q{i}".encode(),
            response_topic="replies/cam1",
        )
    # Each requester waiting on its response topic hears about its own request.
    replies = mqtt.wait_for(lambda m: m.topic == "replies/cam1", count=sent, timeout=30)
    ids = [m.json()["request_id"] for m in replies]
    assert sorted(ids) == sorted(f"q{i}" for i in range(sent))
    assert {m.correlation_data for m in replies} == {f"q{i}".encode() for i in range(sent)}
