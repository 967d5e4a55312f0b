"""Side outputs: events, retained states and partials a pipeline records per message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.pipelines.outputs import EVENT_ENVELOPE_KEYS, SideOutputs


def test_event_is_recorded_with_its_type_and_data() -> None:
    out = SideOutputs()
    out.event("new", {"label": "person", "id": 3})
    assert [(e.event_type, dict(e.data)) for e in out.events] == [
        ("new", {"label": "person", "id": 3})
    ]


@pytest.mark.parametrize("key", sorted(EVENT_ENVELOPE_KEYS))
def test_event_data_may_not_set_an_envelope_key(key: str) -> None:
    with pytest.raises(ValueError, match="envelope"):
        SideOutputs().event("new", {key: 1})


def test_retained_count_is_plain_text() -> None:
    out = SideOutputs()
    out.retain("counts/door/person", 2)
    out.retain("counts/door/driveway/car", None)
    assert [(s.path, s.payload) for s in out.states] == [
        ("counts/door/person", b"2"),
        ("counts/door/driveway/car", b""),
    ]


@pytest.mark.parametrize(
    "path", ["status", "results/x", "counts", "counts//person", "counts/+/person", "counts/#"]
)
def test_retained_state_outside_counts_or_with_bad_levels_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="state"):
        SideOutputs().retain(path, 1)


@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=5), st.integers()), max_size=20))
def test_partials_reach_the_sink_in_order_numbered_from_zero(parts: list[dict[str, int]]) -> None:
    seen: list[tuple[int, dict[str, int]]] = []
    out = SideOutputs(lambda seq, data: seen.append((seq, dict(data))))
    for part in parts:
        out.partial(part)
    assert seen == list(enumerate(parts))


def test_partials_without_a_sink_are_dropped() -> None:
    out = SideOutputs()
    out.partial({"text": "a"})
    assert out.events == []
    assert out.states == []
