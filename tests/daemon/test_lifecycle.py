"""Lifecycle: SIGTERM, crashes, broker restarts and persistent sessions."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from support.broker import Broker
from support.client import TestClient
from support.daemon import DaemonProcess

FACE = Path(__file__).parents[1] / "fixtures" / "images" / "face.jpg"
RESULT = "edge-agent/testdev/results/faces/cam1"
STATUS = "edge-agent/testdev/status"


def _retained_status(broker: Broker) -> bytes:
    fresh = TestClient(broker.tcp_url)
    try:
        fresh.subscribe(STATUS)
        return fresh.on_topic(STATUS, timeout=10)[-1].payload
    finally:
        fresh.close()


def test_sigterm_exits_zero_and_leaves_offline(
    start_daemon: Callable[..., DaemonProcess], broker: Broker
) -> None:
    daemon = start_daemon()
    assert daemon.terminate() == 0
    assert _retained_status(broker) == b"offline"


def test_crash_leaves_offline_through_the_will(
    start_daemon: Callable[..., DaemonProcess], broker: Broker
) -> None:
    daemon = start_daemon(broker={"keepalive_s": 5})
    daemon.kill()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _retained_status(broker) != b"offline":
        time.sleep(0.5)
    assert _retained_status(broker) == b"offline"


def test_sigterm_answers_or_hands_back_every_message(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    """What reached the inbox is answered before exit; the rest stays with the broker."""
    daemon = start_daemon()
    for i in range(5):
        mqtt.publish("sensors/cam1/image", FACE.read_bytes(), correlation_data=f"d{i}".encode())
    assert daemon.terminate() == 0
    before = len(mqtt.matching(lambda m: m.topic == RESULT))
    start_daemon()
    results = mqtt.on_topic(RESULT, count=5, timeout=40)
    time.sleep(1.0)
    ids = [m.json()["request_id"] for m in mqtt.matching(lambda m: m.topic == RESULT)]
    assert sorted(ids) == [f"d{i}" for i in range(5)], f"{before} answered before exit"
    assert len(results) == 5


def test_broker_restart_reconnects_and_answers_queued_messages_once(
    start_daemon: Callable[..., DaemonProcess], broker: Broker, mqtt: TestClient
) -> None:
    start_daemon(broker={"reconnect_min_s": 2.0, "reconnect_max_s": 3.0})
    mqtt.publish("sensors/cam1/image", FACE.read_bytes(), correlation_data=b"before")
    mqtt.on_topic(RESULT)
    broker.restart()
    sender = TestClient(broker.tcp_url)
    watcher = TestClient(broker.tcp_url)
    try:
        watcher.subscribe(RESULT)
        # The daemon waits >= 2 s before reconnecting: these arrive while it is away.
        for i in range(8):
            sender.publish(
                "sensors/cam1/image", FACE.read_bytes(), correlation_data=f"q{i}".encode()
            )
        answers = watcher.on_topic(RESULT, count=8, timeout=40)
        time.sleep(2)  # anything answered twice would show up by now
        ids = [m.json()["request_id"] for m in watcher.matching(lambda m: m.topic == RESULT)]
    finally:
        sender.close()
        watcher.close()
    assert len(answers) >= 8
    assert sorted(ids) == sorted(f"q{i}" for i in range(8))


def test_messages_sent_while_daemon_is_down_are_answered_after_restart(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    daemon = start_daemon()
    assert daemon.terminate() == 0
    for i in range(4):
        mqtt.publish("sensors/cam1/image", FACE.read_bytes(), correlation_data=f"p{i}".encode())
    start_daemon()
    ids = sorted(m.json()["request_id"] for m in mqtt.on_topic(RESULT, count=4, timeout=40))
    assert ids == [f"p{i}" for i in range(4)]


def test_remote_broker_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('device_id = "x"\n[broker]\nurl = "mqtt://192.0.2.10:1883"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "run", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "allow_remote_broker" in proc.stderr
    assert "192.0.2.10" in proc.stderr
