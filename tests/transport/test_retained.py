"""RetainedMemory: a retained message is answered once, a changed one again."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.transport.retained import RetainedMemory

parts = st.tuples(
    st.binary(max_size=64), st.none() | st.text(max_size=16), st.none() | st.binary(max_size=16)
)


@given(parts)
def test_the_same_message_is_seen_the_second_time(
    msg: tuple[bytes, str | None, bytes | None],
) -> None:
    memory = RetainedMemory(8)
    assert not memory.seen("t", *msg)
    assert memory.seen("t", *msg)


@given(parts, parts)
def test_a_changed_message_is_new(
    a: tuple[bytes, str | None, bytes | None], b: tuple[bytes, str | None, bytes | None]
) -> None:
    norm = lambda m: (m[0], m[1] or "", m[2] or b"")  # noqa: E731 - absent equals empty
    memory = RetainedMemory(8)
    memory.seen("t", *a)
    assert memory.seen("t", *b) == (norm(a) == norm(b))


def test_parts_do_not_run_into_each_other() -> None:
    memory = RetainedMemory(8)
    memory.seen("t", b"ab", "c", None)
    assert not memory.seen("t", b"a", "bc", None)


def test_the_least_recent_topic_is_forgotten() -> None:
    memory = RetainedMemory(2)
    for topic in ("a", "b", "c"):
        memory.seen(topic, b"x", None, None)
    assert not memory.seen("a", b"x", None, None)
    assert memory.seen("c", b"x", None, None)
