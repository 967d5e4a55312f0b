"""An MQTT test client that records what arrives, with timeouts on every wait."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

__all__ = ["Received", "TestClient"]


@dataclass(frozen=True)
class Received:
    """A message the test client got."""

    topic: str
    payload: bytes
    retain: bool
    correlation_data: bytes | None
    content_type: str | None
    at: float = field(default_factory=time.monotonic)
    """When it arrived (monotonic)."""

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


class TestClient:
    """A paho client on its own loop thread.

    Args:
        url: Broker URL (unix:// or mqtt://).
        protocol: "5" or "3.1.1".
    """

    __test__ = False

    def __init__(self, url: str, protocol: str = "5") -> None:
        self.v5 = protocol == "5"
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        unix = url.startswith("unix://")
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5 if self.v5 else paho.MQTTv311,
            transport="unix" if unix else "tcp",
        )
        self.client.on_message = self._on_message
        if unix:
            self.client.connect(url[len("unix://") :])
        else:
            host, port = url[len("mqtt://") :].rsplit(":", 1)
            self.client.connect(host, int(port))
        self.client.loop_start()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        rec = Received(
            topic=msg.topic,
            payload=bytes(msg.payload),
            retain=bool(msg.retain),
            correlation_data=getattr(props, "CorrelationData", None) if props else None,
            content_type=getattr(props, "ContentType", None) if props else None,
        )
        with self._cond:
            self.messages.append(rec)
            self._cond.notify_all()

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK."""
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos)
        if not done.wait(5):
            raise TimeoutError(f"no SUBACK for {topic}")

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        content_type: str | None = None,
        response_topic: str | None = None,
        correlation_data: bytes | None = None,
        user_properties: list[tuple[str, str]] | None = None,
        retain: bool = False,
    ) -> None:
        """Publish and wait until the broker acknowledged it."""
        props = None
        if self.v5 and (content_type or response_topic or correlation_data or user_properties):
            props = Properties(PacketTypes.PUBLISH)
            if content_type:
                props.ContentType = content_type
            if response_topic:
                props.ResponseTopic = response_topic
            if correlation_data:
                props.CorrelationData = correlation_data
            if user_properties:
                props.UserProperty = user_properties
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        info.wait_for_publish(10)

    def wait_for(
        self, predicate: Callable[[Received], bool], *, count: int = 1, timeout: float = 20.0
    ) -> list[Received]:
        """Wait until ``count`` messages match ``predicate``; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    topics = sorted({m.topic for m in self.messages})
                    raise TimeoutError(
                        f"{len(found)}/{count} matching messages; seen topics {topics}"
                    )
                self._cond.wait(left)

    def on_topic(self, topic: str, *, count: int = 1, timeout: float = 20.0) -> list[Received]:
        """Wait for ``count`` messages on exactly ``topic``."""
        return self.wait_for(lambda m: m.topic == topic, count=count, timeout=timeout)

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        """Messages received so far that match."""
        with self._cond:
            return [m for m in self.messages if predicate(m)]

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
