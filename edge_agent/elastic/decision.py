"""Values the sizing policy takes and returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from edge_agent.elastic.profile import FamilyProfile

__all__ = [
    "INHERIT",
    "Decision",
    "FamilyConfig",
    "FamilyInput",
    "FamilyState",
    "PolicyInputs",
    "PolicyResult",
    "PolicyState",
    "PressureSignal",
    "SizingReason",
]


class SizingReason(enum.StrEnum):
    """Why a family runs (or stops running) a variant; shown in logs and stats."""

    FITS = "fits"
    """The mode's choice fits: kept, or loaded on demand."""
    OVER_BUDGET = "over_budget"
    """The current variant no longer fits: stepped down (or unloaded) at once."""
    PRESSURE = "pressure"
    """Memory pressure (PSI or memory.events): one rung down, step-ups blocked."""
    PRESSURE_AT_SMALLEST = "pressure_at_smallest"
    """Under pressure, but no smaller variant exists: kept."""
    HOLD = "hold_time_not_elapsed"
    """A better variant fits with margin, but not yet for ``hold_s``."""
    STEP_UP = "step_up"
    """A better variant has fitted with margin for ``hold_s``."""
    PINNED = "pinned"
    """The pinned variant, which fits."""
    PINNED_DOES_NOT_FIT = "pinned_does_not_fit"
    """The pinned variant does not fit: nothing runs (reported, never substituted)."""
    IDLE = "idle"
    """The family's topics stayed idle for ``idle_unload_s``: unloaded."""
    INBOX_BACKLOG = "inbox_backlog"
    """performance-first: the inbox kept filling, so a faster variant was chosen."""
    RECONFIGURED = "reconfigured"
    """The current variant is not one the mode allows any more."""
    ON_DEMAND = "on_demand"
    """Loaded on demand and no message has come yet: not loaded."""


INHERIT = -1.0
"""``FamilyInput.idle_unload_s`` value meaning: use ``ElasticSettings.idle_unload_s``."""


@dataclass(frozen=True, slots=True)
class FamilyConfig:
    """What the configuration says about a family's place in the budget.

    Attributes:
        priority: Higher keeps its quality longer (see ``FamilyInput.priority``).
        on_demand: Not loaded until its first message.
        idle_unload_s: Its idle timeout; ``INHERIT`` uses the settings'.
    """

    priority: int = 0
    on_demand: bool = False
    idle_unload_s: float | None = INHERIT


@dataclass(frozen=True, slots=True)
class PressureSignal:
    """Memory pressure readings.

    Attributes:
        psi_some_avg10: PSI ``some avg10`` percent, None without PSI.
        events_high: Cumulative cgroup v2 ``memory.events`` ``high`` count.
        events_oom: Cumulative ``oom`` + ``oom_kill`` count.
    """

    psi_some_avg10: float | None = None
    events_high: int | None = None
    events_oom: int | None = None


@dataclass(frozen=True, slots=True)
class FamilyInput:
    """One family at decision time.

    Attributes:
        profile: Its variants (needs already corrected by observations).
        current: The loaded variant, or None.
        held_bytes: Memory the loaded variant holds now (added back to the budget);
            None means "its need".
        inbox_fill: Inbox fill ratio in [0, 1].
        last_activity: Clock time of the last message, None if unknown (counts as
            active, unless ``on_demand``: then no message has come yet).
        priority: Higher keeps its quality longer: families choose in priority order,
            and a lower one is stepped down and unloaded before a higher one loses
            quality (equal priorities share by config order, each keeping a seat).
        on_demand: Not loaded until the first message arrives.
        idle_unload_s: This family's idle timeout; ``INHERIT`` uses the settings'.
    """

    profile: FamilyProfile
    current: str | None = None
    held_bytes: int | None = None
    inbox_fill: float = 0.0
    last_activity: float | None = None
    priority: int = 0
    on_demand: bool = False
    idle_unload_s: float | None = -1.0

    @property
    def held(self) -> int:
        """Bytes held by the loaded variant (0 when none)."""
        if self.current is None:
            return 0
        if self.held_bytes is not None:
            return self.held_bytes
        if not self.profile.has(self.current):
            return 0
        return self.profile.variant(self.current).need_bytes


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """Everything one decision depends on; the clock is passed in, never read.

    Attributes:
        now: Monotonic clock time in seconds.
        free_bytes: Memory free for new allocations (``MemorySnapshot.free_bytes``).
        families: The families, in config order (earlier families have priority).
        pressure: Pressure readings.
    """

    now: float
    free_bytes: int
    families: tuple[FamilyInput, ...]
    pressure: PressureSignal = PressureSignal()

    @property
    def held_bytes(self) -> int:
        """Memory the loaded variants hold now."""
        return sum(f.held for f in self.families)

    @property
    def budget_bytes(self) -> int:
        """What the model set may use: free memory plus what it already holds."""
        return self.free_bytes + self.held_bytes


@dataclass(frozen=True, slots=True)
class FamilyState:
    """Per-family memory of the policy between decisions.

    Attributes:
        up_since: Since when a better variant has fitted with margin.
        held_down: The family was unloaded for lack of memory; reloading waits for ``hold_s``.
        latency_cap: performance-first shedding: variants slower than this are excluded.
        backlog_since: Since when the inbox has been at or above ``backlog_fill``.
    """

    up_since: float | None = None
    held_down: bool = False
    latency_cap: float | None = None
    backlog_since: float | None = None


@dataclass(frozen=True, slots=True)
class PolicyState:
    """Memory of the policy between decisions (start with ``PolicyState()``).

    Attributes:
        families: Family name -> its state (treated as immutable).
        last_events_high: ``events_high`` seen last time.
        last_events_oom: ``events_oom`` seen last time.
        last_pressure_step: Clock time of the last pressure step-down.
    """

    families: dict[str, FamilyState] = field(default_factory=dict)
    last_events_high: int | None = None
    last_events_oom: int | None = None
    last_pressure_step: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What one family should run, and why.

    Attributes:
        family: Family name.
        from_variant: Loaded variant before, or None.
        to_variant: Variant to run, or None (unload / stay unloaded).
        reason: Why.
        budget_bytes: Memory the whole model set may use (free + held).
        available_bytes: What this family could use after families before it and
            the minimum of those after it.
        need_bytes: Need of ``to_variant`` (of ``from_variant`` when unloading).
        from_bytes: Memory ``from_variant`` holds now.
        transient_fits: Free memory alone covers loading ``to_variant`` before
            releasing ``from_variant``; if False the swapper should release first.
    """

    family: str
    from_variant: str | None
    to_variant: str | None
    reason: SizingReason
    budget_bytes: int
    available_bytes: int
    need_bytes: int
    from_bytes: int = 0
    transient_fits: bool = True

    @property
    def changed(self) -> bool:
        """Whether applying this decision changes what runs."""
        return self.from_variant != self.to_variant

    @property
    def releases_memory(self) -> bool:
        """A change that frees memory (apply these before the ones that take memory)."""
        return self.changed and (self.to_variant is None or self.need_bytes < self.from_bytes)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view for stats."""
        return {
            "family": self.family,
            "from": self.from_variant,
            "to": self.to_variant,
            "reason": self.reason.value,
            "budget_bytes": self.budget_bytes,
            "available_bytes": self.available_bytes,
            "need_bytes": self.need_bytes,
        }


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One decision per family (config order) and the state for next time."""

    decisions: tuple[Decision, ...]
    state: PolicyState
