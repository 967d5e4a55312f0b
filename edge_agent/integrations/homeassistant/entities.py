"""The Home Assistant entities that describe edge-agent's topics, as discovery configs.

Per-entity discovery (``<prefix>/<component>/<node_id>/<object_id>/config``, one
retained config per entity), not device-based discovery
(``<prefix>/device/<id>/config`` with ``cmps``): device-based discovery needs Home
Assistant 2024.12 or later, while per-entity topics work from 2023.8 (the first
release with MQTT ``event`` entities) on — which includes the releases that still
run on Python 3.11 (up to 2024.3) — and removing one sensor's entities is one empty
retained message per entity rather than a rewrite of the whole device.

Every config names an *existing* topic: results (``results/<pipeline>/<sensor>``),
events (``events/<pipeline>/<sensor>``), retained counts (``counts/<sensor>/...``),
``status`` (availability), ``status/details`` and ``stats``; templates pick fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edge_agent import __version__
from edge_agent.integrations.homeassistant.settings import HomeAssistantSettings
from edge_agent.results.schema import Topics

__all__ = ["Entity", "EntityCatalog", "PipelineInfo", "TopicKind", "slug"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def slug(text: str) -> str:
    """A topic-level id of ``[A-Za-z0-9_-]`` (what discovery topics allow); unique per text.

    Text that needs replacing gets a short hash of the original appended, so two
    sensors that differ only in unsafe characters never share an entity.
    """
    safe = _UNSAFE.sub("_", text)
    if safe == text and text:
        return text
    return f"{safe}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def _q(text: str) -> str:
    """A Jinja string literal."""
    return json.dumps(text)


@dataclass(frozen=True, slots=True)
class PipelineInfo:
    """A served pipeline as discovery needs it.

    Attributes:
        name: Pipeline name (a topic level).
        kind: Its task (``faces``, ``text``, ``wakeword``, ``objects``, ``speech``, ``generate``).
        event_types: Text labels (with ``unknown``) or enabled wake words.
    """

    name: str
    kind: str
    event_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Entity:
    """One Home Assistant entity.

    Attributes:
        component: ``sensor``, ``binary_sensor`` or ``event``.
        object_id: Its id in the discovery topic (and in ``unique_id``).
        config: Platform options (device, origin and availability are added later).
    """

    component: str
    object_id: str
    config: dict[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class TopicKind:
    """What a state topic of a discovered entity belongs to.

    Attributes:
        kind: ``device`` (status, details, stats), ``sensor`` (results/events) or ``count``.
        pipeline: Pipeline (``sensor`` kind).
        sensor: Sensor id (``sensor`` and ``count`` kinds).
        zone: Zone of a count, if any.
        label: Label of a count.
    """

    kind: str
    pipeline: str | None = None
    sensor: str | None = None
    zone: str | None = None
    label: str | None = None


class EntityCatalog:
    """Builds the discovery configs of one device.

    Args:
        settings: The ``[homeassistant]`` settings.
        topics: The device's topics.
        device_id: The device id.
    """

    def __init__(self, settings: HomeAssistantSettings, topics: Topics, device_id: str) -> None:
        self.settings = settings
        self.topics = topics
        self.device_id = device_id
        self.node_id = slug(f"edge-agent_{device_id}")
        self._device = {
            "identifiers": [f"edge-agent_{device_id}"],
            "name": settings.device_name or device_id,
            "manufacturer": "edge-agent",
            "model": "edge-agent inference daemon",
            "sw_version": __version__,
        }
        self._origin = {"name": "edge-agent", "sw_version": __version__}

    # -- topics and payloads ----------------------------------------------------------------

    @property
    def config_filter(self) -> str:
        """Subscription filter that matches every config this device publishes."""
        return f"{self.settings.discovery_prefix}/+/{self.node_id}/+/config"

    def config_topic(self, entity: Entity) -> str:
        """``<discovery_prefix>/<component>/<node_id>/<object_id>/config``."""
        prefix = self.settings.discovery_prefix
        return f"{prefix}/{entity.component}/{self.node_id}/{entity.object_id}/config"

    def payload(self, entity: Entity) -> dict[str, Any]:
        """The discovery config: the entity's options, unique id, device, origin, availability."""
        return {
            **entity.config,
            "unique_id": f"{self.node_id}_{entity.object_id}",
            "availability_topic": self.topics.status,
            "device": self._device,
            "origin": self._origin,
        }

    def classify(self, state_topic: str) -> TopicKind | None:
        """What a discovered entity's state topic belongs to (None: not this device's)."""
        base = self.topics.base + "/"
        if not state_topic.startswith(base):
            return None
        levels = state_topic[len(base) :].split("/")
        if levels in (["status"], ["status", "details"], ["stats"]):
            return TopicKind("device")
        if len(levels) == 3 and levels[0] in ("results", "events"):
            return TopicKind("sensor", pipeline=levels[1], sensor=levels[2])
        if levels[0] == "counts" and len(levels) in (3, 4):
            zone = levels[2] if len(levels) == 4 else None
            return TopicKind("count", sensor=levels[1], zone=zone, label=levels[-1])
        return None

    # -- device-level diagnostics -----------------------------------------------------------

    def device_entities(self, pipelines: Iterable[PipelineInfo]) -> list[Entity]:
        """Diagnostics: the budget, and per pipeline its variant, inference p50 and drops."""
        diag = {"entity_category": "diagnostic"}
        out = [
            Entity(
                "sensor",
                "sizing_budget",
                {
                    **diag,
                    "name": "memory budget",
                    "state_topic": self.topics.stats,
                    "value_template": "{% set s = value_json.get('sizing') or {} %}"
                    "{{ ((s.budget_bytes / 1048576) | round(1)) "
                    "if s.get('budget_bytes') is not none else None }}",
                    "device_class": "data_size",
                    "unit_of_measurement": "MiB",
                    "state_class": "measurement",
                },
            )
        ]
        for info in pipelines:
            p, name = _q(info.name), slug(info.name)
            stats = f"value_json.get('pipelines', {{}}).get({p}, {{}})"
            out += [
                Entity(
                    "sensor",
                    f"{name}__variant",
                    {
                        **diag,
                        "name": f"{info.name} variant",
                        "icon": "mdi:tune-variant",
                        "state_topic": self.topics.status_details,
                        "value_template": "{{ (value_json.get('pipelines', {}).get("
                        + p
                        + ") or {}).get('variant') or 'none' }}",
                    },
                ),
                Entity(
                    "sensor",
                    f"{name}__infer_p50",
                    {
                        **diag,
                        "name": f"{info.name} inference p50",
                        "state_topic": self.topics.stats,
                        "value_template": "{{ " + stats + ".get('latency_ms', {})"
                        ".get('infer', {}).get('p50') }}",
                        "device_class": "duration",
                        "unit_of_measurement": "ms",
                        "state_class": "measurement",
                    },
                ),
                Entity(
                    "sensor",
                    f"{name}__dropped",
                    {
                        **diag,
                        "name": f"{info.name} dropped messages",
                        "icon": "mdi:tray-remove",
                        "state_topic": self.topics.stats,
                        "value_template": "{{ " + stats + ".get('dropped') }}",
                        "state_class": "total_increasing",
                    },
                ),
            ]
        return out

    # -- per sensor ------------------------------------------------------------------------------

    def sensor_entities(self, info: PipelineInfo, sensor: str) -> list[Entity]:
        """The entities of one sensor seen on one pipeline (by the pipeline's kind)."""
        builder = {
            "faces": self._faces,
            "text": self._text,
            "wakeword": self._wakeword,
            "objects": self._objects,
            "speech": self._speech,
        }.get(info.kind)
        return builder(info, sensor) if builder is not None else []

    def _id(self, info: PipelineInfo, sensor: str, what: str) -> str:
        return f"{slug(info.name)}__{slug(sensor)}__{what}"

    def _name(self, info: PipelineInfo, sensor: str, what: str) -> str:
        return f"{sensor} {what}" if info.name == info.kind else f"{sensor} {info.name} {what}"

    def _faces(self, info: PipelineInfo, sensor: str) -> list[Entity]:
        topic = self.topics.result(info.name, sensor)
        return [
            Entity(
                "sensor",
                self._id(info, sensor, "faces"),
                {
                    "name": self._name(info, sensor, "faces"),
                    "icon": "mdi:face-recognition",
                    "state_topic": topic,
                    "value_template": "{{ value_json.result.count }}",
                    "state_class": "measurement",
                },
            ),
            Entity(
                "binary_sensor",
                self._id(info, sensor, "person"),
                {
                    "name": self._name(info, sensor, "person present"),
                    "device_class": "occupancy",
                    "state_topic": topic,
                    "value_template": "{{ 'ON' if (value_json.result.count | int(0)) > 0 "
                    "else 'OFF' }}",
                    "off_delay": self.settings.presence_off_delay_s,
                },
            ),
        ]

    def _text(self, info: PipelineInfo, sensor: str) -> list[Entity]:
        topic = self.topics.result(info.name, sensor)
        return [
            Entity(
                "sensor",
                self._id(info, sensor, "label"),
                {
                    "name": self._name(info, sensor, "label"),
                    "icon": "mdi:label-outline",
                    "state_topic": topic,
                    "value_template": "{{ value_json.result.label }}",
                    "json_attributes_topic": topic,
                    "json_attributes_template": "{{ {'score': value_json.result.score, "
                    "'request_id': value_json.request_id} | tojson }}",
                },
            ),
            Entity(
                "sensor",
                self._id(info, sensor, "score"),
                {
                    "name": self._name(info, sensor, "label score"),
                    "icon": "mdi:gauge",
                    "state_topic": topic,
                    "value_template": "{{ value_json.result.score }}",
                    "state_class": "measurement",
                    "suggested_display_precision": 2,
                },
            ),
            Entity(
                "event",
                self._id(info, sensor, "text"),
                {
                    "name": self._name(info, sensor, "text"),
                    "icon": "mdi:message-text-outline",
                    "state_topic": topic,
                    "event_types": list(info.event_types),
                    "value_template": "{{ {'event_type': value_json.result.label, "
                    "'score': value_json.result.score, "
                    "'request_id': value_json.request_id} | tojson }}",
                },
            ),
        ]

    def _wakeword(self, info: PipelineInfo, sensor: str) -> list[Entity]:
        # Streaming routes: one result per detection (result.event == "wake_word");
        # clip routes: one result per clip with a list of detections (first one fires).
        template = (
            "{% set r = value_json.result %}"
            "{% if r.get('event') == 'wake_word' %}"
            "{{ {'event_type': r.wake_word, 'probability': r.get('probability'), "
            "'request_id': value_json.request_id} | tojson }}"
            "{% elif r.get('detections') %}"
            "{{ {'event_type': r.detections[0].wake_word, "
            "'probability': r.detections[0].get('probability'), "
            "'request_id': value_json.request_id} | tojson }}"
            "{% endif %}"
        )
        return [
            Entity(
                "event",
                self._id(info, sensor, "wake_word"),
                {
                    "name": self._name(info, sensor, "wake word"),
                    "icon": "mdi:account-voice",
                    "state_topic": self.topics.result(info.name, sensor),
                    "event_types": list(info.event_types),
                    "value_template": template,
                },
            )
        ]

    def _objects(self, info: PipelineInfo, sensor: str) -> list[Entity]:
        # `update` events (every tracked frame) are left out: only arrivals and departures fire.
        template = (
            "{% if value_json.event_type in ['new', 'end'] %}"
            "{{ {'event_type': value_json.event_type, 'label': value_json.get('label'), "
            "'score': value_json.get('score'), 'id': value_json.get('id'), "
            "'zones': value_json.get('zones')} | tojson }}"
            "{% endif %}"
        )
        person = self.settings.person_label
        return [
            Entity(
                "event",
                self._id(info, sensor, "object"),
                {
                    "name": self._name(info, sensor, "object"),
                    "icon": "mdi:cube-scan",
                    "state_topic": self.topics.event(info.name, sensor),
                    "event_types": ["new", "end"],
                    "value_template": template,
                },
            ),
            Entity(
                "binary_sensor",
                self._id(info, sensor, "person"),
                {
                    "name": self._name(info, sensor, f"{person} present"),
                    "device_class": "occupancy",
                    "state_topic": self.topics.state(f"counts/{sensor}/{person}"),
                    "value_template": "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}",
                },
            ),
        ]

    def _speech(self, info: PipelineInfo, sensor: str) -> list[Entity]:
        # The event document has a top-level event_type: no template needed.
        return [
            Entity(
                "event",
                self._id(info, sensor, "voice_command"),
                {
                    "name": self._name(info, sensor, "voice command"),
                    "icon": "mdi:microphone-message",
                    "state_topic": self.topics.event(info.name, sensor),
                    "event_types": ["voice_command"],
                },
            )
        ]

    def count_entity(self, sensor: str, zone: str | None, label: str) -> Entity:
        """A retained object count: ``counts/<sensor>/[<zone>/]<label>``."""
        path = "/".join(x for x in ("counts", sensor, zone, label) if x is not None)
        where = f"{sensor} {zone}" if zone else sensor
        key = "__".join(slug(x) for x in (sensor, zone, label) if x is not None)
        return Entity(
            "sensor",
            f"count__{key}",
            {
                "name": f"{where} {label} count",
                "icon": "mdi:counter",
                "state_topic": self.topics.state(path),
                "state_class": "measurement",
            },
        )
