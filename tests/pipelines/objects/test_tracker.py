"""The tracker: stable ids, new/update/end events, counts retained and republished on change."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.pipelines.objects.streams import Streams
from edge_agent.pipelines.objects.tracker import Observation, SensorTracker, iso_time

PERSON = Observation("person", (0.1, 0.2, 0.3, 0.8), 0.8)
CAR = Observation("car", (0.6, 0.5, 0.9, 0.7), 0.7)


def _tracker() -> SensorTracker:
    return SensorTracker(match_iou=0.3, score_gain=0.05)


def _moved(
    o: Observation, dx: float, score: float | None = None, zones: tuple[str, ...] | None = None
) -> Observation:
    b = o.box
    return Observation(
        o.label,
        (b[0] + dx, b[1], b[2] + dx, b[3]),
        o.score if score is None else score,
        o.zones if zones is None else zones,
    )


@given(
    st.lists(st.floats(-0.02, 0.02), min_size=1, max_size=20),
    st.lists(st.floats(0.5, 0.84), min_size=20, max_size=20),
)
def test_a_jittering_object_keeps_its_id_and_makes_no_updates(
    steps: list[float], scores: list[float]
) -> None:
    t = _tracker()
    events, [first] = t.step([PERSON], 0.0, 2)
    assert [e.kind for e in events] == ["new"]
    dx = 0.0
    for i, step in enumerate(steps):
        dx += step
        events, ids = t.step([_moved(PERSON, dx, score=min(scores[i], 0.84))], float(i + 1), 2)
        assert ids == [first]
        assert events == []  # no zone change, no top-score gain of 0.05 over 0.8


def test_a_new_object_gets_a_new_id() -> None:
    t = _tracker()
    _, [person] = t.step([PERSON], 0.0, 2)
    events, ids = t.step([PERSON, CAR], 1.0, 2)
    assert ids[0] == person
    assert ids[1] != person
    assert [(e.kind, e.data["label"]) for e in events] == [("new", "car")]


def test_another_label_at_the_same_place_is_another_object() -> None:
    t = _tracker()
    _, [first] = t.step([PERSON], 0.0, 2)
    dog = Observation("dog", PERSON.box, 0.9)
    events, [second] = t.step([dog], 1.0, 2)
    assert second != first
    assert [e.kind for e in events] == ["new"]


@given(st.integers(0, 6))
def test_an_object_ends_after_more_than_max_missed_frames(max_missed: int) -> None:
    t = _tracker()
    t.step([PERSON], 0.0, max_missed)
    for frame in range(1, max_missed + 1):
        events, _ = t.step([], float(frame), max_missed)
        assert events == []
        assert t.counts() == {"person": 1}  # still counted while missing
    events, _ = t.step([], float(max_missed + 1), max_missed)
    assert [(e.kind, e.data["reason"]) for e in events] == [("end", "lost")]
    assert t.counts() == {}


def test_an_object_seen_again_within_max_missed_keeps_its_id() -> None:
    t = _tracker()
    _, [first] = t.step([PERSON], 0.0, 2)
    t.step([], 1.0, 2)
    t.step([], 2.0, 2)
    events, [again] = t.step([PERSON], 3.0, 2)
    assert again == first
    assert events == []


def test_entering_and_leaving_a_zone_are_updates() -> None:
    t = _tracker()
    t.step([PERSON], 0.0, 2)
    events, _ = t.step([_moved(PERSON, 0.01, zones=("driveway",))], 1.0, 2)
    assert [(e.kind, e.data["changes"]) for e in events] == [("update", ["entered:driveway"])]
    assert events[0].data["zones"] == ["driveway"]
    events, _ = t.step([_moved(PERSON, 0.02, zones=())], 2.0, 2)
    assert [(e.kind, e.data["changes"]) for e in events] == [("update", ["left:driveway"])]
    assert events[0].data["entered_zones"] == ["driveway"]


def test_a_better_top_score_is_an_update_once() -> None:
    t = _tracker()
    t.step([PERSON], 0.0, 2)
    events, _ = t.step([_moved(PERSON, 0.0, score=0.9)], 1.0, 2)
    assert [(e.kind, e.data["changes"], e.data["top_score"]) for e in events] == [
        ("update", ["top_score"], 0.9)
    ]
    events, _ = t.step([_moved(PERSON, 0.0, score=0.92)], 2.0, 2)
    assert events == []


def test_events_carry_first_and_last_seen() -> None:
    t = _tracker()
    t.step([PERSON], 100.0, 0)
    events, _ = t.step([], 101.5, 0)
    [end] = events
    assert end.data["first_seen"] == iso_time(100.0)
    assert end.data["last_seen"] == iso_time(100.0)
    assert end.data["frames"] == 1


@settings(max_examples=50)
@given(st.lists(st.sets(st.sampled_from(["person", "car"])), min_size=1, max_size=15))
def test_counts_are_published_only_when_they_change(frames: list[set[str]]) -> None:
    boxes = {"person": PERSON, "car": CAR}
    t = _tracker()
    published: dict[str, int] = {}
    for i, labels in enumerate(frames):
        t.step([boxes[label] for label in sorted(labels)], float(i), 0)
        changes = t.count_changes()
        for key, value in changes.items():
            assert published.get(key) != value  # never the same value twice in a row
            published[key] = value
        # What has been published is always the current count (0 once gone).
        assert {k: v for k, v in published.items() if v} == t.counts()


def test_counts_per_zone_and_label_use_topic_safe_labels() -> None:
    t = _tracker()
    table = Observation("dining table", (0.1, 0.5, 0.9, 0.9), 0.5, ("kitchen",))
    t.step([table, _moved(PERSON, 0.0, zones=("kitchen",))], 0.0, 1)
    assert t.count_changes() == {
        "dining_table": 1,
        "kitchen/dining_table": 1,
        "person": 1,
        "kitchen/person": 1,
    }
    t.step([], 1.0, 1)
    assert t.count_changes() == {}
    t.step([], 2.0, 1)
    assert t.count_changes() == {
        "dining_table": 0,
        "kitchen/dining_table": 0,
        "person": 0,
        "kitchen/person": 0,
    }


def test_streams_keep_one_tracker_per_route_and_sensor() -> None:
    s = Streams(max_sensors=8, idle_reset_s=60.0, match_iou=0.3, score_gain=0.05)
    a = s.step("r", "cam1", [PERSON], 0.0, 2)
    b = s.step("r", "cam2", [PERSON], 0.0, 2)
    c = s.step("other", "cam1", [PERSON], 0.0, 2)
    assert [e.kind for e in a.events + b.events + c.events] == ["new", "new", "new"]
    assert a.states == {"counts/cam1/person": 1}
    assert b.states == {"counts/cam2/person": 1}
    again = s.step("r", "cam1", [PERSON], 1.0, 2)
    assert again.ids == a.ids
    assert again.events == []
    assert again.states == {}


def test_an_idle_sensor_starts_over_and_its_objects_end() -> None:
    s = Streams(max_sensors=8, idle_reset_s=60.0, match_iou=0.3, score_gain=0.05)
    first = s.step("r", "cam1", [PERSON], 0.0, 2)
    later = s.step("r", "cam1", [PERSON], 61.0, 2)
    assert [(e.kind, e.data.get("reason")) for e in later.events] == [
        ("end", "idle"),
        ("new", None),
    ]
    assert later.ids != first.ids
    assert later.states == {}  # one person before, one person now


def test_the_least_recent_sensor_is_dropped_and_its_counts_cleared() -> None:
    s = Streams(max_sensors=2, idle_reset_s=60.0, match_iou=0.3, score_gain=0.05)
    s.step("r", "cam1", [PERSON], 0.0, 2)
    s.step("r", "cam2", [CAR], 0.0, 2)
    out = s.step("r", "cam3", [], 1.0, 2)
    assert len(s) == 2
    assert out.states == {"counts/cam1/person": None}
