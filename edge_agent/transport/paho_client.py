"""paho's MQTT client, adapted: answers leave with their acknowledgements, reads are batched.

The daemon acknowledges a message after its answer. paho writes every packet with
its own ``send()`` (and, with our own network loop, from whichever thread queued
it), so a process killed between the answer's write and the acknowledgement's
left the answer delivered and the message unacknowledged: the broker redelivered
it to the next process, which answered it a second time. Inside :meth:`hold`
the packets a thread queues are kept and then queued as one, so one ``send()``
carries the answer and its acknowledgement: a kill leaves both or neither.

An answer paho keeps back because its in-flight window is full has no packet
yet; the held packets then wait for it and leave appended to it, so an
acknowledgement never goes out before the answer it follows. Without a
connection nothing held is sent: paho resends the answer on the next connection,
and the broker redelivers the message (recognised there as answered).

paho reads a packet with three or more ``recv()`` calls (the command byte, each
length byte, the body) and handles one packet per ``select()`` when nothing is
in flight. Every syscall gives up the GIL, and taking it back waits behind busy
worker threads, so at a few thousand small messages a second (audio chunks) the
network thread spent its time waiting for the GIL and mosquitto dropped what it
could not deliver. Here the socket is read 64 KiB at a time into a read-ahead
buffer that paho's reads are served from, and one loop handles up to
``_PACKETS_PER_READ`` packets before it writes.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

__all__ = ["HeldWritesClient", "use_unix_wakeup_pair"]

_PUBLISH = 0x30
_PUBACK = 0x40
_READ_SIZE = 65536
# Enough to empty the buffer of small messages in one go, few enough that answers
# and acknowledgements still go out between two batches of a flood.
_PACKETS_PER_READ = 256


class _Held(threading.local):
    packets: list[bytes] | None = None  # None: this thread is not inside hold()
    waiting_for: int | None = None  # mid of an answer paho kept back
    qos0: list[paho.MQTTMessageInfo] = []  # noqa: RUF012 - reset per hold, per thread


class HeldWritesClient(paho.Client):
    """A paho client whose packets, queued inside :meth:`hold`, leave in one write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held = _Held()
        self._tails: dict[int, bytes] = {}
        self._read_ahead = bytearray()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the packets this thread queues until the block ends, then queue them as one.

        Re-entrant: an inner ``hold`` joins the outer one.
        """
        held = self._held
        if held.packets is not None:
            yield
            return
        held.packets, held.waiting_for, held.qos0 = [], None, []
        try:
            yield
        finally:
            packets, waiting_for, qos0 = held.packets, held.waiting_for, held.qos0
            held.packets, held.waiting_for, held.qos0 = None, None, []
            if packets:
                self._release(b"".join(packets), waiting_for)
            for info in qos0:
                info._set_as_published()

    def kept_back(self, mid: int) -> None:
        """Note that the publish ``mid`` (made inside :meth:`hold`) may have been kept back.

        If paho did not send it, what is held leaves with it, not before it.
        """
        if self._held.packets is not None:
            self._held.waiting_for = mid

    def drop_tails(self) -> None:
        """Forget packets waiting for kept-back answers (on disconnect).

        Their acknowledgements name packet ids of the lost connection; the broker
        redelivers those messages and the redelivery is recognised as answered.
        """
        self._tails.clear()

    def _release(self, data: bytes, waiting_for: int | None) -> None:
        with self._out_message_mutex:
            message = self._out_messages.get(waiting_for) if waiting_for is not None else None
            # Kept back while connected: its in-flight window is full. Not connected
            # (mqtt_ms_publish), paho discards what is queued when it reconnects, so
            # acknowledgements naming packet ids of the lost connection never reach
            # the next one.
            if (
                waiting_for is not None
                and message is not None
                and message.state == paho.mqtt_ms_queued
            ):
                self._tails[waiting_for] = self._tails.get(waiting_for, b"") + data
                return
            # The command only steers paho's bookkeeping after the write: PUBACK has none.
            super()._packet_queue(_PUBACK, data, 0, 1, None)

    def _packet_queue(
        self,
        command: int,
        packet: bytes | bytearray,
        mid: int,
        qos: int,
        info: paho.MQTTMessageInfo | None = None,
    ) -> MQTTErrorCode:
        held = self._held
        if held.packets is not None:
            held.packets.append(bytes(packet))
            if info is not None and qos == 0 and command & 0xF0 == _PUBLISH:
                held.qos0.append(info)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        if command & 0xF0 == _PUBLISH and self._tails:
            tail = self._tails.pop(mid, None)
            if tail is not None:
                packet = bytes(packet) + tail
        return super()._packet_queue(command, packet, mid, qos, info)

    # -- reads --------------------------------------------------------------------------

    def _sock_recv(self, bufsize: int) -> bytes:
        buf = self._read_ahead
        if not buf:
            chunk = super()._sock_recv(_READ_SIZE)  # SSL want-read becomes BlockingIOError
            if len(chunk) <= bufsize:
                return chunk  # also b"": the connection closed
            buf.extend(chunk)
        out = bytes(buf[:bufsize])
        del buf[:bufsize]  # CPython trims a bytearray's front without moving the rest
        return out

    def _sock_close(self) -> None:
        self._read_ahead.clear()  # bytes of a closed connection are no packets of the next
        super()._sock_close()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Handle up to ``_PACKETS_PER_READ`` packets (paho's own stops at one).

        Args:
            max_packets: Ignored, as paho ignores it.
        """
        for _ in range(_PACKETS_PER_READ):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _loop(self, timeout: float = 1.0) -> MQTTErrorCode:
        # Packets already read from the socket do not wake select(): handle them first,
        # and do not wait in select() while some remain.
        if self._read_ahead and self._sock is not None:
            rc = self.loop_read()
            if rc or self._sock is None:
                return rc
            if self._read_ahead:
                timeout = 0.0
        return super()._loop(timeout)


def use_unix_wakeup_pair(client: paho.Client) -> None:
    """Give paho an AF_UNIX socketpair for waking its loop.

    paho builds this pair on first use with TCP on 127.0.0.1 (for Windows), which
    fails in a network namespace without interfaces and would need AF_INET under
    systemd's RestrictAddressFamilies=AF_UNIX. paho only creates the pair when it
    is missing, so setting it first keeps the daemon AF_UNIX-only.
    """
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    client._sockpairR, client._sockpairW = reader, writer
