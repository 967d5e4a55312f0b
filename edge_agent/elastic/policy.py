"""The sizing policy: which variant each family runs. Pure, deterministic, no I/O.

Rules, in the order they are applied to each tick:

1. **Budget** = free memory + what loaded variants hold (both passed in).
2. **Idle** families (no message for their idle timeout) are unloaded and take no
   budget; so are ``on_demand`` families before their first message.
3. **Allocation** in priority order (highest first; config order among equals):
   each family chooses against ``available = budget - taken by the families
   before it - seats of the later ones of the same priority`` (a seat is the need
   of its smallest allowed variant). A higher-priority family therefore gets its
   preferred variant before a lower one gets anything: the lowest-priority family
   steps down first and is unloaded when even its smallest variant does not fit,
   before a higher-priority family loses quality. Families of equal priority keep
   a seat each, so they all run before any of them gets its best.
   Memory that returns goes the same way: in one check the higher families
   choose first (and are loaded first), so they come back first; a lower one
   comes back earlier only with memory a higher one cannot use.
4. A variant that is not loaded yet must fit with its **load peak** (runtimes
   that unpack weights peak above what they keep); a loaded one only its need.
5. Each family walks its **ladder** (best first) for its mode:
   quality-first: variants up to the manifest's preferred quality, by quality;
   performance-first: variants with quality >= floor by latency, then the rest
   by quality; pinned: the one pinned variant.
6. **Step down at once** when the current variant does not fit ``available``
   (to the best one that does, or unload). Under **pressure** (PSI some avg10 >
   threshold, or a rise in memory.events high/oom), at most once per
   ``pressure_cooldown_s``, one family gives way by one rung: the lowest-priority
   loaded one that can step down; one already at its smallest is unloaded when a
   family of higher priority is loaded. Pressure also blocks every step-up.
7. **Step up** only when a better variant has fitted with margin
   (``max(step_up_margin * need, step_up_margin_bytes)``) for ``hold_s``
   without pressure. A budget wobbling inside the margin cannot cause flapping:
   after a step down the old variant would need the budget to rise by more than
   the margin to come back.
8. performance-first **backlog**: an inbox at or above ``backlog_fill`` for
   ``backlog_hold_s`` caps latency to the next faster variant (again every
   ``backlog_hold_s`` while it lasts); when the inbox drains below half of that,
   the cap is lifted and the normal step-up hold applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from edge_agent.elastic.decision import (
    INHERIT,
    Decision,
    FamilyInput,
    FamilyState,
    PolicyInputs,
    PolicyResult,
    PolicyState,
    SizingReason,
)
from edge_agent.elastic.profile import FamilyProfile, VariantOption
from edge_agent.elastic.settings import ElasticSettings
from edge_agent.errors import ConfigError

__all__ = ["SizingPolicy", "ladder"]

R = SizingReason


def ladder(
    profile: FamilyProfile, mode: str, *, quality_floor: float, latency_cap: float | None = None
) -> list[VariantOption]:
    """The family's variants in the mode's order of preference, best first.

    Args:
        profile: The family.
        mode: ``quality-first`` or ``performance-first``.
        quality_floor: performance-first floor.
        latency_cap: performance-first: drop variants slower than this.

    Returns:
        The ordered variants (never empty).
    """
    vs = list(profile.variants)
    if mode == "performance-first":
        if latency_cap is not None:
            vs = [v for v in vs if v.latency_ms <= latency_cap] or vs
        within = sorted(
            (v for v in vs if v.quality >= quality_floor),
            key=lambda v: (v.latency_ms, -v.quality, v.need_bytes, v.id),
        )
        below = sorted(
            (v for v in vs if v.quality < quality_floor),
            key=lambda v: (-v.quality, v.latency_ms, v.need_bytes, v.id),
        )
        return within + below
    ceiling = profile.variant(profile.quality_first).quality
    vs = [v for v in vs if v.quality <= ceiling]
    return sorted(vs, key=lambda v: (-v.quality, v.need_bytes, v.latency_ms, v.id))


class SizingPolicy:
    """Decides, per tick, which variant each family runs.

    Args:
        settings: The elastic settings.
    """

    __slots__ = ("settings",)

    def __init__(self, settings: ElasticSettings) -> None:
        self.settings = settings

    def validate(self, profiles: Sequence[FamilyProfile]) -> None:
        """Check that pinned families and variants exist.

        Raises:
            ConfigError: A pinned family or variant is unknown.
        """
        by_name = {p.family: p for p in profiles}
        for family, variant in self.settings.pinned.items():
            if family not in by_name:
                raise ConfigError(f"pinned family {family!r} is not loaded", key="elastic.pinned")
            if not by_name[family].has(variant):
                known = ", ".join(v.id for v in by_name[family].variants)
                raise ConfigError(
                    f"pinned variant {variant!r} of {family!r} unknown (known: {known})",
                    key=f"elastic.pinned.{family}",
                )

    def pinned_variant(self, profile: FamilyProfile) -> str | None:
        """The variant this family is pinned to, or None when it is not pinned."""
        pinned = self.settings.pinned.get(profile.family)
        if pinned is not None:
            return pinned
        return profile.quality_first if self.settings.mode == "pinned" else None

    def ladder_for(self, profile: FamilyProfile, state: FamilyState) -> list[VariantOption]:
        """The family's ladder under these settings and its current shedding cap."""
        pinned = self.pinned_variant(profile)
        if pinned is not None:
            return [profile.variant(pinned)] if profile.has(pinned) else []
        floor = self.settings.quality_floor
        return ladder(
            profile,
            self.settings.mode,
            quality_floor=profile.quality_floor if floor is None else floor,
            latency_cap=state.latency_cap,
        )

    def decide(self, inputs: PolicyInputs, state: PolicyState) -> PolicyResult:
        """Decide every family's variant for this tick.

        Args:
            inputs: Budget, pressure, families and the clock.
            state: What the previous call returned (``PolicyState()`` at first).

        Returns:
            One decision per family in input order, and the next state.
        """
        s = self.settings
        now = inputs.now
        p = inputs.pressure
        rising = (
            p.events_high is not None
            and state.last_events_high is not None
            and p.events_high > state.last_events_high
        ) or (
            p.events_oom is not None
            and state.last_events_oom is not None
            and p.events_oom > state.last_events_oom
        )
        pressure = rising or (p.psi_some_avg10 is not None and p.psi_some_avg10 > s.psi_threshold)
        may_step = pressure and (
            state.last_pressure_step is None
            or now - state.last_pressure_step >= s.pressure_cooldown_s
        )

        budget = inputs.budget_bytes
        idle = {f.profile.family: why for f in inputs.families if (why := self._idle(f, now))}
        states: dict[str, FamilyState] = {}
        for f in inputs.families:
            st = state.families.get(f.profile.family, FamilyState())
            states[f.profile.family] = st if f.profile.family in idle else self._backlog(f, st, now)
        order = sorted(range(len(inputs.families)), key=lambda i: -inputs.families[i].priority)
        seats: dict[str, int] = {}  # each active family's smallest need, reserved in order
        taken = 0
        for i in order:
            f = inputs.families[i]
            if f.profile.family in idle:
                continue
            lad = self.ladder_for(f.profile, states[f.profile.family])
            seat = min((v.need_bytes for v in lad), default=0)
            seats[f.profile.family] = seat if taken + seat <= budget else 0
            taken += seats[f.profile.family]

        target = self._pressure_target(inputs, order, idle, states) if may_step else None

        remaining = budget
        by_index: dict[int, Decision] = {}
        new_states: dict[str, FamilyState] = {}
        stepped = False
        for pos, i in enumerate(order):
            f = inputs.families[i]
            name = f.profile.family
            st = states[name]
            if name in idle:
                turn = self._turn(f, st, remaining, budget, inputs)
                d = turn.make(None, idle[name])
                new_states[name] = FamilyState()
            else:
                # Seats only for the later families of the same priority: a lower
                # priority gives way before a higher one loses quality.
                later = sum(
                    seats.get(g.profile.family, 0)
                    for g in (inputs.families[j] for j in order[pos + 1 :])
                    if g.priority == f.priority
                )
                available = remaining - later
                turn = self._turn(f, st, available, budget, inputs)
                d, st = self._choose(
                    turn, pressure, target if target and target[0] == name else None
                )
                stepped = stepped or (d.reason is R.PRESSURE and d.changed)
                new_states[name] = st
                if d.to_variant is not None:
                    remaining -= d.need_bytes
            by_index[i] = d
        decisions = [by_index[i] for i in range(len(inputs.families))]

        next_state = PolicyState(
            families=new_states,
            last_events_high=p.events_high if p.events_high is not None else state.last_events_high,
            last_events_oom=p.events_oom if p.events_oom is not None else state.last_events_oom,
            last_pressure_step=now if stepped else state.last_pressure_step,
        )
        return PolicyResult(decisions=tuple(decisions), state=next_state)

    # -- per family ---------------------------------------------------------

    def _turn(
        self, f: FamilyInput, st: FamilyState, available: int, budget: int, inputs: PolicyInputs
    ) -> _Turn:
        return _Turn(
            family=f,
            state=st,
            ladder=self.ladder_for(f.profile, st),
            pinned=self.pinned_variant(f.profile) is not None,
            available=available,
            budget=budget,
            free=inputs.free_bytes,
            now=inputs.now,
        )

    def _idle(self, f: FamilyInput, now: float) -> SizingReason | None:
        """Why the family should not be loaded now (None: it should)."""
        if f.last_activity is None:
            return R.ON_DEMAND if f.on_demand else None
        limit = self.settings.idle_unload_s if f.idle_unload_s == INHERIT else f.idle_unload_s
        return R.IDLE if limit is not None and now - f.last_activity >= limit else None

    def _backlog(self, f: FamilyInput, st: FamilyState, now: float) -> FamilyState:
        """performance-first: update the backlog timer and the latency cap."""
        s = self.settings
        if s.mode != "performance-first" or self.pinned_variant(f.profile) is not None:
            return st
        if f.inbox_fill >= s.backlog_fill:
            since = st.backlog_since if st.backlog_since is not None else now
            st = replace(st, backlog_since=since, up_since=None)
            cur = f.current
            if now - since >= s.backlog_hold_s and cur is not None and f.profile.has(cur):
                cur_lat = f.profile.variant(cur).latency_ms
                faster = [v.latency_ms for v in f.profile.variants if v.latency_ms < cur_lat]
                if faster:
                    st = replace(st, latency_cap=max(faster), backlog_since=now)
            return st
        if f.inbox_fill < s.backlog_fill / 2:
            return replace(st, backlog_since=None, latency_cap=None)
        return replace(st, backlog_since=None)

    def _margin_ok(self, v: VariantOption, available: int) -> bool:
        s = self.settings
        margin = max(s.step_up_margin * v.need_bytes, s.step_up_margin_bytes)
        return v.load_bytes + margin <= available

    def _pressure_target(
        self,
        inputs: PolicyInputs,
        order: list[int],
        idle: dict[str, SizingReason],
        states: dict[str, FamilyState],
    ) -> tuple[str, bool] | None:
        """Which family gives way to pressure this tick: ``(family, unload)``, or None.

        The lowest-priority loaded family that can step down a rung does; one already
        at its smallest is unloaded when a family of higher priority is loaded (it
        gives way to that one); otherwise the next family up is looked at. Pinned
        families never give way. One family per tick: pressure is a signal, not a
        measure, so the step is the smallest that might relieve it.
        """
        loaded = [
            inputs.families[i]
            for i in order
            if inputs.families[i].profile.family not in idle
            and inputs.families[i].current is not None
            and self.pinned_variant(inputs.families[i].profile) is None
        ]
        for f in reversed(loaded):  # lowest priority first
            lad = self.ladder_for(f.profile, states[f.profile.family])
            rank = {v.id: i for i, v in enumerate(lad)}
            if f.current not in rank:
                continue
            cur = lad[rank[f.current]]
            if any(v.need_bytes < cur.need_bytes for v in lad[rank[f.current] + 1 :]):
                return f.profile.family, False
            if any(g.priority > f.priority for g in loaded):
                return f.profile.family, True
        return None

    def _choose(
        self, t: _Turn, pressure: bool, give_way: tuple[str, bool] | None
    ) -> tuple[Decision, FamilyState]:
        """One family's decision: immediate step-downs, held step-ups."""
        st, cur = t.state, t.family.current
        if cur is None:
            return self._choose_unloaded(t, pressure)
        if cur not in t.rank:
            # Mode, pin or shedding cap no longer allow the current variant: change at once.
            why = R.INBOX_BACKLOG if st.latency_cap is not None else R.RECONFIGURED
            if t.pinned:
                why = R.PINNED
            if t.best is None:
                why = t.down_reason
            return t.make(t.best, why), replace(st, up_since=None, held_down=t.best is None)
        cur_opt = t.ladder[t.rank[cur]]
        if cur_opt.need_bytes > t.available:
            return t.make(t.best, t.down_reason), replace(
                st, up_since=None, held_down=t.best is None
            )
        if pressure or t.pinned or st.backlog_since is not None:
            # Pinned stays; under pressure one rung down; a building backlog blocks step-ups.
            if t.pinned:
                d = t.make(cur_opt, R.PINNED)
            elif pressure:
                d = self._pressure_step(t, cur_opt, give_way)
            else:
                d = t.make(cur_opt, R.FITS)
            return d, replace(st, up_since=None)
        return self._hold(t, cur_opt)

    def _choose_unloaded(self, t: _Turn, pressure: bool) -> tuple[Decision, FamilyState]:
        st = t.state
        if t.best is None:
            return t.make(None, t.down_reason), replace(st, up_since=None, held_down=True)
        if pressure and not t.pinned:  # pinned variants ignore pressure
            return t.make(None, R.PRESSURE), replace(st, up_since=None)
        if not st.held_down:  # first load, or back from idle: on demand, at once
            return t.make(t.best, R.PINNED if t.pinned else R.FITS), replace(st, up_since=None)
        return self._hold(t, None)

    @staticmethod
    def _pressure_step(t: _Turn, cur: VariantOption, give_way: tuple[str, bool] | None) -> Decision:
        if give_way is None:  # another family gives way, or the cooldown runs
            smallest = all(v.need_bytes >= cur.need_bytes for v in t.ladder[t.rank[cur.id] + 1 :])
            return t.make(cur, R.PRESSURE_AT_SMALLEST if smallest else R.PRESSURE)
        if give_way[1]:  # at its smallest, below a loaded family of higher priority
            return t.make(None, R.PRESSURE)
        lower = next(
            (
                v
                for v in t.ladder[t.rank[cur.id] + 1 :]
                if v.need_bytes < cur.need_bytes and v.load_bytes <= t.available
            ),
            None,
        )
        if lower is None:
            return t.make(cur, R.PRESSURE_AT_SMALLEST)
        return t.make(lower, R.PRESSURE)

    def _hold(self, t: _Turn, cur: VariantOption | None) -> tuple[Decision, FamilyState]:
        """Step up to the best variant that fits with margin, once that has held for hold_s."""
        st = t.state
        stop = len(t.ladder) if cur is None else t.rank[cur.id]
        candidate = next((v for v in t.ladder[:stop] if self._margin_ok(v, t.available)), None)
        if candidate is None:
            return t.make(cur, R.FITS if cur is not None else R.HOLD), replace(st, up_since=None)
        since = st.up_since if st.up_since is not None else t.now
        if t.now - since >= self.settings.hold_s:
            return t.make(candidate, R.STEP_UP), replace(st, up_since=None, held_down=False)
        return t.make(cur, R.HOLD), replace(st, up_since=since)


@dataclass(frozen=True, slots=True)
class _Turn:
    """One family's view of the tick: its ladder, its share, and how to word a decision."""

    family: FamilyInput
    state: FamilyState
    ladder: list[VariantOption]
    pinned: bool
    available: int
    budget: int
    free: int
    now: float

    @property
    def rank(self) -> dict[str, int]:
        return {v.id: i for i, v in enumerate(self.ladder)}

    def fits(self, v: VariantOption) -> bool:
        """The loaded variant must fit its need; another one its load peak as well."""
        size = v.need_bytes if v.id == self.family.current else v.load_bytes
        return size <= self.available

    @property
    def best(self) -> VariantOption | None:
        """The best variant on the ladder that fits."""
        return next((v for v in self.ladder if self.fits(v)), None)

    @property
    def down_reason(self) -> SizingReason:
        return R.PINNED_DOES_NOT_FIT if self.pinned else R.OVER_BUDGET

    def make(self, to: VariantOption | None, reason: SizingReason) -> Decision:
        """Word a decision to run ``to`` (None: unload) for ``reason``."""
        f = self.family
        if to is not None:
            need = to.need_bytes
        elif f.current is not None and f.profile.has(f.current):
            need = f.profile.variant(f.current).need_bytes
        else:
            need = 0
        to_id = to.id if to is not None else None
        return Decision(
            family=f.profile.family,
            from_variant=f.current,
            to_variant=to_id,
            reason=reason,
            budget_bytes=self.budget,
            available_bytes=self.available,
            need_bytes=need,
            from_bytes=f.held,
            transient_fits=to_id is None
            or to_id == f.current
            or (to.load_bytes if to is not None else need) <= self.free,
        )
