"""Hypothesis properties of the sizing policy."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.elastic.decision import (
    Decision,
    FamilyInput,
    FamilyState,
    PolicyInputs,
    PolicyState,
    PressureSignal,
    SizingReason,
)
from edge_agent.elastic.policy import SizingPolicy
from edge_agent.elastic.profile import FamilyProfile, VariantOption
from edge_agent.elastic.settings import ElasticSettings

R = SizingReason
MiB = 1024**2


@st.composite
def profiles(draw: st.DrawFn, name: str = "fam") -> FamilyProfile:
    n = draw(st.integers(min_value=1, max_value=5))
    variants = tuple(
        VariantOption(
            id=f"v{i}",
            need_bytes=draw(st.integers(min_value=1, max_value=200)) * MiB,
            latency_ms=draw(st.floats(min_value=0.1, max_value=100.0)),
            quality=draw(st.floats(min_value=0.0, max_value=1.0)),
        )
        for i in range(n)
    )
    return FamilyProfile(
        name,
        variants,
        quality_first=draw(st.sampled_from([v.id for v in variants])),
        quality_floor=draw(st.floats(min_value=0.0, max_value=1.0)),
    )


elastic_settings = st.builds(
    ElasticSettings,
    mode=st.sampled_from(["quality-first", "performance-first", "pinned"]),
    hold_s=st.floats(min_value=0.0, max_value=120.0),
    step_up_margin=st.floats(min_value=0.0, max_value=0.5),
    step_up_margin_bytes=st.integers(min_value=0, max_value=20 * MiB),
    pressure_cooldown_s=st.floats(min_value=0.0, max_value=30.0),
    idle_unload_s=st.none(),
    backlog_hold_s=st.floats(min_value=0.0, max_value=30.0),
)


@dataclass(frozen=True)
class Tick:
    dt: float
    budget: int
    psi: float | None
    fill: float


ticks = st.lists(
    st.builds(
        Tick,
        dt=st.floats(min_value=0.5, max_value=60.0),
        budget=st.integers(min_value=0, max_value=600).map(lambda m: m * MiB),
        psi=st.one_of(st.none(), st.floats(min_value=0.0, max_value=100.0)),
        fill=st.floats(min_value=0.0, max_value=1.0),
    ),
    min_size=1,
    max_size=40,
)


def simulate(
    policy: SizingPolicy, fams: list[FamilyProfile], series: list[Tick]
) -> list[tuple[float, Tick, tuple[Decision, ...]]]:
    """Run ticks, applying every decision; ``budget`` is the whole model budget."""
    current: dict[str, str | None] = {f.family: None for f in fams}
    state = PolicyState()
    now = 0.0
    out = []
    for tick in series:
        now += tick.dt
        inputs_f = tuple(
            FamilyInput(f, current=current[f.family], inbox_fill=tick.fill) for f in fams
        )
        held = sum(f.held for f in inputs_f)
        inputs = PolicyInputs(now, tick.budget - held, inputs_f, PressureSignal(tick.psi))
        result = policy.decide(inputs, state)
        state = result.state
        for d in result.decisions:
            current[d.family] = d.to_variant
        out.append((now, tick, result.decisions))
    return out


def quality(profile: FamilyProfile, vid: str | None) -> float:
    return -1.0 if vid is None else profile.variant(vid).quality


@settings(max_examples=200, deadline=None)
@given(st.lists(profiles(), min_size=1, max_size=3), elastic_settings, ticks)
def test_chosen_variants_always_fit_the_budget(
    fams: list[FamilyProfile], cfg: ElasticSettings, series: list[Tick]
) -> None:
    fams = [
        FamilyProfile(f"f{i}", f.variants, f.quality_first, f.quality_floor)
        for i, f in enumerate(fams)
    ]
    for _, tick, decisions in simulate(SizingPolicy(cfg), fams, series):
        total = 0
        for d, f in zip(decisions, fams, strict=True):
            assert d.reason in SizingReason
            if d.to_variant is not None:
                need = f.variant(d.to_variant).need_bytes
                assert d.need_bytes == need <= d.available_bytes
                total += need
        assert total <= tick.budget


@settings(max_examples=200, deadline=None)
@given(profiles(), st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=600))
def test_more_budget_never_gives_lower_quality_in_quality_first(
    profile: FamilyProfile, a: int, b: int
) -> None:
    policy = SizingPolicy(ElasticSettings(mode="quality-first", idle_unload_s=None))
    low, high = sorted((a * MiB, b * MiB))

    def choose(budget: int) -> str | None:
        inputs = PolicyInputs(0.0, budget, (FamilyInput(profile),))
        return policy.decide(inputs, PolicyState()).decisions[0].to_variant

    assert quality(profile, choose(low)) <= quality(profile, choose(high))


@settings(max_examples=200, deadline=None)
@given(profiles(), elastic_settings, ticks)
def test_no_step_up_before_the_hold_time(
    profile: FamilyProfile, cfg: ElasticSettings, series: list[Tick]
) -> None:
    last_event = 0.0  # the first tick, the last change, or the last tick under pressure
    for now, tick, (d,) in simulate(SizingPolicy(cfg), [profile], series):
        if d.reason is R.STEP_UP:
            assert now - last_event >= cfg.hold_s
        # Pressure restarts the hold, except for pinned families, which ignore it.
        pressure = cfg.mode != "pinned" and tick.psi is not None and tick.psi > cfg.psi_threshold
        if d.changed or pressure or last_event == 0.0:
            last_event = now


@settings(max_examples=200, deadline=None)
@given(
    profiles(),
    st.sampled_from(["quality-first", "performance-first"]),
    st.tuples(st.integers(min_value=1, max_value=400), st.integers(min_value=1, max_value=20)),
    st.lists(st.floats(min_value=0.0, max_value=0.999), min_size=2, max_size=60),
    st.floats(min_value=0.0, max_value=10.0),
)
def test_a_budget_wobbling_inside_the_margin_never_flaps(
    profile: FamilyProfile,
    mode: str,
    low_margin: tuple[int, int],
    wobble: list[float],
    hold_s: float,
) -> None:
    low_mib, margin_mib = low_margin
    cfg = ElasticSettings(
        mode=mode,
        hold_s=hold_s,
        step_up_margin=0.0,
        step_up_margin_bytes=margin_mib * MiB,
        idle_unload_s=None,
    )
    low = low_mib * MiB
    series = [
        Tick(dt=5.0, budget=low + int(w * margin_mib * MiB), psi=None, fill=0.0) for w in wobble
    ]
    changes = 0
    for _, _, (d,) in simulate(SizingPolicy(cfg), [profile], series):
        assert d.reason is not R.STEP_UP
        changes += d.changed
    # The first load from nothing, then at most one step down per variant: never back up.
    assert changes <= len(profile.variants) + 1


@settings(max_examples=200, deadline=None)
@given(profiles(), st.data(), st.floats(min_value=10.01, max_value=100.0))
def test_pressure_steps_down_at_once(
    profile: FamilyProfile, data: st.DataObject, psi: float
) -> None:
    cfg = ElasticSettings(mode="quality-first", psi_threshold=10.0, idle_unload_s=None)
    policy = SizingPolicy(cfg)
    lad = policy.ladder_for(profile, FamilyState())
    current = data.draw(st.sampled_from(lad))
    fam = FamilyInput(profile, current=current.id)
    inputs = PolicyInputs(0.0, 10_000 * MiB, (fam,), PressureSignal(psi_some_avg10=psi))
    (d,) = policy.decide(inputs, PolicyState()).decisions
    smaller = [v for v in lad[lad.index(current) + 1 :] if v.need_bytes < current.need_bytes]
    if smaller:
        assert d.reason is R.PRESSURE
        assert d.to_variant is not None
        assert profile.variant(d.to_variant).need_bytes < current.need_bytes
    else:
        assert (d.to_variant, d.reason) == (current.id, R.PRESSURE_AT_SMALLEST)


@settings(max_examples=200, deadline=None)
@given(profiles(), st.data(), ticks)
def test_pinned_never_changes(
    profile: FamilyProfile, data: st.DataObject, series: list[Tick]
) -> None:
    pin = data.draw(st.sampled_from([v.id for v in profile.variants]))
    cfg = ElasticSettings(mode="pinned", pinned={profile.family: pin}, idle_unload_s=None)
    for _, tick, (d,) in simulate(SizingPolicy(cfg), [profile], series):
        assert d.to_variant in {pin, None}
        fits = profile.variant(pin).need_bytes <= tick.budget
        assert (d.to_variant == pin) or not fits or d.reason is R.HOLD


@st.composite
def ranked(draw: st.DrawFn) -> list[tuple[FamilyProfile, int]]:
    """Two or three families with distinct priorities."""
    n = draw(st.integers(min_value=2, max_value=3))
    prios = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n, unique=True))
    fams = []
    for i in range(n):
        p = draw(profiles())
        fams.append(
            (FamilyProfile(f"f{i}", p.variants, p.quality_first, p.quality_floor), prios[i])
        )
    return fams


def _fresh(
    policy: SizingPolicy, fams: list[tuple[FamilyProfile, int]], budget: int
) -> dict[str, str | None]:
    inputs = PolicyInputs(0.0, budget, tuple(FamilyInput(p, priority=r) for p, r in fams))
    return {d.family: d.to_variant for d in policy.decide(inputs, PolicyState()).decisions}


@settings(max_examples=300, deadline=None)
@given(
    ranked(),
    st.integers(min_value=0, max_value=800),
    st.sampled_from(["quality-first", "performance-first"]),
)
def test_higher_priority_never_loses_quality_while_a_lower_one_is_loaded(
    fams: list[tuple[FamilyProfile, int]], budget_mib: int, mode: str
) -> None:
    policy = SizingPolicy(ElasticSettings(mode=mode, idle_unload_s=None))
    budget = budget_mib * MiB
    chosen = _fresh(policy, fams, budget)
    for high, rank in fams:
        lower_loaded = any(chosen[p.family] is not None for p, r in fams if r < rank)
        if not lower_loaded:
            continue
        # What it would get with only the families above it competing.
        above = [(p, r) for p, r in fams if r >= rank]
        assert chosen[high.family] == _fresh(policy, above, budget)[high.family]


@settings(max_examples=300, deadline=None)
@given(ranked(), st.lists(st.integers(min_value=0, max_value=800), min_size=2, max_size=12))
def test_a_falling_budget_unloads_in_priority_order(
    fams: list[tuple[FamilyProfile, int]], budgets: list[int]
) -> None:
    policy = SizingPolicy(ElasticSettings(mode="quality-first", idle_unload_s=None))
    for budget_mib in sorted(budgets, reverse=True):
        chosen = _fresh(policy, fams, budget_mib * MiB)
        for high, rank in fams:
            for low, r in fams:
                if r < rank and chosen[low.family] is not None and chosen[high.family] is None:
                    # The higher one is out only because even its smallest does not fit
                    # what the families above it left (the lower one uses what is left).
                    above = sum(
                        p.variant(v).need_bytes
                        for p, q in fams
                        if q > rank and (v := chosen[p.family]) is not None
                    )
                    smallest = min(v.load_bytes for v in policy.ladder_for(high, FamilyState()))
                    assert smallest > budget_mib * MiB - above


@settings(max_examples=150, deadline=None)
@given(
    ranked(),
    st.tuples(st.integers(min_value=1, max_value=600), st.integers(min_value=1, max_value=20)),
    st.lists(st.floats(min_value=0.0, max_value=0.999), min_size=2, max_size=40),
)
def test_a_wobbling_budget_does_not_flap_with_priorities(
    fams: list[tuple[FamilyProfile, int]], low_margin: tuple[int, int], wobble: list[float]
) -> None:
    low_mib, margin_mib = low_margin
    cfg = ElasticSettings(
        mode="quality-first",
        hold_s=30.0,
        step_up_margin=0.0,
        step_up_margin_bytes=margin_mib * MiB,
        idle_unload_s=None,
    )
    policy = SizingPolicy(cfg)
    current: dict[str, str | None] = {p.family: None for p, _ in fams}
    left: dict[str, set[str]] = {p.family: set() for p, _ in fams}
    state = PolicyState()
    now = 0.0
    for w in wobble:
        now += 5.0
        inputs_f = tuple(FamilyInput(p, current=current[p.family], priority=r) for p, r in fams)
        held = sum(f.held for f in inputs_f)
        budget = low_mib * MiB + int(w * margin_mib * MiB)
        result = policy.decide(PolicyInputs(now, budget - held, inputs_f), state)
        state = result.state
        for d in result.decisions:
            # A budget that never rises by more than the margin never brings back a
            # variant a family stepped down from. (A lower family may still step up into
            # memory a higher one released by unloading: that is not flapping.)
            if d.reason is R.STEP_UP:
                assert d.to_variant not in left[d.family]
            if d.changed and d.from_variant is not None and d.reason is not R.STEP_UP:
                left[d.family].add(d.from_variant)
            current[d.family] = d.to_variant


@settings(max_examples=300, deadline=None)
@given(ranked(), st.sampled_from(["quality-first", "performance-first"]), st.data())
def test_under_pressure_the_lowest_priority_gives_way_alone(
    fams: list[tuple[FamilyProfile, int]], mode: str, data: st.DataObject
) -> None:
    policy = SizingPolicy(ElasticSettings(mode=mode, idle_unload_s=None, psi_threshold=10.0))
    current = {
        p.family: data.draw(st.sampled_from([v.id for v in policy.ladder_for(p, FamilyState())]))
        for p, _ in fams
    }
    inputs = PolicyInputs(
        0.0,
        1 << 40,  # plenty: pressure is the only reason to change
        tuple(FamilyInput(p, current=current[p.family], priority=r) for p, r in fams),
        PressureSignal(psi_some_avg10=90.0),
    )
    decisions = policy.decide(inputs, PolicyState()).decisions
    changed = [d for d in decisions if d.changed]
    assert len(changed) <= 1
    if changed:
        assert changed[0].reason is R.PRESSURE
        lowest = min(r for _, r in fams)
        assert {p.family: r for p, r in fams}[changed[0].family] == lowest
