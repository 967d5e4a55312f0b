"""The sizing policy, one behaviour per test."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.elastic.decision import (
    Decision,
    FamilyInput,
    PolicyInputs,
    PolicyState,
    PressureSignal,
    SizingReason,
)
from edge_agent.elastic.policy import SizingPolicy
from edge_agent.elastic.profile import FamilyProfile, VariantOption
from edge_agent.elastic.settings import ElasticSettings
from edge_agent.errors import ConfigError

R = SizingReason
MiB = 1024**2


def faces(quality_first: str = "big", floor: float = 0.8) -> FamilyProfile:
    return FamilyProfile(
        "faces",
        (
            VariantOption("small", 10 * MiB, 1.0, 0.70),
            VariantOption("mid", 30 * MiB, 3.0, 0.85),
            VariantOption("big", 80 * MiB, 9.0, 0.95),
        ),
        quality_first=quality_first,
        quality_floor=floor,
    )


def text() -> FamilyProfile:
    return FamilyProfile(
        "text",
        (VariantOption("t-small", 20 * MiB, 2.0, 0.6), VariantOption("t-big", 60 * MiB, 6.0, 0.9)),
        quality_first="t-big",
    )


def settings(**kw: Any) -> ElasticSettings:
    base: dict[str, Any] = {
        "hold_s": 30.0,
        "step_up_margin": 0.0,
        "step_up_margin_bytes": 5 * MiB,
        "idle_unload_s": None,
        "pressure_cooldown_s": 10.0,
        "psi_threshold": 10.0,
    }
    base.update(kw)
    return ElasticSettings(**base)


def once(
    policy: SizingPolicy,
    budget: int,
    *fams: FamilyInput,
    now: float = 0.0,
    state: PolicyState | None = None,
    pressure: PressureSignal | None = None,
) -> tuple[tuple[Decision, ...], PolicyState]:
    """One tick where ``budget`` is the whole model budget (free = budget - held)."""
    held = sum(f.held for f in fams)
    inputs = PolicyInputs(now, budget - held, fams, pressure or PressureSignal())
    result = policy.decide(inputs, state or PolicyState())
    return result.decisions, result.state


def test_quality_first_runs_the_best_quality_that_fits() -> None:
    (d,), _ = once(SizingPolicy(settings()), 50 * MiB, FamilyInput(faces()))
    assert (d.to_variant, d.reason) == ("mid", R.FITS)


def test_quality_first_never_exceeds_the_manifest_preference() -> None:
    (d,), _ = once(SizingPolicy(settings()), 500 * MiB, FamilyInput(faces(quality_first="mid")))
    assert d.to_variant == "mid"


def test_performance_first_runs_the_fastest_above_the_floor() -> None:
    policy = SizingPolicy(settings(mode="performance-first"))
    (d,), _ = once(policy, 500 * MiB, FamilyInput(faces()))
    assert d.to_variant == "mid"


def test_performance_first_falls_below_the_floor_when_nothing_else_fits() -> None:
    (d,), _ = once(SizingPolicy(settings(mode="performance-first")), 20 * MiB, FamilyInput(faces()))
    assert d.to_variant == "small"


def test_quality_floor_setting_overrides_the_manifest() -> None:
    policy = SizingPolicy(settings(mode="performance-first", quality_floor=0.9))
    (d,), _ = once(policy, 500 * MiB, FamilyInput(faces()))
    assert d.to_variant == "big"


def test_over_budget_steps_down_at_once() -> None:
    (d,), _ = once(SizingPolicy(settings()), 40 * MiB, FamilyInput(faces(), current="big"))
    assert (d.from_variant, d.to_variant, d.reason) == ("big", "mid", R.OVER_BUDGET)
    assert (d.budget_bytes, d.need_bytes) == (40 * MiB, 30 * MiB)


def test_nothing_fits_unloads() -> None:
    (d,), _ = once(SizingPolicy(settings()), 5 * MiB, FamilyInput(faces(), current="small"))
    assert (d.to_variant, d.reason) == (None, R.OVER_BUDGET)


def test_budget_adds_back_what_the_loaded_variant_holds() -> None:
    fam = FamilyInput(faces(), current="big", held_bytes=80 * MiB)
    inputs = PolicyInputs(now=0.0, free_bytes=0, families=(fam,))
    (d,) = SizingPolicy(settings()).decide(inputs, PolicyState()).decisions
    assert (d.to_variant, d.reason, d.budget_bytes) == ("big", R.FITS, 80 * MiB)


def test_observed_need_replaces_the_estimate() -> None:
    profile = faces().with_observed({"mid": 45 * MiB})
    (d,), _ = once(SizingPolicy(settings()), 40 * MiB, FamilyInput(profile))
    assert d.to_variant == "small"


def test_step_up_waits_for_the_hold_time() -> None:
    policy = SizingPolicy(settings(hold_s=30.0))
    fam = FamilyInput(faces(), current="mid")
    (d1,), st = once(policy, 200 * MiB, fam, now=100.0)
    (d2,), st = once(policy, 200 * MiB, fam, now=129.0, state=st)
    (d3,), _ = once(policy, 200 * MiB, fam, now=130.0, state=st)
    assert [d.reason for d in (d1, d2, d3)] == [R.HOLD, R.HOLD, R.STEP_UP]
    assert d3.to_variant == "big"


def test_a_dip_restarts_the_hold_time() -> None:
    policy = SizingPolicy(settings(hold_s=30.0))
    fam = FamilyInput(faces(), current="mid")
    _, st = once(policy, 200 * MiB, fam, now=0.0)
    (dip,), st = once(policy, 50 * MiB, fam, now=20.0, state=st)
    (d,), _ = once(policy, 200 * MiB, fam, now=35.0, state=st)
    assert dip.reason is R.FITS
    assert d.reason is R.HOLD


def test_step_up_needs_the_margin() -> None:
    policy = SizingPolicy(settings(hold_s=0.0, step_up_margin_bytes=10 * MiB))
    (d,), _ = once(policy, 85 * MiB, FamilyInput(faces(), current="mid"))
    assert (d.to_variant, d.reason) == ("mid", R.FITS)


def test_psi_above_threshold_steps_down_one_rung() -> None:
    policy = SizingPolicy(settings())
    (d,), _ = once(
        policy,
        500 * MiB,
        FamilyInput(faces(), current="big"),
        pressure=PressureSignal(psi_some_avg10=25.0),
    )
    assert (d.to_variant, d.reason) == ("mid", R.PRESSURE)


def test_pressure_steps_wait_for_the_cooldown() -> None:
    policy = SizingPolicy(settings(pressure_cooldown_s=10.0))
    p = PressureSignal(psi_some_avg10=25.0)
    _, st = once(policy, 500 * MiB, FamilyInput(faces(), current="big"), now=0.0, pressure=p)
    (d2,), st = once(
        policy, 500 * MiB, FamilyInput(faces(), current="mid"), now=5.0, state=st, pressure=p
    )
    (d3,), _ = once(
        policy, 500 * MiB, FamilyInput(faces(), current="mid"), now=10.0, state=st, pressure=p
    )
    assert (d2.to_variant, d2.reason) == ("mid", R.PRESSURE)
    assert (d3.to_variant, d3.reason) == ("small", R.PRESSURE)


def test_pressure_at_the_smallest_keeps_it() -> None:
    (d,), _ = once(
        SizingPolicy(settings()),
        500 * MiB,
        FamilyInput(faces(), current="small"),
        pressure=PressureSignal(psi_some_avg10=99.0),
    )
    assert (d.to_variant, d.reason) == ("small", R.PRESSURE_AT_SMALLEST)


def test_a_rise_in_memory_events_high_is_pressure() -> None:
    policy = SizingPolicy(settings())
    fam = FamilyInput(faces(), current="big")
    (d1,), st = once(policy, 500 * MiB, fam, pressure=PressureSignal(events_high=4))
    (d2,), _ = once(
        policy, 500 * MiB, fam, now=5.0, state=st, pressure=PressureSignal(events_high=5)
    )
    assert d1.reason is R.FITS  # the first reading is a baseline
    assert (d2.to_variant, d2.reason) == ("mid", R.PRESSURE)


def test_a_rise_in_oom_events_is_pressure() -> None:
    policy = SizingPolicy(settings())
    fam = FamilyInput(faces(), current="big")
    _, st = once(policy, 500 * MiB, fam, pressure=PressureSignal(events_oom=0))
    (d,), _ = once(policy, 500 * MiB, fam, now=5.0, state=st, pressure=PressureSignal(events_oom=1))
    assert d.reason is R.PRESSURE


def test_pinned_runs_the_pinned_variant() -> None:
    policy = SizingPolicy(settings(mode="pinned", pinned={"faces": "mid"}))
    (d,), _ = once(policy, 500 * MiB, FamilyInput(faces()))
    assert (d.to_variant, d.reason) == ("mid", R.PINNED)


def test_pinned_that_cannot_fit_runs_nothing() -> None:
    policy = SizingPolicy(settings(mode="pinned", pinned={"faces": "big"}))
    (d,), _ = once(policy, 50 * MiB, FamilyInput(faces(), current="big"))
    assert (d.to_variant, d.reason) == (None, R.PINNED_DOES_NOT_FIT)


def test_pinned_ignores_pressure() -> None:
    policy = SizingPolicy(settings(pinned={"faces": "big"}))
    (d,), _ = once(
        policy,
        500 * MiB,
        FamilyInput(faces(), current="big"),
        pressure=PressureSignal(psi_some_avg10=90.0),
    )
    assert (d.to_variant, d.reason) == ("big", R.PINNED)


def test_unknown_pinned_variant_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        SizingPolicy(settings(pinned={"faces": "huge"})).validate([faces()])
    assert info.value.key == "elastic.pinned.faces"


def test_idle_family_is_unloaded_and_frees_its_budget() -> None:
    policy = SizingPolicy(settings(idle_unload_s=60.0))
    idle = FamilyInput(faces(), current="big", last_activity=0.0)
    busy = FamilyInput(text(), current="t-small", last_activity=99.0)
    (d_idle, d_busy), _ = once(policy, 90 * MiB, idle, busy, now=100.0)
    assert (d_idle.to_variant, d_idle.reason) == (None, R.IDLE)
    assert d_busy.available_bytes == 90 * MiB


def test_idle_family_reloads_at_once_on_demand() -> None:
    policy = SizingPolicy(settings(idle_unload_s=60.0))
    was_idle = FamilyInput(faces(), current="big", last_activity=0.0)
    _, st = once(policy, 500 * MiB, was_idle, now=100.0)
    back = FamilyInput(faces(), last_activity=101.0)
    (d,), _ = once(policy, 500 * MiB, back, now=101.0, state=st)
    assert (d.to_variant, d.reason) == ("big", R.FITS)


def test_reload_after_an_over_budget_unload_waits_for_the_hold_time() -> None:
    policy = SizingPolicy(settings(hold_s=30.0))
    _, st = once(policy, 5 * MiB, FamilyInput(faces(), current="small"), now=0.0)
    (d1,), st = once(policy, 500 * MiB, FamilyInput(faces()), now=1.0, state=st)
    (d2,), _ = once(policy, 500 * MiB, FamilyInput(faces()), now=31.0, state=st)
    assert (d1.to_variant, d1.reason) == (None, R.HOLD)
    assert (d2.to_variant, d2.reason) == ("big", R.STEP_UP)


def test_earlier_families_get_their_preference_first() -> None:
    (d_faces, d_text), _ = once(
        SizingPolicy(settings()), 110 * MiB, FamilyInput(faces()), FamilyInput(text())
    )
    assert (d_faces.to_variant, d_text.to_variant) == ("big", "t-small")


def test_later_families_keep_a_seat() -> None:
    # Greedy without seats would give faces "big" (80) and leave text 15 MiB: nothing.
    (d_faces, d_text), _ = once(
        SizingPolicy(settings()), 95 * MiB, FamilyInput(faces()), FamilyInput(text())
    )
    assert (d_faces.to_variant, d_text.to_variant) == ("mid", "t-big")


def test_backlog_sheds_to_a_faster_variant() -> None:
    policy = SizingPolicy(settings(mode="performance-first", backlog_hold_s=10.0))
    fam = FamilyInput(faces(), current="mid", inbox_fill=1.0)
    (d1,), st = once(policy, 500 * MiB, fam, now=0.0)
    (d2,), _ = once(policy, 500 * MiB, fam, now=10.0, state=st)
    assert d1.to_variant == "mid"
    assert (d2.to_variant, d2.reason) == ("small", R.INBOX_BACKLOG)


def test_drained_inbox_steps_back_up_after_the_hold() -> None:
    policy = SizingPolicy(settings(mode="performance-first", backlog_hold_s=0.0, hold_s=30.0))
    _, st = once(policy, 500 * MiB, FamilyInput(faces(), current="mid", inbox_fill=1.0), now=0.0)
    calm = FamilyInput(faces(), current="small", inbox_fill=0.0)
    (d1,), st = once(policy, 500 * MiB, calm, now=1.0, state=st)
    (d2,), _ = once(policy, 500 * MiB, calm, now=31.0, state=st)
    assert d1.reason is R.HOLD
    assert (d2.to_variant, d2.reason) == ("mid", R.STEP_UP)


def test_transient_fit_is_false_when_free_memory_cannot_hold_both() -> None:
    fam = FamilyInput(faces(), current="mid", held_bytes=30 * MiB)
    inputs = PolicyInputs(now=0.0, free_bytes=70 * MiB, families=(fam,))
    policy = SizingPolicy(settings(hold_s=0.0))
    (d,) = policy.decide(inputs, PolicyState()).decisions
    assert (d.to_variant, d.transient_fits) == ("big", False)


def test_lower_priority_is_unloaded_before_a_higher_one_loses_quality() -> None:
    # The same budget as test_later_families_keep_a_seat, but text ranks lower.
    (d_faces, d_text), _ = once(
        SizingPolicy(settings()),
        95 * MiB,
        FamilyInput(faces(), priority=80),
        FamilyInput(text(), priority=70),
    )
    assert (d_faces.to_variant, d_text.to_variant) == ("big", None)
    assert d_text.reason is R.OVER_BUDGET


def test_priority_decides_the_order_not_the_config() -> None:
    # text listed first but ranked higher than faces... and decisions stay in input order.
    (d_text, d_faces), _ = once(
        SizingPolicy(settings()),
        95 * MiB,
        FamilyInput(text(), priority=90),
        FamilyInput(faces(), priority=10),
    )
    assert (d_text.family, d_faces.family) == ("text", "faces")
    assert (d_text.to_variant, d_faces.to_variant) == ("t-big", "mid")


def test_lower_priority_steps_down_first_under_a_shrinking_budget() -> None:
    policy = SizingPolicy(settings())
    fams = (
        FamilyInput(faces(), current="big", priority=80),
        FamilyInput(text(), current="t-big", priority=70),
    )
    (d_faces, d_text), _ = once(policy, 120 * MiB, *fams)
    assert (d_faces.to_variant, d_text.to_variant) == ("big", "t-small")


def test_under_pressure_only_the_lowest_priority_steps_down() -> None:
    (d_faces, d_text), _ = once(
        SizingPolicy(settings()),
        500 * MiB,
        FamilyInput(faces(), current="big", priority=80),
        FamilyInput(text(), current="t-big", priority=70),
        pressure=PressureSignal(psi_some_avg10=50.0),
    )
    assert (d_faces.to_variant, d_text.to_variant) == ("big", "t-small")
    assert d_text.reason is R.PRESSURE


def test_under_pressure_the_lowest_at_its_smallest_is_unloaded() -> None:
    (d_faces, d_text), _ = once(
        SizingPolicy(settings()),
        500 * MiB,
        FamilyInput(faces(), current="big", priority=80),
        FamilyInput(text(), current="t-small", priority=70),
        pressure=PressureSignal(psi_some_avg10=50.0),
    )
    assert (d_faces.to_variant, d_text.to_variant) == ("big", None)
    assert d_text.reason is R.PRESSURE


def test_under_pressure_equal_priorities_at_their_smallest_stay() -> None:
    (d_faces, d_text), _ = once(
        SizingPolicy(settings()),
        500 * MiB,
        FamilyInput(faces(), current="small", priority=50),
        FamilyInput(text(), current="t-small", priority=50),
        pressure=PressureSignal(psi_some_avg10=50.0),
    )
    assert (d_faces.to_variant, d_text.to_variant) == ("small", "t-small")


def test_on_demand_family_is_not_loaded_before_its_first_message() -> None:
    policy = SizingPolicy(settings(idle_unload_s=600.0))
    (d,), _ = once(policy, 500 * MiB, FamilyInput(text(), on_demand=True, last_activity=None))
    assert (d.to_variant, d.reason) == (None, R.ON_DEMAND)
    (d,), _ = once(
        policy, 500 * MiB, FamilyInput(text(), on_demand=True, last_activity=1.0), now=2.0
    )
    assert (d.to_variant, d.reason) == ("t-big", R.FITS)


def test_a_family_idle_timeout_overrides_the_settings() -> None:
    policy = SizingPolicy(settings(idle_unload_s=600.0))
    fam = FamilyInput(text(), current="t-big", last_activity=0.0, idle_unload_s=30.0)
    (d,), _ = once(policy, 500 * MiB, fam, now=31.0)
    assert (d.to_variant, d.reason) == (None, R.IDLE)
    never = FamilyInput(text(), current="t-big", last_activity=0.0, idle_unload_s=None)
    (d,), _ = once(policy, 500 * MiB, never, now=10_000.0)
    assert d.to_variant == "t-big"


def _peaky() -> FamilyProfile:
    return FamilyProfile(
        "gen",
        (
            VariantOption("small", 100 * MiB, 10.0, 0.5, peak_bytes=150 * MiB),
            VariantOption("big", 300 * MiB, 20.0, 0.8, peak_bytes=900 * MiB),
        ),
        quality_first="big",
    )


def test_a_variant_loads_only_where_its_peak_fits() -> None:
    # big needs 300 MiB to run but 900 MiB while loading: with 500 MiB, small it is.
    (d,), _ = once(SizingPolicy(settings()), 500 * MiB, FamilyInput(_peaky()))
    assert d.to_variant == "small"
    (d,), _ = once(SizingPolicy(settings()), 950 * MiB, FamilyInput(_peaky()))
    assert d.to_variant == "big"


def test_a_loaded_variant_stays_while_its_need_fits_even_if_its_peak_would_not() -> None:
    (d,), _ = once(SizingPolicy(settings()), 500 * MiB, FamilyInput(_peaky(), current="big"))
    assert (d.to_variant, d.reason) == ("big", R.FITS)


def test_transient_fit_counts_the_load_peak() -> None:
    fam = FamilyInput(_peaky(), current="small")
    (d,), _ = once(SizingPolicy(settings(hold_s=0.0)), 2000 * MiB, fam)
    assert d.to_variant == "big"
    assert d.transient_fits  # 1900 MiB free holds the 900 MiB peak beside small
