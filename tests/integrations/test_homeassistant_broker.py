"""Home Assistant discovery through a real mosquitto with the real daemon and models.

Faces, text and wakeword run (the families on this branch); each sensor's entities
appear when its first message arrives, every config passes the documented key
checks and names only topics the daemon publishes, Home Assistant's birth message
brings a republish, stale and expired entities are removed with an empty retained
config.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.broker import Broker
from support.client import Received, TestClient
from support.daemon import DaemonProcess
from support.homeassistant_docs import check_discovery

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "tests/fixtures/images/face.jpg"
WAV = REPO / "tests/fixtures/wakeword/okay_nabu_flite_rms.wav"
NODE = "homeassistant/{component}/edge-agent_testdev/{object_id}/config"
BASE = "edge-agent/testdev"


def _config(mqtt: TestClient, component: str, object_id: str, timeout: float = 30) -> Any:
    topic = NODE.format(component=component, object_id=object_id)
    return mqtt.wait_for(lambda m: m.topic == topic and m.payload != b"", timeout=timeout)[
        -1
    ].json()


def _configs(mqtt: TestClient) -> dict[str, Received]:
    latest: dict[str, Received] = {}
    for m in mqtt.matching(lambda m: m.topic.endswith("/config")):
        latest[m.topic] = m
    return latest


def _start(start_daemon: Callable[..., DaemonProcess], **overrides: Any) -> DaemonProcess:
    ha = {"enabled": True, "republish_delay_max_s": 0.5, **overrides.pop("ha", {})}
    pipelines = overrides.pop(
        "pipelines",
        {"faces": {"kind": "faces"}, "text": {"kind": "text"}, "wakeword": {"kind": "wakeword"}},
    )
    # Pinned: no variant preparation at start (the text family would slice six).
    pins = {"faces": "short-float", "text": "s"}
    on = {n for n, p in pipelines.items() if p.get("enabled", True)}
    return start_daemon(
        homeassistant=ha,
        elastic={"pinned": {k: v for k, v in pins.items() if k in on}},
        pipelines={"wakeword": {"kind": "wakeword", "enabled": False}, **pipelines},
        **overrides,
    )


def test_entities_per_sensor_use_documented_keys_and_existing_topics(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    mqtt.subscribe("homeassistant/#")
    _start(start_daemon)
    budget = _config(mqtt, "sensor", "sizing_budget")
    assert budget["state_topic"] == f"{BASE}/stats"
    _config(mqtt, "sensor", "wakeword__variant")

    mqtt.publish("sensors/door/image", IMAGE.read_bytes(), content_type="image/jpeg")
    mqtt.publish("sensors/kitchen/text", b"water is leaking under the sink")
    mqtt.publish("sensors/mic/audio", WAV.read_bytes(), content_type="audio/wav")
    presence = _config(mqtt, "binary_sensor", "faces__door__person")
    label = _config(mqtt, "sensor", "text__kitchen__label")
    wake = _config(mqtt, "event", "wakeword__mic__wake_word")
    assert presence["device_class"] == "occupancy"
    assert "okay_nabu" in wake["event_types"]
    assert "water_leak" in _config(mqtt, "event", "text__kitchen__text")["event_types"]
    mqtt.on_topic(f"{BASE}/results/wakeword/mic", timeout=60)
    mqtt.on_topic(f"{BASE}/results/text/kitchen")
    mqtt.on_topic(f"{BASE}/stats")

    published = {m.topic for m in mqtt.matching(lambda m: m.topic.startswith(BASE))}
    configs = _configs(mqtt)
    assert len(configs) >= 15
    for topic, message in configs.items():
        config = message.json()
        assert message.retain or topic.endswith("/config")
        assert check_discovery(topic, config) == [], topic
        assert config["state_topic"] in published, (topic, config["state_topic"])
        assert config["availability_topic"] == f"{BASE}/status"
        assert config["device"]["identifiers"] == ["edge-agent_testdev"]
    assert label["json_attributes_topic"] == f"{BASE}/results/text/kitchen"


def test_birth_message_republishes_configs_then_states(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    mqtt.subscribe("homeassistant/#")
    _start(start_daemon, pipelines={"faces": {"kind": "faces"}})
    topic = NODE.format(component="sensor", object_id="faces__infer_p50")
    mqtt.on_topic(topic)
    time.sleep(1.0)
    details = f"{BASE}/status/details"
    before = len(mqtt.matching(lambda m: m.topic == topic))
    details_before = len(mqtt.matching(lambda m: m.topic == details))
    mqtt.publish("homeassistant/status", b"online", qos=0)
    again = mqtt.wait_for(lambda m: m.topic == topic, count=before + 1, timeout=10)
    assert again[-1].json() == again[0].json()
    mqtt.wait_for(lambda m: m.topic == details, count=details_before + 1, timeout=10)
    order = [m.topic for m in mqtt.messages]
    config_at = [i for i, t in enumerate(order) if t == topic][before]
    details_at = [i for i, t in enumerate(order) if t == details][details_before]
    assert details_at > config_at  # states after discovery
    # "offline" (Home Assistant's last will) changes nothing.
    mqtt.publish("homeassistant/status", b"offline", qos=0)
    time.sleep(1.5)
    assert len(mqtt.matching(lambda m: m.topic == topic)) == before + 1


def test_retained_configs_found_at_start_are_kept_refreshed_or_removed(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    mqtt.subscribe("homeassistant/#")
    gone = NODE.format(component="sensor", object_id="retired__door__faces")
    porch = NODE.format(component="sensor", object_id="faces__porch__faces")
    stale = {"name": "old", "state_topic": f"{BASE}/results/retired/door", "unique_id": "x"}
    outdated = {"name": "old porch", "state_topic": f"{BASE}/results/faces/porch"}
    mqtt.publish(gone, json.dumps(stale).encode(), retain=True)
    mqtt.publish(porch, json.dumps(outdated).encode(), retain=True)
    _start(start_daemon, pipelines={"faces": {"kind": "faces"}})
    mqtt.wait_for(lambda m: m.topic == gone and m.payload == b"")
    refreshed = _config(mqtt, "sensor", "faces__porch__faces")
    assert refreshed["name"] == "porch faces"
    # The porch sensor is known again, so its presence sensor is back too.
    _config(mqtt, "binary_sensor", "faces__porch__person")
    # What is retained now: nothing for the retired pipeline.
    check = TestClient(broker.tcp_url)
    try:
        check.subscribe("homeassistant/#")
        check.wait_for(lambda m: m.topic == porch and m.retain, timeout=30)
        time.sleep(0.5)  # the broker sends retained messages in one burst on subscribe
        retained = {m.topic for m in check.messages if m.retain}
    finally:
        check.close()
    assert gone not in retained
    assert porch in retained


def test_pipeline_removed_between_runs_loses_its_entities(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    mqtt.subscribe("homeassistant/#")
    first = _start(start_daemon, pipelines={"faces": {"kind": "faces"}, "text": {"kind": "text"}})
    mqtt.publish("sensors/kitchen/text", b"turn on the lights")
    label = NODE.format(component="sensor", object_id="text__kitchen__label")
    _config(mqtt, "sensor", "text__kitchen__label")
    _config(mqtt, "sensor", "text__variant")
    assert first.terminate() == 0
    _start(
        start_daemon,
        pipelines={"faces": {"kind": "faces"}, "text": {"kind": "text", "enabled": False}},
    )
    variant = NODE.format(component="sensor", object_id="text__variant")
    mqtt.wait_for(lambda m: m.topic == label and m.payload == b"")
    mqtt.wait_for(lambda m: m.topic == variant and m.payload == b"")


def test_sensor_that_goes_quiet_is_removed_after_the_expiry(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    mqtt.subscribe("homeassistant/#")
    _start(
        start_daemon,
        pipelines={"faces": {"kind": "faces"}},
        ha={"sensor_expiry_s": 2.0},
        stats={"interval_s": 0.5},
    )
    mqtt.publish("sensors/door/image", IMAGE.read_bytes(), content_type="image/jpeg")
    topic = NODE.format(component="binary_sensor", object_id="faces__door__person")
    _config(mqtt, "binary_sensor", "faces__door__person")
    removed = mqtt.wait_for(lambda m: m.topic == topic and m.payload == b"", timeout=20)
    assert removed
    # The device-level diagnostics stay.
    budget = NODE.format(component="sensor", object_id="sizing_budget")
    assert not mqtt.matching(lambda m: m.topic == budget and m.payload == b"")


def test_mqtt_311_daemon_reading_its_own_configs_back_neither_loops_nor_removes(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    # MQTT 3.1.1 has no no-local option: the daemon receives each config it publishes.
    mqtt.subscribe("homeassistant/#")
    _start(start_daemon, pipelines={"faces": {"kind": "faces"}}, broker={"protocol": "3.1.1"})
    mqtt.publish("sensors/door/image", IMAGE.read_bytes(), content_type="image/jpeg")
    topic = NODE.format(component="sensor", object_id="faces__door__faces")
    _config(mqtt, "sensor", "faces__door__faces")
    time.sleep(2.0)
    sent = mqtt.matching(lambda m: m.topic == topic)
    assert [m.payload != b"" for m in sent] == [True]  # published once, never removed
