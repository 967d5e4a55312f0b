"""Bounded multi-turn history: a few recent exchanges per conversation id, in memory only.

Bounds, all three: exchanges per conversation (oldest dropped first), age (a
conversation idle past ``max_age_s`` starts afresh) and the number of
conversations (the least recently used is forgotten). Nothing is written to
disk or logged; an unload keeps it (it is text, not model memory).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ConversationStore", "Exchange"]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One user message and the model's answer."""

    user: str
    assistant: str


@dataclass(slots=True)
class _Conversation:
    exchanges: list[Exchange] = field(default_factory=list)
    last_used: float = 0.0


class ConversationStore:
    """Recent exchanges per conversation id.

    Args:
        max_exchanges: Exchanges kept per conversation (0 keeps none).
        max_age_s: Idle seconds after which a conversation is forgotten.
        max_conversations: Conversations remembered at most.
        clock: Monotonic clock.
    """

    __slots__ = ("_clock", "_conversations", "max_age_s", "max_conversations", "max_exchanges")

    def __init__(
        self,
        max_exchanges: int,
        max_age_s: float,
        max_conversations: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_exchanges = max_exchanges
        self.max_age_s = max_age_s
        self.max_conversations = max_conversations
        self._clock = clock
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()

    def __len__(self) -> int:
        return len(self._conversations)

    def history(self, conversation: str) -> list[Exchange]:
        """The exchanges of a conversation, oldest first (empty when unknown or expired)."""
        conv = self._conversations.get(conversation)
        if conv is None:
            return []
        if self._clock() - conv.last_used > self.max_age_s:
            del self._conversations[conversation]
            return []
        return list(conv.exchanges)

    def add(self, conversation: str, exchange: Exchange) -> None:
        """Append an exchange, dropping the oldest ones and conversations past the bounds."""
        if self.max_exchanges == 0:
            return
        now = self._clock()
        conv = self._conversations.pop(conversation, None)
        if conv is None or now - conv.last_used > self.max_age_s:
            conv = _Conversation()
        conv.exchanges.append(exchange)
        del conv.exchanges[: -self.max_exchanges]
        conv.last_used = now
        self._conversations[conversation] = conv
        while len(self._conversations) > self.max_conversations:
            self._conversations.popitem(last=False)

    def clear(self) -> None:
        """Forget every conversation."""
        self._conversations.clear()
