"""The inbox drops its oldest message when full and counts every drop."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.transport.inbox import Inbox


def test_full_inbox_drops_the_oldest() -> None:
    inbox: Inbox[int] = Inbox(2)
    inbox.put(1)
    inbox.put(2)
    assert inbox.put(3) == 1
    assert [inbox.get(0), inbox.get(0)] == [2, 3]


def test_drops_are_counted() -> None:
    inbox: Inbox[int] = Inbox(1)
    for i in range(5):
        inbox.put(i)
    assert inbox.dropped == 4


@given(st.integers(1, 20), st.lists(st.integers(), max_size=100))
def test_keeps_the_newest_in_order(size: int, items: list[int]) -> None:
    inbox: Inbox[int] = Inbox(size)
    for item in items:
        inbox.put(item)
    kept = [inbox.get(0) for _ in range(len(inbox))]
    assert kept == items[-size:] if items else kept == []
    assert inbox.dropped == max(0, len(items) - size)


def test_get_times_out_when_empty() -> None:
    assert Inbox[int](1).get(0.01) is None


def test_get_wakes_on_put_from_another_thread() -> None:
    inbox: Inbox[str] = Inbox(1)
    threading.Timer(0.05, inbox.put, args=("x",)).start()
    assert inbox.get(5) == "x"
