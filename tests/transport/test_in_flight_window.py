"""The in-flight window follows the broker's MQTT 5 Receive Maximum (a real mosquitto)."""

from __future__ import annotations

import pytest
from support.broker import Broker

from edge_agent.config.models import BrokerSettings
from edge_agent.transport.mqtt import MqttTransport


def _window(broker: Broker, protocol: str = "5", max_outgoing: int = 1000) -> int:
    transport = MqttTransport(
        BrokerSettings(url=broker.unix_url, protocol=protocol),
        client_id=f"window-{protocol}",
        status_topic="t/status",
        subscriptions=[],
        on_message=lambda msg, ack: None,
        max_outgoing=max_outgoing,
    )
    transport.start()
    try:
        assert transport.wait_connected(10)
        assert transport.client._max_inflight_messages == transport.in_flight_window
        return transport.in_flight_window
    finally:
        transport.stop(offline=False, timeout=2)


@pytest.mark.parametrize(("conf", "expected"), [("", 20), ("max_inflight_messages 500", 500)])
def test_the_window_is_the_brokers_receive_maximum(
    tmp_path_factory: pytest.TempPathFactory, conf: str, expected: int
) -> None:
    broker = Broker(tmp_path_factory.mktemp("mq"))
    broker.extra_conf = conf  # mosquitto's default max_inflight_messages is 20
    broker.start()
    try:
        assert _window(broker) == expected
    finally:
        broker.stop()


def test_the_window_never_exceeds_the_outgoing_limit(broker: Broker) -> None:
    broker.stop()
    broker.extra_conf = "max_inflight_messages 5000"
    broker.start()
    assert _window(broker, max_outgoing=300) == 300


def test_mqtt_311_keeps_a_fixed_window(broker: Broker) -> None:
    assert _window(broker, protocol="3.1.1") == 50
