"""Publishing never fails silently: bounded back-pressure, then queued and counted."""

from __future__ import annotations

import threading
import time

from edge_agent.config.models import BrokerSettings
from edge_agent.transport.mqtt import MqttTransport


def _transport(limit: int, wait_s: float) -> MqttTransport:
    # Never started: paho queues QoS 1 publishes while disconnected, so the queue
    # only grows, which is what a broker that stopped acknowledging looks like.
    return MqttTransport(
        BrokerSettings(url="mqtt://127.0.0.1:1"),
        client_id="bp-test",
        status_topic="t/status",
        subscriptions=[],
        on_message=lambda msg, ack: None,
        max_outgoing=limit,
        publish_wait_s=wait_s,
    )


def test_publishes_past_the_old_paho_queue_limit_are_all_accepted() -> None:
    transport = _transport(limit=60000, wait_s=0.01)
    # paho's own max_queued_messages(10000) made publish number 10,001 fail
    # (MQTT_ERR_QUEUE_SIZE) and the daemon ignored it: answers silently gone.
    accepted = sum(transport.publish("r/x", b"{}", qos=1) for _ in range(10_050))
    assert accepted == 10_050
    assert transport.outgoing == 10_050
    assert transport.publish_failures == 0


def test_a_full_queue_makes_a_worker_wait_then_queues_and_counts() -> None:
    transport = _transport(limit=5, wait_s=0.3)
    for _ in range(5):
        assert transport.publish("r/x", b"{}", qos=1)
    started = time.monotonic()
    done: list[bool] = []
    worker = threading.Thread(target=lambda: done.append(transport.publish("r/x", b"{}", qos=1)))
    worker.start()
    worker.join(5)
    waited = time.monotonic() - started
    assert done == [True]
    assert 0.25 <= waited < 3
    assert transport.backpressure_waits == 1
    assert transport.backpressure_timeouts == 1
    assert transport.outgoing == 6


def test_room_wakes_a_waiting_worker_at_once() -> None:
    transport = _transport(limit=3, wait_s=10)
    for _ in range(3):
        transport.publish("r/x", b"{}", qos=1)
    done: list[float] = []

    def publish() -> None:
        t0 = time.monotonic()
        transport.publish("r/x", b"{}", qos=1)
        done.append(time.monotonic() - t0)

    worker = threading.Thread(target=publish)
    worker.start()
    time.sleep(0.2)
    with transport.client._out_message_mutex:  # the broker acknowledged one
        mid = next(iter(transport.client._out_messages))
        del transport.client._out_messages[mid]
    transport._on_publish(transport.client, None, mid, None, None)  # type: ignore[arg-type]
    worker.join(5)
    assert done
    assert done[0] < 2
    assert transport.backpressure_timeouts == 0


def test_an_invalid_topic_is_refused_counted_and_reported_not_raised() -> None:
    transport = _transport(limit=10, wait_s=0.1)
    assert transport.publish("rel/+/x", b"{}", qos=1) is False
    assert transport.publish_failures == 1
