"""Every control verb through a real mosquitto against the real daemon, with and without a
v5 response topic, and requests that must be refused without hurting the daemon."""

from __future__ import annotations

import json
import tomllib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.broker import Broker
from support.client import Received, TestClient
from support.daemon import DaemonProcess, toml_dump

BASE = "edge-agent/testdev"


@pytest.fixture
def daemon(start_daemon: Callable[..., DaemonProcess]) -> DaemonProcess:
    # hold_s 0: a step up after unpin happens at the next check, not a minute later.
    return start_daemon(
        limits={"text": {"max_bytes": 2048, "max_json_depth": 4}}, elastic={"hold_s": 0.0}
    )


@pytest.fixture
def replies(broker: Broker) -> Iterator[TestClient]:
    client = TestClient(broker.tcp_url)
    client.subscribe("replies/#")
    yield client
    client.close()


def ask(
    mqtt: TestClient, verb: str, body: dict[str, Any] | None = None, *, raw: bytes | None = None
) -> dict[str, Any]:
    transaction = uuid.uuid4().hex
    payload = (
        raw
        if raw is not None
        else json.dumps({**(body or {}), "transaction": transaction}).encode()
    )
    mqtt.publish(f"{BASE}/request/{verb}", payload)

    def mine(m: Received) -> bool:
        if m.topic != f"{BASE}/response/{verb}":
            return False
        return raw is not None or m.json().get("transaction") == transaction

    got = mqtt.wait_for(mine, timeout=60)[-1].json()
    if raw is None:
        assert got["transaction"] == transaction
    return got


def ok(mqtt: TestClient, verb: str, body: dict[str, Any] | None = None) -> Any:
    doc = ask(mqtt, verb, body)
    assert doc["status"] == "ok", doc
    assert doc["schema"] == "edge-agent/response/1"
    return doc["data"]


def test_health(daemon: DaemonProcess, mqtt: TestClient) -> None:
    data = ok(mqtt, "health")
    assert data["healthy"] is True
    assert data["broker_connected"] is True
    assert data["device"] == "testdev"
    assert data["pipelines"]["faces"]["variant"] == "full-float"


def test_models(daemon: DaemonProcess, mqtt: TestClient) -> None:
    data = ok(mqtt, "models")
    (faces,) = data["families"]
    assert faces["family"] == "faces"
    assert faces["active"] == "full-float"
    ids = {v["id"]: v for v in faces["variants"]}
    assert set(ids) == {"full-float", "full-int8", "short-float", "short-int8"}
    assert all(v["available"] and v["need_bytes"] > 0 for v in ids.values())
    assert ids["full-float"]["active"] is True


def test_plan_matches_the_cli_shape(daemon: DaemonProcess, mqtt: TestClient) -> None:
    data = ok(mqtt, "plan", {"budget": "30MB"})
    assert data["mode"] == "quality-first"
    assert data["budget_source"] == "budget 30MB"
    (faces,) = data["families"]
    assert faces["variant"] == "full-float"
    assert faces["variants"][0]["id"] == "full-float"
    assert {v["status"] for v in faces["variants"]} <= {"fits", "short", "not_allowed"}
    tiny = ok(mqtt, "plan", {"budget": "1MB"})
    assert tiny["families"][0]["variant"] is None
    assert "MemAvailable" in ok(mqtt, "plan")["budget_source"]


def test_stats_on_demand(daemon: DaemonProcess, mqtt: TestClient) -> None:
    data = ok(mqtt, "stats")
    assert data["schema"] == "edge-agent/stats/1"
    assert data["pipelines"]["faces"]["variant"] == "full-float"


def test_pin_mode_unpin_switch_the_running_variant(daemon: DaemonProcess, mqtt: TestClient) -> None:
    pinned = ok(mqtt, "pin", {"family": "faces", "variant": "short-int8"})
    assert pinned["pinned"] == {"faces": "short-int8"}
    assert pinned["running"]["faces"] == "short-int8"
    assert pinned["decisions"][0]["to"] == "short-int8"
    details = mqtt.wait_for(
        lambda m: (
            m.topic == f"{BASE}/status/details"
            and m.json()["pipelines"]["faces"]["variant"] == "short-int8"
        )
    )
    assert details
    fast = ok(mqtt, "mode", {"mode": "performance-first"})
    assert fast["mode"] == "performance-first"
    assert fast["running"]["faces"] == "short-int8"  # still pinned
    free = ok(mqtt, "unpin", {"family": "faces"})
    assert free["pinned"] == {}
    assert free["running"]["faces"] == "short-float"  # the fastest, under performance-first
    assert ok(mqtt, "health")["pipelines"]["faces"]["variant"] == "short-float"


def test_reload_applies_sizing_and_names_what_needs_a_restart(
    daemon: DaemonProcess, mqtt: TestClient
) -> None:
    config = tomllib.loads(daemon.config.read_text())
    config.setdefault("elastic", {})["mode"] = "performance-first"
    config["broker"]["keepalive_s"] = 45
    daemon.config.write_text(toml_dump(config))
    data = ok(mqtt, "reload")
    assert data["applied"] == ["elastic.mode"]
    assert data["restart_required"] == ["broker.keepalive_s"]
    assert ok(mqtt, "models")["mode"] == "performance-first"
    daemon.config.write_text("this is = not [ toml")
    broken = ask(mqtt, "reload")
    assert broken["status"] == "error"
    assert broken["reason"] == "bad_request"
    assert ok(mqtt, "models")["mode"] == "performance-first"  # nothing applied


def test_v5_response_topic_and_correlation_data_are_honoured(
    daemon: DaemonProcess, mqtt: TestClient, replies: TestClient
) -> None:
    for verb in ("health", "models", "stats", "nonsense"):
        corr = f"c-{verb}".encode()
        mqtt.publish(
            f"{BASE}/request/{verb}",
            json.dumps({"transaction": 7}).encode(),
            response_topic=f"replies/{verb}",
            correlation_data=corr,
        )
        got = replies.on_topic(f"replies/{verb}")[-1]
        assert got.correlation_data == corr
        assert got.json()["transaction"] == 7
        assert got.json()["status"] == ("error" if verb == "nonsense" else "ok")
        plain = mqtt.on_topic(f"{BASE}/response/{verb}")[-1]
        assert plain.json() == got.json()


def test_mqtt_311_clients_get_answers_on_the_response_topic(
    daemon: DaemonProcess, broker: Broker
) -> None:
    old = TestClient(broker.tcp_url, protocol="3.1.1")
    try:
        old.subscribe(f"{BASE}/response/#")
        old.publish(f"{BASE}/request/health", b'{"transaction": "v311"}')
        got = old.on_topic(f"{BASE}/response/health")[-1].json()
    finally:
        old.close()
    assert (got["status"], got["transaction"]) == ("ok", "v311")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"[1, 2]", "bad_envelope"),
        (b'{"a": [[[[[1]]]]]}', "json_too_deep"),
        (b'{"pad": "' + b"x" * 3000 + b'"}', "too_large"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b'{"x": NaN}', "malformed_json"),
    ],
)
def test_bad_requests_get_reason_coded_errors(
    daemon: DaemonProcess, mqtt: TestClient, payload: bytes, reason: str
) -> None:
    got = ask(mqtt, "health", raw=payload)
    assert got["status"] == "error"
    assert got["reason"] == reason
    assert got["data"] == {}
    assert ok(mqtt, "health")["healthy"] is True  # and the daemon goes on


def test_unknown_verbs_and_bad_arguments_are_errors(
    daemon: DaemonProcess, mqtt: TestClient
) -> None:
    unknown = ask(mqtt, "reboot")
    assert (unknown["status"], unknown["reason"]) == ("error", "unknown_verb")
    assert "health" in unknown["error"]
    for verb, body in (
        ("pin", {"family": "faces", "variant": "huge"}),
        ("pin", {"family": "nope", "variant": "x"}),
        ("pin", {"family": "faces"}),
        ("mode", {"mode": "fastest"}),
        ("plan", {"budget": "lots"}),
    ):
        got = ask(mqtt, verb, body)
        assert (got["status"], got["reason"]) == ("error", "bad_request"), (verb, body, got)
    assert ok(mqtt, "health")["pipelines"]["faces"]["variant"] == "full-float"
    assert "control_verb_failed" not in daemon.log()
