"""Discovery payloads per entity type: documented keys only, templates that do what they say.

Templates are rendered with Jinja2 the way Home Assistant renders MQTT templates
(``value`` is the payload text, ``value_json`` its JSON) on documents built by the
real contract functions (``result_document``, ``event_document``).
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.homeassistant_docs import check_discovery

from edge_agent.integrations.homeassistant.entities import (
    Entity,
    EntityCatalog,
    PipelineInfo,
    slug,
)
from edge_agent.integrations.homeassistant.settings import HomeAssistantSettings
from edge_agent.results.schema import Topics, event_document, result_document

TOPICS = Topics("edge-agent", "pi")
CATALOG = EntityCatalog(HomeAssistantSettings(enabled=True), TOPICS, "pi")
FACES = PipelineInfo("faces", "faces")
TEXT = PipelineInfo("text", "text", ("water_leak", "lighting", "unknown"))
WAKE = PipelineInfo("wakeword", "wakeword", ("okay_nabu", "hey_jarvis"))
OBJECTS = PipelineInfo("objects", "objects")
SPEECH = PipelineInfo("speech", "speech")
ENV = jinja2.Environment(autoescape=False)  # noqa: S701 - renders MQTT templates, not HTML


def render(entity: Entity, payload: str, key: str = "value_template") -> str:
    try:
        value_json: Any = json.loads(payload)
    except ValueError:
        value_json = None
    return ENV.from_string(entity.config[key]).render(value=payload, value_json=value_json).strip()


def result(pipeline: str, result_body: dict[str, Any]) -> str:
    doc = result_document(
        request_id="r1",
        device="pi",
        pipeline=pipeline,
        route="r",
        sensor="door",
        topic="sensors/door/x",
        family=pipeline,
        variant="v",
        task="t",
        timings_ms={"infer": 1.0},
        result=result_body,
    )
    return json.dumps(doc)


def event(pipeline: str, event_type: str, data: dict[str, Any]) -> str:
    doc = event_document(
        event_type=event_type,
        request_id="r1",
        device="pi",
        pipeline=pipeline,
        route="r",
        sensor="door",
        model={"family": pipeline, "variant": "v", "task": "t"},
        data=data,
    )
    return json.dumps(doc)


def by_id(entities: list[Entity], suffix: str) -> Entity:
    return next(e for e in entities if e.object_id.endswith(suffix))


ALL = [
    *CATALOG.device_entities([FACES, TEXT, WAKE, OBJECTS, SPEECH]),
    *(CATALOG.sensor_entities(p, "door") for p in (FACES, TEXT, WAKE, OBJECTS, SPEECH)),
    CATALOG.count_entity("door", None, "car"),
    CATALOG.count_entity("door", "driveway", "person"),
]
FLAT = [e for item in ALL for e in (item if isinstance(item, list) else [item])]


@pytest.mark.parametrize("entity", FLAT, ids=lambda e: f"{e.component}-{e.object_id}")
def test_every_payload_uses_documented_keys_only(entity: Entity) -> None:
    topic = CATALOG.config_topic(entity)
    assert check_discovery(topic, CATALOG.payload(entity)) == []


def test_every_entity_has_a_unique_id_and_the_device() -> None:
    ids = [CATALOG.payload(e)["unique_id"] for e in FLAT]
    assert len(ids) == len(set(ids))
    device = CATALOG.payload(FLAT[0])["device"]
    assert device["identifiers"] == ["edge-agent_pi"]
    assert {"name", "model", "sw_version", "manufacturer"} <= set(device)
    assert all(CATALOG.payload(e)["availability_topic"] == TOPICS.status for e in FLAT)


def test_faces_count_and_presence() -> None:
    entities = CATALOG.sensor_entities(FACES, "door")
    two = result("faces", {"count": 2, "faces": [], "image": {}})
    none = result("faces", {"count": 0, "faces": [], "image": {}})
    assert render(by_id(entities, "__faces"), two) == "2"
    presence = by_id(entities, "__person")
    assert presence.component == "binary_sensor"
    assert presence.config["device_class"] == "occupancy"
    assert presence.config["off_delay"] == 30
    assert (render(presence, two), render(presence, none)) == ("ON", "OFF")


def test_text_label_score_and_event() -> None:
    entities = CATALOG.sensor_entities(TEXT, "door")
    doc = result("text", {"label": "water_leak", "score": 0.62, "top": [], "tokens": 3})
    assert render(by_id(entities, "__label"), doc) == "water_leak"
    attrs = json.loads(render(by_id(entities, "__label"), doc, "json_attributes_template"))
    assert attrs == {"score": 0.62, "request_id": "r1"}
    assert render(by_id(entities, "__score"), doc) == "0.62"
    ev = by_id(entities, "__text")
    fired = json.loads(render(ev, doc))
    assert fired["event_type"] == "water_leak"
    assert fired["event_type"] in ev.config["event_types"]


def test_wake_word_event_from_stream_and_clip_results() -> None:
    ev = by_id(CATALOG.sensor_entities(WAKE, "door"), "__wake_word")
    stream = result(
        "wakeword", {"event": "wake_word", "wake_word": "okay_nabu", "probability": 0.9}
    )
    clip = result("wakeword", {"detections": [{"wake_word": "hey_jarvis", "probability": 0.8}]})
    silent = result("wakeword", {"detections": [], "duration_s": 2.0})
    assert json.loads(render(ev, stream))["event_type"] == "okay_nabu"
    assert json.loads(render(ev, clip))["event_type"] == "hey_jarvis"
    assert render(ev, silent) == ""  # Home Assistant ignores an empty rendering
    assert ev.config["event_types"] == ["okay_nabu", "hey_jarvis"]


def test_object_events_fire_on_new_and_end_only() -> None:
    entities = CATALOG.sensor_entities(OBJECTS, "door")
    ev = by_id(entities, "__object")
    assert ev.config["state_topic"] == "edge-agent/pi/events/objects/door"
    new = event("objects", "new", {"label": "person", "score": 0.8, "id": 3, "zones": ["porch"]})
    update = event("objects", "update", {"label": "person", "score": 0.8, "id": 3, "zones": []})
    fired = json.loads(render(ev, new))
    assert fired == {
        "event_type": "new",
        "label": "person",
        "score": 0.8,
        "id": 3,
        "zones": ["porch"],
    }
    assert render(ev, update) == ""
    presence = by_id(entities, "__person")
    assert presence.config["state_topic"] == "edge-agent/pi/counts/door/person"
    assert [render(presence, v) for v in ("2", "0", "")] == ["ON", "OFF", "OFF"]


def test_voice_command_event_needs_no_template() -> None:
    ev = by_id(CATALOG.sensor_entities(SPEECH, "door"), "__voice_command")
    doc = json.loads(event("speech", "voice_command", {"wake_word": "okay_nabu", "text": "x"}))
    assert "value_template" not in ev.config
    assert doc["event_type"] in ev.config["event_types"]


def test_counts_read_the_retained_integer() -> None:
    zoned = CATALOG.count_entity("door", "driveway", "person")
    assert zoned.config["state_topic"] == "edge-agent/pi/counts/door/driveway/person"
    assert zoned.config["state_class"] == "measurement"
    assert "value_template" not in zoned.config


def test_diagnostics_read_details_and_stats() -> None:
    entities = CATALOG.device_entities([FACES])
    details = json.dumps({"pipelines": {"faces": {"family": "faces", "variant": "full-int8"}}})
    stats = json.dumps(
        {
            "pipelines": {"faces": {"dropped": 4, "latency_ms": {"infer": {"p50": 5.25}}}},
            "sizing": {"budget_bytes": 300 * 1048576},
        }
    )
    assert render(by_id(entities, "faces__variant"), details) == "full-int8"
    assert render(by_id(entities, "faces__variant"), json.dumps({"pipelines": {}})) == "none"
    assert render(by_id(entities, "faces__infer_p50"), stats) == "5.25"
    assert render(by_id(entities, "faces__dropped"), stats) == "4"
    assert render(by_id(entities, "sizing_budget"), stats) == "300.0"
    # Before sizing ran: "None", which Home Assistant turns into an unknown state.
    assert render(by_id(entities, "sizing_budget"), json.dumps({"sizing": None})) == "None"
    assert all(e.config["entity_category"] == "diagnostic" for e in entities)


def test_discovery_topics_follow_the_documented_shape() -> None:
    entity = by_id(CATALOG.sensor_entities(FACES, "front door/1"), "__faces")
    topic = CATALOG.config_topic(entity)
    assert topic.startswith("homeassistant/sensor/edge-agent_pi/")
    assert check_discovery(topic, CATALOG.payload(entity)) == []


@given(st.text(min_size=1, max_size=40))
def test_slugs_are_safe_and_distinct(text: str) -> None:
    s = slug(text)
    assert s
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in s)
    other = text + "!"
    assert slug(other) != s
