"""A bounded per-pipeline inbox.

Drop policy: when the inbox is full, the **oldest** waiting message is dropped
to make room for the new one. Sensors stream: a fresh frame or chunk is worth
more than a stale one, and the newest message is the one a sender is waiting on.
Every drop is counted (stats ``dropped``) and reported by the caller on the
error topic with reason ``inbox_full``.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

__all__ = ["Inbox"]

T = TypeVar("T")


class Inbox(Generic[T]):
    """A thread-safe bounded FIFO that drops its oldest item when full.

    Args:
        maxsize: Most items waiting at once.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._items: collections.deque[T] = collections.deque()
        self._cond = threading.Condition()
        self.dropped = 0
        self.accepted = 0
        self.high_water = 0

    def put(self, item: T) -> T | None:
        """Add ``item``; return the item dropped to make room, if any."""
        with self._cond:
            dropped = None
            if len(self._items) >= self.maxsize:
                dropped = self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.accepted += 1
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify()
            return dropped

    def get(self, timeout: float) -> T | None:
        """Take the oldest item, waiting up to ``timeout`` seconds; None on timeout."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            return self._items.popleft()

    def wake(self) -> None:
        """Wake a waiting ``get`` (used when control work arrives)."""
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def fill(self) -> float:
        """Fraction of the capacity in use."""
        return len(self) / self.maxsize
