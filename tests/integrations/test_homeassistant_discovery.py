"""The discovery bookkeeping with a recording publisher: counts, objects, expiry, birth.

The objects and speech families are built on other branches; their entities come
from the topic contract (events, counts) and are exercised here without a model.
"""

from __future__ import annotations

import json
import random
import threading

from support.homeassistant_docs import check_discovery

from edge_agent.integrations.homeassistant.discovery import HomeAssistantDiscovery
from edge_agent.integrations.homeassistant.entities import PipelineInfo
from edge_agent.integrations.homeassistant.settings import HomeAssistantSettings
from edge_agent.results.schema import Topics
from edge_agent.transport.message import InboundMessage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []
        self.states = 0
        self.done = threading.Event()

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        self.sent.append((topic, payload, retain))

    def republish(self) -> None:
        self.states += 1
        self.done.set()

    def configs(self) -> dict[str, bytes]:
        return {t: p for t, p, _ in self.sent}


def make(**settings: object) -> tuple[HomeAssistantDiscovery, Recorder, Clock]:
    rec, clock = Recorder(), Clock()
    ha = HomeAssistantDiscovery(
        HomeAssistantSettings(enabled=True, **settings),  # type: ignore[arg-type]
        topics=Topics("edge-agent", "pi"),
        device_id="pi",
        pipelines=[PipelineInfo("objects", "objects"), PipelineInfo("speech", "speech")],
        publish=rec.publish,
        republish_states=rec.republish,
        clock=clock,
        rng=random.Random(1),
    )
    return ha, rec, clock


def test_object_sensor_counts_and_voice_commands_get_their_entities() -> None:
    ha, rec, _ = make()
    ha.sensor_seen("objects", "drive")
    ha.state_published("counts/drive/car")
    ha.state_published("counts/drive/gate/person")
    ha.state_published("counts/drive/car")  # known: nothing new
    ha.sensor_seen("speech", "hall")
    configs = rec.configs()
    topics = sorted(t.split("/")[3] for t in configs)
    assert topics == [
        "count__drive__car",
        "count__drive__gate__person",
        "objects__drive__object",
        "objects__drive__person",
        "speech__hall__voice_command",
    ]
    for topic, payload in configs.items():
        assert check_discovery(topic, json.loads(payload)) == []
    assert all(retain for _, _, retain in rec.sent)
    assert len(rec.sent) == 5


def test_quiet_sensors_and_their_counts_expire() -> None:
    ha, rec, clock = make(sensor_expiry_s=60.0)
    ha.sensor_seen("objects", "drive")
    ha.state_published("counts/drive/car")
    ha.sensor_seen("speech", "hall")
    clock.now += 50
    ha.sensor_seen("speech", "hall")  # still talking
    clock.now += 20
    assert ha.expire() == 3  # drive's event, presence and car count
    removed = {t.split("/")[3] for t, p, _ in rec.sent if p == b""}
    assert removed == {"objects__drive__object", "objects__drive__person", "count__drive__car"}
    assert ha.expire() == 0
    ha.sensor_seen("objects", "drive")  # back: published again
    assert rec.sent[-1][1] != b""


def test_birth_message_republishes_after_a_random_delay() -> None:
    ha, rec, _ = make(republish_delay_max_s=0.2)
    ha.sensor_seen("speech", "hall")
    before = len(rec.sent)
    ha.on_message(InboundMessage("homeassistant/status", b"offline"))
    ha.on_message(InboundMessage("homeassistant/status", b"online"))
    assert rec.done.wait(5)
    expected = len(ha.expected())
    assert len(rec.sent) == before + expected
    assert rec.states == 1


def test_retained_configs_of_another_device_or_kind_are_not_ours() -> None:
    ha, _, _ = make()
    assert ha.handles("homeassistant/sensor/edge-agent_pi/x/config")
    assert ha.handles("homeassistant/status")
    assert not ha.handles("homeassistant/sensor/edge-agent_other/x/config")
    assert not ha.handles("homeassistant/sensor/edge-agent_pi/x/state")


def test_garbage_retained_config_is_removed() -> None:
    ha, rec, _ = make()
    topic = "homeassistant/sensor/edge-agent_pi/junk/config"
    ha.on_message(InboundMessage(topic, b"\xff not json", retain=True))
    assert rec.sent[-1] == (topic, b"", True)
