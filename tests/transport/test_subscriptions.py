"""SubscriptionSet: one identifier per distinct filter, one copy kept per message."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.transport.subscriptions import SubscriptionSet

SUBS = SubscriptionSet(
    [("sensors/+/image", 1, 0), ("sensors/door/#", 1, 2), ("sensors/+/image", 0), ("#", 0)]
)


def test_a_filter_given_twice_is_subscribed_once_with_the_first_settings() -> None:
    assert [(s.filter, s.qos, s.identifier) for s in SUBS.items] == [
        ("sensors/+/image", 1, 1),
        ("sensors/door/#", 1, 2),
        ("#", 0, 3),
    ]


def test_the_owner_is_the_first_matching_filter() -> None:
    owner = SUBS.owner("sensors/door/image")
    assert owner is not None
    assert owner.filter == "sensors/+/image"


def test_the_copy_for_a_later_subscription_is_extra() -> None:
    subs = SubscriptionSet([("sensors/+/image", 1), ("sensors/door/#", 1)])
    assert subs.is_extra_copy("sensors/door/image", [2])
    assert not subs.is_extra_copy("sensors/door/image", [1])
    assert not subs.is_extra_copy("sensors/door/image", [2, 1])  # one copy, both ids
    assert not subs.is_extra_copy("sensors/door/audio", [2])  # only the second matches
    assert subs.copies_dropped == 1


def test_without_identifiers_every_copy_is_kept() -> None:
    assert not SUBS.is_extra_copy("sensors/door/image", [])


levels = st.sampled_from(["sensors", "door", "hall", "image", "audio"])
filters = (
    st.lists(st.sampled_from(["sensors", "door", "image", "+"]), min_size=1, max_size=3).map(
        "/".join
    )
    | st.just("#")
    | st.just("sensors/#")
)


@given(st.lists(filters, min_size=1, max_size=5), st.lists(levels, min_size=1, max_size=3))
def test_exactly_one_copy_per_message_is_kept(subs: list[str], levels_: list[str]) -> None:
    # A broker sending one copy per matching subscription: exactly one survives, if any matched.
    from paho.mqtt.client import topic_matches_sub

    sset = SubscriptionSet([(f, 1) for f in subs])
    topic = "/".join(levels_)
    copies = [s.identifier for s in sset.items if topic_matches_sub(s.filter, topic)]
    kept = [i for i in copies if not sset.is_extra_copy(topic, [i])]
    assert len(kept) == (1 if copies else 0)
