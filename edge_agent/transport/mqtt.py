"""The MQTT client: one paho client, its network thread, reconnects and status.

paho's own reconnect loop backs off without jitter, so this module runs the
network loop in its own named thread and reconnects with capped, jittered
exponential backoff (many devices restarting with one broker do not stampede).
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent.config.models import BrokerSettings
from edge_agent.errors import TransportError
from edge_agent.transport.address import BrokerAddress, parse_broker_url
from edge_agent.transport.connection import apply_tls, backoff_delays
from edge_agent.transport.message import Ack, InboundMessage
from edge_agent.transport.paho_client import HeldWritesClient, use_unix_wakeup_pair
from edge_agent.transport.subscriptions import SubscriptionSet

__all__ = ["MqttTransport", "ensure_started"]

log = structlog.get_logger("edge_agent.transport")

# MQTT 3.1.1 has no Receive Maximum; mosquitto acknowledges QoS 1 at once.
_V311_IN_FLIGHT = 50


class MqttTransport:
    """A persistent-session MQTT client with status, will and resubscription.

    Args:
        settings: Broker settings.
        client_id: Client id (stable, so the broker keeps our session).
        status_topic: Retained ``online``/``offline`` topic (also the last will).
        subscriptions: ``(filter, qos)`` or ``(filter, qos, retain_handling)``, resubscribed
            on every connect.
        on_message: ``(message, ack)`` on the network thread for every message; must not
            block. Messages are acknowledged only when ``ack()`` is called (after they were
            answered), so a message we never answered is redelivered to our next session.
        on_online: Called (network thread) after each successful connect.
        password: Broker password, if any.
        max_outgoing: Answers queued for the broker at most before a publishing worker
            waits (back-pressure; the inbox drop policy takes over upstream).
        publish_wait_s: Longest a worker waits for room; then the answer is queued
            anyway and the overrun is counted (``backpressure_timeouts``).
        receive_maximum: MQTT v5 Receive Maximum: unacknowledged QoS 1 messages the
            broker may have in flight to us. Every message waiting in an inbox is
            unacknowledged, so this must exceed the inboxes' total or one busy
            pipeline would stall delivery to all of them.
    """

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        client_id: str,
        status_topic: str,
        subscriptions: Sequence[tuple[str, int] | tuple[str, int, int]],
        on_message: Callable[[InboundMessage, Callable[[], None]], None],
        on_online: Callable[[], None] | None = None,
        password: str | None = None,
        max_outgoing: int = 1000,
        publish_wait_s: float = 5.0,
        receive_maximum: int = 65535,
    ) -> None:
        self.settings = settings
        self.address: BrokerAddress = parse_broker_url(settings.url)
        self.v5 = settings.protocol == "5"
        self.status_topic = status_topic
        self.subscriptions = SubscriptionSet(subscriptions)
        self.max_outgoing = max_outgoing
        self.publish_wait_s = publish_wait_s
        self.receive_maximum = receive_maximum
        self._room = threading.Condition()
        self.published = 0
        self.publish_failures = 0
        self.backpressure_waits = 0
        self.backpressure_timeouts = 0
        self._on_message_cb = on_message
        self._on_online = on_online
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self.connects = 0
        self.in_flight_window = _V311_IN_FLIGHT
        """QoS 1 publishes paho puts on the wire before the broker acknowledges any."""
        self.disconnects = 0
        self.last_error: str | None = None
        self._delay = backoff_delays(
            settings.reconnect_min_s, settings.reconnect_max_s, random.Random()
        )

        client = HeldWritesClient(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5 if self.v5 else paho.MQTTv311,
            transport=self.address.transport,
            clean_session=None if self.v5 else False,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        # paho's own queue limit makes publish() fail (MQTT_ERR_QUEUE_SIZE) after the
        # input was answered; our bounded wait in publish() replaces it.
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(_V311_IN_FLIGHT)
        if settings.username is not None:
            client.username_pw_set(settings.username, password)
        if self.address.tls:
            apply_tls(client, settings)
        client.will_set(status_topic, b"offline", qos=1, retain=True)
        use_unix_wakeup_pair(client)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self.client = client

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the network thread (it connects and keeps reconnecting)."""
        self._thread = threading.Thread(target=self._run, name="mqtt-network", daemon=True)
        # paho writes a packet from whichever thread queues it unless it knows its
        # loop thread: two writers swap packets (an ack before its answer) and share
        # one TLS connection unsafely. Told, paho wakes the loop and only it writes.
        self.client._thread = self._thread
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the first CONNACK; False on timeout."""
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        """Whether the client is connected now."""
        return self._connected.is_set()

    def stop(self, *, offline: bool = True, timeout: float = 5.0) -> None:
        """Publish ``offline`` (retained), flush, disconnect and join the thread."""
        if offline and self.connected:
            info = self.client.publish(self.status_topic, b"offline", qos=1, retain=True)
            deadline = time.monotonic() + timeout
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                time.sleep(0.01)
        self._stop.set()
        if self.connected:
            self.client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def outgoing(self) -> int:
        """QoS 1 messages handed to paho and not yet acknowledged by the broker."""
        return len(self.client._out_messages)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
        content_type: str | None = "application/json",
    ) -> bool:
        """Publish (thread-safe); True once the message is accepted for delivery.

        QoS 1 messages are queued while disconnected and sent on reconnect. When
        ``max_outgoing`` are waiting for the broker, a worker thread waits (at most
        ``publish_wait_s``) for room: back-pressure that leaves new input to the
        inboxes' drop policy instead of growing this queue. The network thread
        never waits (it is the one that drains the queue). A publish paho refuses
        is logged and counted, and returns False.
        """
        props = None
        if self.v5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if content_type:
                props.ContentType = content_type
            if correlation_data is not None:
                props.CorrelationData = correlation_data
        if qos > 0 and threading.current_thread() is not self._thread:
            self._wait_for_room()
        try:
            info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        except ValueError as exc:
            self.publish_failures += 1
            log.error(  # noqa: TRY400 - a refused topic is no traceback's business
                "publish_refused", topic_bytes=len(topic.encode()), error=str(exc)
            )
            return False
        if qos > 0:
            self.client.kept_back(info.mid)
        ok = info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
            info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0
        )
        if not ok:
            self.publish_failures += 1
            log.error("publish_failed", rc=int(info.rc), qos=qos, size=len(payload))
            return False
        self.published += 1
        return True

    def answering(self) -> AbstractContextManager[None]:
        """A block whose publishes and acknowledgements leave in one write.

        Answer a message and acknowledge it inside it: a process killed at any
        moment then leaves the broker with both or neither, so a restart neither
        loses the answer nor answers again (see ``paho_client``).
        """
        return self.client.hold()

    def _wait_for_room(self) -> None:
        if self.outgoing < self.max_outgoing:
            return
        self.backpressure_waits += 1
        deadline = time.monotonic() + self.publish_wait_s
        with self._room:
            while self.outgoing >= self.max_outgoing and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    self.backpressure_timeouts += 1
                    log.warning(
                        "publish_backpressure_timeout",
                        outgoing=self.outgoing,
                        limit=self.max_outgoing,
                        waited_s=self.publish_wait_s,
                    )
                    return
                self._room.wait(min(left, 0.1))

    def _on_publish(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._room:
            self._room.notify_all()

    # -- network thread --------------------------------------------------------------------

    def _connect_properties(self) -> Properties | None:
        if not self.v5:
            return None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = max(1, min(65535, self.receive_maximum))
        return props

    def _open(self) -> None:
        addr = self.address
        host = addr.host
        kwargs: dict[str, object] = {"keepalive": self.settings.keepalive_s}
        if self.v5:
            kwargs["clean_start"] = False
            kwargs["properties"] = self._connect_properties()
        self.client.connect(host, addr.port or 1883, **kwargs)  # type: ignore[arg-type]

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._open()
            except (OSError, ssl.SSLError) as exc:
                self.last_error = exc.strerror or str(exc)
                delay = self._delay(attempt)
                attempt += 1
                log.warning(
                    "broker_unreachable",
                    broker=str(self.address),
                    error=self.last_error,
                    retry_in_s=round(delay, 2),
                )
                self._stop.wait(delay)
                continue
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            while not self._stop.is_set() and rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                rc = self.client.loop(timeout=0.5)
            if self._connected.is_set():
                attempt = 0
            self._connected.clear()
            if self._stop.is_set():
                # Let the DISCONNECT packet out.
                for _ in range(10):
                    if self.client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        break
                break
            delay = self._delay(attempt)
            attempt += 1
            log.warning(
                "broker_connection_lost",
                broker=str(self.address),
                rc=int(rc),
                retry_in_s=round(delay, 2),
            )
            self._stop.wait(delay)

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.last_error = str(reason_code)
            log.error("broker_refused", broker=str(self.address), reason=str(reason_code))
            client.disconnect()
            return
        self.connects += 1
        self.in_flight_window = self._window(properties)
        # paho ignores the server's Receive Maximum and its setter refuses a connected
        # client; the window must be set here, before paho resends what it kept.
        client._max_inflight_messages = self.in_flight_window
        for sub in self.subscriptions.items:
            if self.v5:
                # One SUBSCRIBE per filter: its subscription identifier tells which of
                # several overlapping subscriptions a copy was delivered for. Retain
                # handling: 0 send retained messages on every subscribe, 1 only for a
                # subscription the session does not have yet, 2 never.
                props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
                props.SubscriptionIdentifier = sub.identifier
                options = SubscribeOptions(
                    qos=sub.qos, noLocal=True, retainHandling=sub.retain_handling
                )
                client.subscribe(sub.filter, options=options, properties=props)
            else:
                client.subscribe(sub.filter, qos=sub.qos)
        client.publish(self.status_topic, b"online", qos=1, retain=True)
        self._connected.set()
        log.info(
            "broker_connected",
            broker=str(self.address),
            session_present=flags.session_present,
            protocol="5" if self.v5 else "3.1.1",
            subscriptions=len(self.subscriptions.items),
        )
        if self._on_online is not None:
            self._on_online()

    def _window(self, properties: Properties | None) -> int:
        """QoS 1 answers on the wire at once: the broker's Receive Maximum (MQTT 5).

        More breaks the protocol; fewer made answers wait for acknowledgements that
        queue behind the input a flooded daemon has not read yet (50 in flight, a
        second of input queued: 50 answers a second, then back-pressure stalls).
        """
        if not self.v5:
            return _V311_IN_FLIGHT
        server = getattr(properties, "ReceiveMaximum", None) if properties is not None else None
        return max(1, min(self.max_outgoing, int(server) if server else 65535))

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.disconnects += 1
        self._connected.clear()
        self.client.drop_tails()
        if not self._stop.is_set():
            log.warning("broker_disconnected", broker=str(self.address), reason=str(reason_code))

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        content_type = getattr(props, "ContentType", None) if props is not None else None
        corr = getattr(props, "CorrelationData", None) if props is not None else None
        resp = getattr(props, "ResponseTopic", None) if props is not None else None
        user = getattr(props, "UserProperty", None) if props is not None else None
        ack = Ack(client, msg.mid, msg.qos)

        ids = getattr(props, "SubscriptionIdentifier", None) if props is not None else None
        if ids and self.subscriptions.is_extra_copy(msg.topic, ids):
            ack()  # the copy for the topic's first subscription is answered
            return

        message = InboundMessage(
            topic=msg.topic,
            payload=bytes(msg.payload),
            qos=msg.qos,
            retain=bool(msg.retain),
            dup=bool(msg.dup),
            content_type=content_type,
            correlation_data=bytes(corr) if corr is not None else None,
            response_topic=resp,
            user_properties=tuple((str(k), str(v)) for k, v in (user or [])),
        )
        with self.client.hold():  # an answer made on arrival leaves with its ack
            self._on_message_cb(message, ack)


def ensure_started(transport: MqttTransport, timeout: float) -> None:
    """Start ``transport`` and wait for the first connection.

    Raises:
        TransportError: Not connected within ``timeout``.
    """
    transport.start()
    if not transport.wait_connected(timeout):
        transport.stop(offline=False, timeout=1.0)
        raise TransportError(
            f"no connection within {timeout:g}s ({transport.last_error or 'no answer'})",
            address=str(transport.address),
        )
