"""Home Assistant discovery at run time: what to publish, when, and what to remove.

- **Start / reconnect:** the device-level diagnostics and every sensor known so far
  are published (retained), then the states (``status/details``, ``stats``).
- **Sensors are known from traffic** (the sensor id is a topic level): a sensor's
  entities are published when its first message arrives; a count's entity when its
  first retained count is published.
- **What exists** is learned from the retained configs on the broker (subscribed at
  each connect under this device's node id): a config whose pipeline is still served
  registers its sensor (seen now) and is refreshed if it differs from the current
  one; a config nothing here would publish any more (a route or pipeline removed,
  an entity kind dropped) is **removed** with an empty retained payload.
- **A sensor goes away** when none of its messages arrived for
  ``sensor_expiry_s`` while the daemon ran: its entities are removed.
- **Home Assistant's birth message** (``online`` on its status topic) triggers a
  republish of all configs and states after a random delay up to
  ``republish_delay_max_s``, as its documentation asks.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from edge_agent.integrations.homeassistant.entities import Entity, EntityCatalog, PipelineInfo
from edge_agent.integrations.homeassistant.settings import HomeAssistantSettings
from edge_agent.results.schema import Topics
from edge_agent.transport.message import InboundMessage

__all__ = ["HomeAssistantDiscovery", "PublishRawFn"]

PublishRawFn = Callable[[str, bytes, bool], None]
"""``publish(topic, payload, retain)`` at QoS 1."""

log = structlog.get_logger("edge_agent.homeassistant")

_OBJECT_KINDS = frozenset({"objects"})


def _encode(config: Mapping[str, Any]) -> bytes:
    return json.dumps(config, separators=(",", ":"), sort_keys=True).encode()


class HomeAssistantDiscovery:
    """Publishes and maintains the discovery configs of one device.

    Args:
        settings: The ``[homeassistant]`` settings.
        topics: The device's topics.
        device_id: The device id.
        pipelines: The served pipelines, in config order.
        publish: Publishes a payload (QoS 1).
        republish_states: Publishes ``status/details`` and ``stats`` now.
        clock: Monotonic clock (tests).
        rng: Random source for the birth delay (tests).
    """

    def __init__(
        self,
        settings: HomeAssistantSettings,
        *,
        topics: Topics,
        device_id: str,
        pipelines: Sequence[PipelineInfo],
        publish: PublishRawFn,
        republish_states: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = EntityCatalog(settings, topics, device_id)
        self.pipelines = {p.name: p for p in pipelines}
        self._publish = publish
        self._republish_states = republish_states
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._sensors: dict[tuple[str, str], float] = {}  # (pipeline, sensor) -> last seen
        self._counts: dict[tuple[str, str | None, str], float] = {}  # (sensor, zone, label)
        self._timer: threading.Timer | None = None
        self.birth_topic = settings.status_topic or f"{settings.discovery_prefix}/status"
        self.removed = 0

    # -- wiring ------------------------------------------------------------------------------

    @property
    def subscriptions(self) -> list[str]:
        """Filters (QoS 1): Home Assistant's birth topic and this device's own configs."""
        return [self.birth_topic, self.catalog.config_filter]

    def handles(self, topic: str) -> bool:
        """Whether ``topic`` is for discovery (the birth topic or one of our configs)."""
        if topic == self.birth_topic:
            return True
        levels = topic.split("/")
        prefix = self.settings.discovery_prefix.split("/")
        return (
            len(levels) == len(prefix) + 4
            and levels[: len(prefix)] == prefix
            and levels[len(prefix) + 1] == self.catalog.node_id
            and levels[-1] == "config"
        )

    def on_message(self, message: InboundMessage) -> None:
        """A birth message or a retained config (network thread; never blocks)."""
        if message.topic == self.birth_topic:
            if message.payload.strip() == b"online":
                self._schedule_republish()
            return
        self._reconcile(message.topic, message.payload)

    def on_connected(self) -> None:
        """After each connect: publish every config known so far, then the states."""
        self.publish_all()

    def stop(self) -> None:
        """Cancel a pending birth republish."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    # -- what the daemon reports -------------------------------------------------------------

    def sensor_seen(self, pipeline: str, sensor: str) -> None:
        """A message for ``sensor`` arrived on ``pipeline``: publish its entities the first time."""
        info = self.pipelines.get(pipeline)
        if info is None:
            return
        now = self._clock()
        with self._lock:
            first = (pipeline, sensor) not in self._sensors
            self._sensors[(pipeline, sensor)] = now
            if info.kind in _OBJECT_KINDS:
                for key in self._counts:
                    if key[0] == sensor:
                        self._counts[key] = now
        if first:
            log.info("homeassistant_sensor_added", pipeline=pipeline, sensor=sensor)
            self._publish_entities(self.catalog.sensor_entities(info, sensor))

    def state_published(self, path: str) -> None:
        """A retained state ``counts/<sensor>/[<zone>/]<label>`` is about to be published."""
        kind = self.catalog.classify(self.catalog.topics.state(path))
        if kind is None or kind.kind != "count" or kind.sensor is None or kind.label is None:
            return
        key = (kind.sensor, kind.zone, kind.label)
        with self._lock:
            first = key not in self._counts
            self._counts[key] = self._clock()
        if first:
            self._publish_entities([self.catalog.count_entity(*key)])

    def expire(self) -> int:
        """Remove the entities of sensors not seen for ``sensor_expiry_s``; returns how many."""
        limit = self.settings.sensor_expiry_s
        if limit is None:
            return 0
        cutoff = self._clock() - limit
        with self._lock:
            gone = [k for k, seen in self._sensors.items() if seen < cutoff]
            gone_counts = [k for k, seen in self._counts.items() if seen < cutoff]
            for k in gone:
                del self._sensors[k]
            for c in gone_counts:
                del self._counts[c]
        entities: list[Entity] = []
        for pipeline, sensor in gone:
            log.info("homeassistant_sensor_expired", pipeline=pipeline, sensor=sensor)
            entities += self.catalog.sensor_entities(self.pipelines[pipeline], sensor)
        entities += [self.catalog.count_entity(*c) for c in gone_counts]
        for entity in entities:
            self._remove(self.catalog.config_topic(entity))
        return len(entities)

    # -- publishing ------------------------------------------------------------------------------

    def expected(self) -> dict[str, Entity]:
        """Every entity this device should have now, by config topic."""
        with self._lock:
            sensors = list(self._sensors)
            counts = list(self._counts)
        entities = self.catalog.device_entities(self.pipelines.values())
        for pipeline, sensor in sensors:
            entities += self.catalog.sensor_entities(self.pipelines[pipeline], sensor)
        entities += [self.catalog.count_entity(*c) for c in counts]
        return {self.catalog.config_topic(e): e for e in entities}

    def publish_all(self) -> None:
        """Publish every expected config, then the states they read."""
        expected = self.expected()
        for topic, entity in expected.items():
            self._send(topic, entity)
        log.info("homeassistant_discovery_published", entities=len(expected))
        self._republish_states()

    def _publish_entities(self, entities: Sequence[Entity]) -> None:
        for entity in entities:
            self._send(self.catalog.config_topic(entity), entity)

    def _send(self, topic: str, entity: Entity) -> None:
        self._publish(topic, _encode(self.catalog.payload(entity)), True)

    def _remove(self, topic: str) -> None:
        self.removed += 1
        self._publish(topic, b"", True)

    def _schedule_republish(self) -> None:
        delay = self._rng.uniform(0.0, self.settings.republish_delay_max_s)
        timer = threading.Timer(delay, self.publish_all)
        timer.daemon = True
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = timer
        log.info("homeassistant_birth", republish_in_s=round(delay, 2))
        timer.start()

    # -- retained configs found on the broker ----------------------------------------------

    def _reconcile(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # an entity already removed (or our own removal echoed back)
        learned = self._register(topic, payload)
        entity = self.expected().get(topic)
        if entity is None:
            log.info("homeassistant_stale_entity_removed", topic=topic)
            self._remove(topic)
            return
        if learned:
            # A sensor known from an earlier run: all of its entities, in their current form.
            self._publish_entities(learned)
        elif payload != _encode(self.catalog.payload(entity)):
            self._send(topic, entity)

    def _register(self, topic: str, payload: bytes) -> list[Entity]:
        """Learn a sensor or a count from a retained config if its pipeline is still served.

        Returns:
            The entities of a sensor or count not known before (empty otherwise).
        """
        component = topic.split("/")[-4]
        try:
            config = json.loads(payload)
            state_topic = config["state_topic"]
        except (ValueError, KeyError, TypeError):
            return []
        kind = self.catalog.classify(state_topic) if isinstance(state_topic, str) else None
        if kind is None or not kind.sensor:
            return []
        now = self._clock()
        with self._lock:
            if kind.kind == "sensor" and kind.pipeline in self.pipelines:
                key = (kind.pipeline, kind.sensor)
                if key not in self._sensors:
                    self._sensors[key] = now
                    return self.catalog.sensor_entities(self.pipelines[kind.pipeline], kind.sensor)
            elif (
                kind.kind == "count"
                and component == "sensor"
                and kind.label
                and any(p.kind in _OBJECT_KINDS for p in self.pipelines.values())
            ):
                count = (kind.sensor, kind.zone, kind.label)
                if count not in self._counts:
                    self._counts[count] = now
                    return [self.catalog.count_entity(*count)]
        return []
