"""Redeliveries of messages already taken are recognised; repeats without DUP are not."""

from __future__ import annotations

from edge_agent.transport.message import InboundMessage
from edge_agent.transport.redelivery import RedeliveryFilter


def _msg(payload: bytes, *, dup: bool = False, qos: int = 1) -> InboundMessage:
    return InboundMessage(topic="sensors/a/image", payload=payload, qos=qos, dup=dup)


def test_dup_of_a_seen_message_is_a_redelivery() -> None:
    f = RedeliveryFilter()
    assert not f.is_redelivery(_msg(b"x"))
    assert f.is_redelivery(_msg(b"x", dup=True))


def test_same_bytes_without_dup_are_a_new_message() -> None:
    f = RedeliveryFilter()
    f.is_redelivery(_msg(b"x"))
    assert not f.is_redelivery(_msg(b"x"))


def test_dup_of_an_unseen_message_is_answered() -> None:
    assert not RedeliveryFilter().is_redelivery(_msg(b"y", dup=True))


def test_window_forgets_old_messages() -> None:
    f = RedeliveryFilter(window=2)
    for p in (b"1", b"2", b"3"):
        f.is_redelivery(_msg(p))
    assert not f.is_redelivery(_msg(b"1", dup=True))


def test_qos0_is_never_filtered() -> None:
    f = RedeliveryFilter()
    f.is_redelivery(_msg(b"z", qos=0))
    assert not f.is_redelivery(_msg(b"z", qos=0, dup=True))


def test_a_backlog_of_dups_is_not_matched_against_itself() -> None:
    f = RedeliveryFilter()
    assert not f.is_redelivery(_msg(b"same", dup=True))
    assert not f.is_redelivery(_msg(b"same", dup=True))


def test_correlation_data_tells_identical_payloads_apart() -> None:
    f = RedeliveryFilter()
    f.is_redelivery(InboundMessage(topic="t", payload=b"p", qos=1, correlation_data=b"a"))
    other = InboundMessage(topic="t", payload=b"p", qos=1, dup=True, correlation_data=b"b")
    assert not f.is_redelivery(other)
