"""One message from the broker, and the acknowledgement that goes with it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import paho.mqtt.client as paho

__all__ = ["Ack", "InboundMessage"]


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from the broker (the payload is never logged).

    Attributes:
        topic: Topic.
        payload: Raw bytes.
        qos: QoS it was delivered with.
        retain: Retained flag.
        dup: Redelivery flag.
        content_type: MQTT v5 content type, if any.
        correlation_data: MQTT v5 correlation data, if any.
        response_topic: MQTT v5 response topic, if any.
        user_properties: MQTT v5 user properties.
        received: ``time.monotonic()`` at arrival.
    """

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    content_type: str | None = None
    correlation_data: bytes | None = None
    response_topic: str | None = None
    user_properties: tuple[tuple[str, str], ...] = ()
    received: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledges one inbound message when called (QoS 0: nothing to send).

    Attributes:
        client: The client it arrived on.
        mid: Its packet id.
        qos: Its QoS.
    """

    client: paho.Client
    mid: int
    qos: int

    def __call__(self) -> None:
        """Send the acknowledgement (queued: it leaves with what the thread holds)."""
        if self.qos > 0:
            self.client.ack(self.mid, self.qos)
