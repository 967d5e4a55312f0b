"""Recognise QoS 1 redeliveries of messages already taken, so none is answered twice.

Messages are acknowledged only after they were answered; if the connection drops
between the answer and the acknowledgement, the broker redelivers the message with
the DUP flag. A digest of topic and payload of recent messages tells those apart.
Only DUP-flagged messages are ever dropped: a sensor may legitimately send the
same bytes twice.
"""

from __future__ import annotations

import collections
import hashlib
import threading

from edge_agent.transport.message import InboundMessage

__all__ = ["RedeliveryFilter"]


class RedeliveryFilter:
    """Remembers the digests of the last ``window`` QoS 1 messages.

    Args:
        window: How many recent messages to remember.
    """

    def __init__(self, window: int = 4096) -> None:
        self.window = window
        self._recent: collections.OrderedDict[bytes, None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def is_redelivery(self, msg: InboundMessage) -> bool:
        """True for a DUP redelivery of a message this process already took.

        Only first deliveries are remembered: a fresh process receives a whole
        backlog of unacknowledged messages flagged DUP, and those must not be
        matched against each other (identical frames from one camera would be).
        """
        if msg.qos == 0:
            return False
        digest = _digest(msg)
        with self._lock:
            if msg.dup:
                return digest in self._recent
            self._recent[digest] = None
            self._recent.move_to_end(digest)
            while len(self._recent) > self.window:
                self._recent.popitem(last=False)
        return False


def _digest(msg: InboundMessage) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in (
        msg.topic.encode(),
        msg.correlation_data or b"",
        (msg.response_topic or "").encode(),
        msg.payload,
    ):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()
