"""`edge-agent status` and `edge-agent tail` against a real daemon through mosquitto."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from support.broker import Broker
from support.client import TestClient
from support.daemon import DaemonProcess

from edge_agent.config.models import AgentSettings
from edge_agent.console.status import format_status
from edge_agent.console.tail import tail

IMAGE = Path(__file__).resolve().parents[2] / "tests/fixtures/images/face.jpg"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_for_a_person_and_for_machines(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    start_daemon(stats={"interval_s": 60.0})  # stats come from request/stats, not the timer
    mqtt.publish("sensors/door/image", IMAGE.read_bytes(), content_type="image/jpeg")
    mqtt.on_topic("edge-agent/testdev/results/faces/door")
    args = ["--device", "testdev", "--broker", broker.unix_url]
    human = _cli("status", *args)
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith("edge-agent testdev: online, version ")
    assert "sizing: quality-first, budget" in human.stdout
    row = next(line for line in human.stdout.splitlines() if line.startswith("faces "))
    assert row.split()[:6] == ["faces", "faces", "full-float", "1", "1", "0"]
    machine = _cli("status", "--json", *args)
    doc = json.loads(machine.stdout)
    assert doc["status"] == "online"
    assert doc["details"]["pipelines"]["faces"]["variant"] == "full-float"
    assert doc["stats"]["pipelines"]["faces"]["processed"] == 1


def test_status_of_a_device_that_never_ran(broker: Broker) -> None:
    done = _cli("status", "--device", "ghost", "--broker", broker.unix_url, "--wait", "1")
    assert done.returncode == 1
    assert "ghost: unknown" in done.stdout


def test_format_status_lists_errors_by_reason() -> None:
    text = format_status(
        "pi",
        {
            "status": "online",
            "details": {"pipelines": {"text": {"family": "text", "variant": "s"}}},
            "stats": {
                "uptime_s": 3725,
                "pipelines": {
                    "text": {"received": 5, "errors": {"too_large": 2, "invalid_utf8": 1}}
                },
            },
        },
    )
    assert "up 1h 02m" in text
    assert "errors text: invalid_utf8 1, too_large 2" in text


def test_tail_follows_results_and_errors(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    start_daemon()
    settings = AgentSettings(device_id="testdev", broker={"url": broker.unix_url})
    out, ready, lines = io.StringIO(), threading.Event(), []
    worker = threading.Thread(
        target=lambda: lines.append(tail(settings, out, pipeline="faces", count=2, ready=ready))
    )
    worker.start()
    assert ready.wait(10)
    mqtt.publish("sensors/door/image", IMAGE.read_bytes(), content_type="image/jpeg")
    mqtt.publish("sensors/door/image", b"GIF89a not really", content_type="image/gif")
    worker.join(30)
    assert lines == [2]
    first, second = out.getvalue().splitlines()
    assert "result  faces     door: 1 face(s)" in first
    assert "error   unsupported_format (images door" in second
