"""An answer and its acknowledgement leave in one write, through a real mosquitto.

The socket write is watched (``_sock_send`` wrapped); the broker is real, and is
stopped (SIGSTOP) or restarted to make paho keep an answer back.
"""

from __future__ import annotations

import os
import queue
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from support.broker import Broker
from support.client import TestClient

from edge_agent.config.models import BrokerSettings
from edge_agent.transport.message import Ack, InboundMessage
from edge_agent.transport.mqtt import MqttTransport

Inbox = queue.Queue[tuple[InboundMessage, Ack]]


@contextmanager
def _transport(broker: Broker) -> Iterator[tuple[MqttTransport, Inbox, list[bytes]]]:
    inbox: Inbox = queue.Queue()
    transport = MqttTransport(
        BrokerSettings(url=broker.unix_url, reconnect_min_s=0.05, reconnect_max_s=0.2),
        client_id="held-writes",
        status_topic="t/status",
        subscriptions=[("in/#", 1)],
        on_message=lambda msg, ack: inbox.put((msg, ack)),  # type: ignore[arg-type]
    )
    writes: list[bytes] = []
    send = transport.client._sock_send

    def recording_send(data: bytes) -> int:
        sent = send(data)
        writes.append(bytes(data[:sent]))
        return sent

    transport.client._sock_send = recording_send  # type: ignore[method-assign]
    transport.start()
    assert transport.wait_connected(10)
    try:
        yield transport, inbox, writes
    finally:
        transport.stop(offline=False, timeout=2)


def _question(broker: Broker, inbox: Inbox) -> Ack:
    sender = TestClient(broker.unix_url)
    try:
        sender.publish("in/x", b"question", qos=1)
        _msg, ack = inbox.get(timeout=10)
    finally:
        sender.close()
    assert ack.qos == 1
    return ack


def _puback(mid: int) -> bytes:
    return struct.pack("!BBH", 0x40, 2, mid)


def _wait(predicate: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_an_answer_and_its_acknowledgement_are_one_write(broker: Broker) -> None:
    with _transport(broker) as (transport, inbox, writes):
        ack = _question(broker, inbox)
        with transport.answering():
            assert transport.publish("out/x", b"the answer", qos=1)
            time.sleep(0.05)  # the network thread is free meanwhile: it must not write it
            ack()
        assert _wait(lambda: any(_puback(ack.mid) in w for w in writes))
        answer = [w for w in writes if b"out/x" in w]
        assert len(answer) == 1
        assert answer[0].endswith(_puback(ack.mid))


def test_an_acknowledgement_rides_behind_an_answer_the_window_kept_back(broker: Broker) -> None:
    broker.stop()
    broker.extra_conf = "max_inflight_messages 1"  # its Receive Maximum: one answer in flight
    broker.start()
    with _transport(broker) as (transport, inbox, writes):
        assert transport.in_flight_window == 1
        ack = _question(broker, inbox)
        assert _wait(lambda: transport.outgoing == 0)
        assert broker.proc is not None
        os.kill(broker.proc.pid, signal.SIGSTOP)  # nothing acknowledged: the window stays full
        try:
            assert transport.publish("out/first", b"1", qos=1)
            assert _wait(lambda: any(b"out/first" in w for w in writes))
            with transport.answering():
                assert transport.publish("out/x", b"the answer", qos=1)
                ack()
            time.sleep(0.2)
            assert not any(_puback(ack.mid) in w for w in writes)
        finally:
            os.kill(broker.proc.pid, signal.SIGCONT)
        assert _wait(lambda: any(b"out/x" in w for w in writes))
        answer = next(w for w in writes if b"out/x" in w)
        assert answer.endswith(_puback(ack.mid))


def test_without_a_connection_the_acknowledgement_never_reaches_the_next_one(
    broker: Broker,
) -> None:
    with _transport(broker) as (transport, inbox, writes):
        ack = _question(broker, inbox)
        broker.stop()
        assert _wait(lambda: not transport.connected)
        with transport.answering():
            assert transport.publish("out/x", b"the answer", qos=1)  # kept for the next one
            ack()
        broker.start()
        assert _wait(lambda: any(b"out/x" in w for w in writes))
        time.sleep(0.2)
        # Its packet id names the lost session's message; on a new one it could name another.
        assert not any(_puback(ack.mid) in w for w in writes)


def test_a_block_held_on_another_thread_does_not_hold_this_one(broker: Broker) -> None:
    with _transport(broker) as (transport, _inbox, writes):
        inside, release = threading.Event(), threading.Event()

        def answering_slowly() -> None:
            with transport.answering():
                transport.publish("out/slow", b"slow", qos=1)
                inside.set()
                release.wait(10)

        worker = threading.Thread(target=answering_slowly)
        worker.start()
        try:
            assert inside.wait(10)
            assert transport.publish("out/fast", b"fast", qos=1)
            assert _wait(lambda: any(b"out/fast" in w for w in writes))
            assert not any(b"out/slow" in w for w in writes)
        finally:
            release.set()
            worker.join(10)
        assert _wait(lambda: any(b"out/slow" in w for w in writes))
