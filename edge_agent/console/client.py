"""A short-lived MQTT client for the operator commands (``status``, ``tail``).

It connects with the config's broker settings (URL, user, password file or
credential, TLS) under a client id of its own (never the daemon's: the broker
would disconnect the daemon), with a clean session and no last will, so it
leaves nothing behind on the broker.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.config.models import BrokerSettings
from edge_agent.errors import TransportError
from edge_agent.transport.address import parse_broker_url
from edge_agent.transport.connection import apply_tls, read_password

__all__ = ["CREDENTIALS_FALLBACK", "OperatorClient"]

CREDENTIALS_FALLBACK = Path("/etc/edge-agent")
"""Where ``broker.password_credential`` is read when not running under the unit."""

MessageFn = Callable[[paho.MQTTMessage], None]


class OperatorClient:
    """A paho client on its own loop thread, for one command.

    Args:
        settings: Broker settings from the config.
        on_message: Called (paho's thread) for every message.
        name: Client id stem.
    """

    def __init__(self, settings: BrokerSettings, on_message: MessageFn, name: str) -> None:
        self.address = parse_broker_url(settings.url)
        self.v5 = settings.protocol == "5"
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._refused: str | None = None
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"edge-agent-{name}-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5 if self.v5 else paho.MQTTv311,
            transport=self.address.transport,  # type: ignore[arg-type]
        )
        if settings.username is not None:
            # Outside the unit there is no $CREDENTIALS_DIRECTORY: install.sh keeps the
            # credential the unit loads in /etc/edge-agent (root only: run with sudo).
            env = {"CREDENTIALS_DIRECTORY": str(CREDENTIALS_FALLBACK), **os.environ}
            client.username_pw_set(settings.username, read_password(settings, env))
        if self.address.tls:
            apply_tls(client, settings)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_args: self._subscribed.set()
        client.on_message = lambda _c, _u, msg: on_message(msg)
        self.client = client

    def _on_connect(
        self, client: paho.Client, _u: object, _f: object, rc: object, _p: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            self._refused = str(rc)
        self._connected.set()

    def connect(self, timeout: float = 10.0) -> None:
        """Connect and start the loop thread.

        Raises:
            TransportError: The broker cannot be reached or refused us.
        """
        try:
            self.client.connect(self.address.host, self.address.port or 1883)
        except OSError as exc:
            raise TransportError(
                f"cannot reach the broker: {exc.strerror or exc}", address=str(self.address)
            ) from exc
        self.client.loop_start()
        if not self._connected.wait(timeout) or self._refused is not None:
            self.close()
            raise TransportError(
                f"broker refused the connection ({self._refused or 'no answer'})",
                address=str(self.address),
            )

    def subscribe(self, topics: list[str], timeout: float = 10.0) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK."""
        self._subscribed.clear()
        self.client.subscribe([(t, 1) for t in topics])
        if not self._subscribed.wait(timeout):
            raise TransportError("no SUBACK from the broker", address=str(self.address))

    def request(self, topic: str, payload: bytes, response_topic: str) -> None:
        """Publish a control request (v5: with a response topic and correlation data)."""
        props = None
        if self.v5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = response_topic
            props.CorrelationData = uuid.uuid4().hex.encode()
        self.client.publish(topic, payload, qos=1, properties=props)

    def close(self) -> None:
        """Disconnect and stop the loop thread."""
        self.client.disconnect()
        self.client.loop_stop()
