"""Loading on demand, and what a route does while its family is held off for memory."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable

from support.client import TestClient
from support.daemon import DaemonProcess, toml_dump

TEXT = "edge-agent/testdev/results/text/hub"
ERRORS = "edge-agent/testdev/errors"
DETAILS = "edge-agent/testdev/status/details"
TEXT_ONLY = {
    "faces": {"kind": "faces", "enabled": False},
    "wakeword": {"kind": "wakeword", "enabled": False},
}


def _text_variant(mqtt: TestClient) -> str | None:
    docs = [m.json() for m in mqtt.messages if m.topic == DETAILS]
    return docs[-1]["pipelines"]["text"]["variant"] if docs else "?"


def _wait_variant(mqtt: TestClient, want: Callable[[str | None], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not want(_text_variant(mqtt)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert want(_text_variant(mqtt)), _text_variant(mqtt)


def test_on_demand_family_loads_on_its_first_message_and_unloads_when_idle(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon(
        pipelines={**TEXT_ONLY, "text": {"kind": "text", "load": "on_demand", "idle_unload_s": 2}},
        elastic={"check_interval_s": 0.3, "hold_s": 0.0},
    )
    time.sleep(1.0)
    assert _text_variant(mqtt) is None  # not loaded at start
    details = [m.json() for m in mqtt.messages if m.topic == DETAILS][-1]
    text = next(d for d in details["sizing"]["decisions"] if d["family"] == "text")
    assert text["reason"] == "on_demand"
    mqtt.publish("sensors/hub/text", b"the smoke alarm is beeping", correlation_data=b"first")
    first = mqtt.wait_for(lambda m: m.topic == TEXT, timeout=30)[0].json()
    assert first["request_id"] == "first"  # waited for the load, not lost
    assert first["model"]["variant"] is not None
    _wait_variant(mqtt, lambda v: v is None, 20)  # idle for 2 s: unloaded again
    mqtt.publish("sensors/hub/text", b"water on the floor", correlation_data=b"second")
    mqtt.wait_for(lambda m: m.topic == TEXT and m.json()["request_id"] == "second", timeout=30)
    assert not mqtt.matching(lambda m: m.topic == ERRORS)


def test_a_family_held_off_for_memory_is_refused_with_a_retry_hint(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    # A reserve larger than the machine: nothing fits, every family is held off.
    start_daemon(
        pipelines={**TEXT_ONLY, "text": {"kind": "text"}},
        elastic={"reserve_bytes": "100TiB", "hold_s": 7.0, "check_interval_s": 0.3},
    )
    t0 = time.monotonic()
    mqtt.publish("sensors/hub/text", b"is anyone there", correlation_data=b"held")
    error = mqtt.wait_for(lambda m: m.topic == ERRORS, timeout=30)[0].json()
    assert time.monotonic() - t0 < 3  # at once, not after a load timeout
    assert error["reason"] == "model_unavailable"
    assert error["retry_after_s"] == 7.0
    assert "lack of memory" in error["detail"]


def test_a_waiting_route_keeps_the_message_until_memory_returns(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    daemon = start_daemon(
        pipelines={**TEXT_ONLY, "text": {"kind": "text"}},
        routes={
            "texts": {
                "topic": "sensors/+/text",
                "pipeline": "text",
                "when_unloaded": "wait",
                "wait_s": 60,
                "options": {"labels": {"a": ["alpha"], "b": ["beta"]}},
            }
        },
        elastic={"reserve_bytes": "100TiB", "hold_s": 0.0, "check_interval_s": 0.3},
    )
    mqtt.publish("sensors/hub/text", b"alpha please", correlation_data=b"patient")
    time.sleep(2.0)
    assert not mqtt.matching(lambda m: m.topic in (TEXT, ERRORS))  # still waiting
    # Memory comes back: the reserve returns to normal through the control API.
    config = tomllib.loads(daemon.config.read_text())
    config["elastic"]["reserve_bytes"] = "64MiB"
    daemon.config.write_text(toml_dump(config))
    mqtt.publish("edge-agent/testdev/request/reload", json.dumps({"transaction": "r"}).encode())
    answer = mqtt.wait_for(lambda m: m.topic == TEXT, timeout=60)[0].json()
    assert answer["request_id"] == "patient"
    assert answer["result"]["label"] == "a"
    assert not mqtt.matching(lambda m: m.topic == ERRORS)


def test_a_waiting_route_answers_model_unavailable_after_wait_s(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon(
        pipelines={**TEXT_ONLY, "text": {"kind": "text"}},
        routes={
            "texts": {
                "topic": "sensors/+/text",
                "pipeline": "text",
                "when_unloaded": "wait",
                "wait_s": 2,
                "options": {"labels": {"a": ["alpha"]}},
            }
        },
        elastic={"reserve_bytes": "100TiB", "check_interval_s": 0.3},
    )
    t0 = time.monotonic()
    mqtt.publish("sensors/hub/text", b"alpha", correlation_data=b"late")
    error = mqtt.wait_for(lambda m: m.topic == ERRORS, timeout=30)[0].json()
    assert 1.8 <= time.monotonic() - t0 < 10
    assert error["reason"] == "model_unavailable"
