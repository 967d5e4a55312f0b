"""Which retained messages were answered already (``retained = "once"`` routes)."""

from __future__ import annotations

import collections
import hashlib
import threading

__all__ = ["RetainedMemory"]


class RetainedMemory:
    """Remembers a digest of the last retained message answered per topic.

    A broker resends a topic's retained message on every (re)subscription; a route
    with ``retained = "once"`` answers it the first time only. The digest covers
    payload, content type and correlation data, so a new retained message on the
    same topic is answered. Bounded: the least recently seen topics are forgotten.

    Args:
        size: Topics remembered.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._seen: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()

    def seen(
        self, topic: str, payload: bytes, content_type: str | None, correlation: bytes | None
    ) -> bool:
        """True when this exact message was the topic's last one; otherwise remember it."""
        h = hashlib.blake2b(digest_size=16)
        for part in (payload, (content_type or "").encode(), correlation or b""):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        digest = h.digest()
        with self._lock:
            if self._seen.get(topic) == digest:
                self._seen.move_to_end(topic)
                return True
            self._seen[topic] = digest
            self._seen.move_to_end(topic)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return False
