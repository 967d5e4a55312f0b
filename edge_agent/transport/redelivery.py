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

from edge_agent.transport.mqtt import InboundMessage

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
        """True for a DUP redelivery of a message seen recently; records the message."""
        if msg.qos == 0:
            return False
        digest = hashlib.blake2b(msg.topic.encode() + b"\0" + msg.payload, digest_size=16).digest()
        with self._lock:
            if msg.dup and digest in self._recent:
                return True
            self._recent[digest] = None
            self._recent.move_to_end(digest)
            while len(self._recent) > self.window:
                self._recent.popitem(last=False)
        return False
