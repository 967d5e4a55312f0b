"""The sizing loop: probe, decide, apply, log, in a named daemon thread.

The controller owns no pipeline. It reads memory through a probe, asks the
:class:`~edge_agent.elastic.policy.SizingPolicy`, and hands every change to an
``apply(family, to_variant, decision)`` callback (the swapper), changes that
free memory first. It tracks what each family runs from the callbacks that
succeeded, plus what the daemon reports: activity, inbox fill, and memory
observed after a load (which corrects the manifest's estimate).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from edge_agent.elastic.decision import (
    Decision,
    FamilyConfig,
    FamilyInput,
    PolicyInputs,
    PolicyState,
    PressureSignal,
)
from edge_agent.elastic.policy import SizingPolicy
from edge_agent.elastic.probe import MemoryReader, MemorySnapshot
from edge_agent.elastic.profile import FamilyProfile
from edge_agent.elastic.settings import ElasticSettings

__all__ = ["ApplyFn", "SizingController", "pressure_of"]

ApplyFn = Callable[[str, str | None, Decision], None]
"""``apply(family, to_variant, decision)``: load/swap (or unload when None); raise on failure."""

_POLL_S = 0.2  # how often the waiting loop looks at the stop event


def pressure_of(snapshot: MemorySnapshot) -> PressureSignal:
    """The pressure part of a memory snapshot."""
    ooms = [x for x in (snapshot.events_oom, snapshot.events_oom_kill) if x is not None]
    return PressureSignal(
        psi_some_avg10=snapshot.psi_some_avg10,
        events_high=snapshot.events_high,
        events_oom=sum(ooms) if ooms else None,
    )


class SizingController:
    """Runs the sizing check every ``check_interval_s`` and applies its decisions.

    Thread-safe: the ``note_*``/``set_current`` methods may be called from any
    thread; ``tick`` runs one check at a time.

    Args:
        probe: Memory reader (``MemoryProbe`` or a test fake).
        policy: The sizing policy (its settings give reserve and interval).
        profiles: The families in config order (earlier ones have priority).
        apply: Callback that makes a family run ``to_variant``.
        stop: Set to end the loop.
        clock: Monotonic clock in seconds (injectable for tests).
        thread_name: Name of the loop thread.
        families: Per-family priority, loading and idle timeout (default: equal
            priority, loaded at start, the settings' idle timeout).
        on_decisions: Called after every check with its decisions (the swapper
            tells workers whether their family is held off for memory).
    """

    def __init__(
        self,
        probe: MemoryReader,
        policy: SizingPolicy,
        profiles: Sequence[FamilyProfile],
        apply: ApplyFn,
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
        thread_name: str = "edge-agent-sizing",
        families: Mapping[str, FamilyConfig] | None = None,
        on_decisions: Callable[[tuple[Decision, ...]], None] | None = None,
    ) -> None:
        policy.validate(profiles)
        self._probe = probe
        self._policy = policy
        self._profiles = tuple(profiles)
        self._apply = apply
        self._stop = stop
        self._clock = clock
        self._thread_name = thread_name
        self._log = structlog.get_logger("edge_agent.elastic")
        self._lock = threading.Lock()  # guards the fields below
        self._tick_lock = threading.Lock()  # one check at a time
        self._wake = threading.Event()
        start = clock()
        self._families = {
            p.family: (families or {}).get(p.family, FamilyConfig()) for p in profiles
        }
        self._on_decisions = on_decisions
        self._current: dict[str, str | None] = {p.family: None for p in profiles}
        # On-demand families have had no message yet: they stay unloaded until one comes.
        self._activity: dict[str, float | None] = {
            p.family: None if self._families[p.family].on_demand else start for p in profiles
        }
        self._fill: dict[str, float] = {p.family: 0.0 for p in profiles}
        self._observed: dict[str, dict[str, int]] = {p.family: {} for p in profiles}
        self._peaks: dict[str, dict[str, int]] = {p.family: {} for p in profiles}
        self._scale: dict[str, float] = {p.family: 1.0 for p in profiles}
        self._state = PolicyState()
        self._latest: tuple[Decision, ...] = ()
        self._snapshot: MemorySnapshot | None = None
        self._thread: threading.Thread | None = None

    # -- reports from the daemon -------------------------------------------

    def note_activity(self, family: str, *, wake: bool = False) -> None:
        """A message arrived for ``family``; ``wake`` runs a check now (on-demand load)."""
        with self._lock:
            self._activity[family] = self._clock()
        if wake:
            self._wake.set()

    def note_inbox_fill(self, family: str, ratio: float) -> None:
        """The family's inbox is ``ratio`` full (0..1)."""
        with self._lock:
            self._fill[family] = min(1.0, max(0.0, ratio))

    def note_observed(
        self,
        family: str,
        variant: str,
        held_bytes: int,
        *,
        peak_bytes: int | None = None,
        scale: float | None = None,
    ) -> None:
        """Memory measured after loading ``variant``; replaces its manifest estimate.

        Args:
            family: The family.
            variant: The variant loaded.
            held_bytes: Its measured need (anonymous + share of file-backed).
            peak_bytes: Its measured peak during the load, when above the need.
            scale: Observed/manifest ratio for the variants not measured yet.
        """
        with self._lock:
            self._observed[family][variant] = held_bytes
            if peak_bytes is not None:
                self._peaks[family][variant] = peak_bytes
            if scale is not None:
                self._scale[family] = scale

    def set_current(self, family: str, variant: str | None) -> None:
        """Record what ``family`` runs when it changed outside the controller."""
        with self._lock:
            self._current[family] = variant

    # -- run-time overrides (control API: pin, unpin, mode, reload) -------------

    @property
    def settings(self) -> ElasticSettings:
        """The elastic settings in force now."""
        return self._policy.settings

    def update_settings(self, settings: ElasticSettings) -> None:
        """Swap the policy's settings (frozen, validated by the caller); the next check uses them.

        Raises:
            ConfigError: A pinned family or variant is unknown (nothing changes).
        """
        policy = SizingPolicy(settings)
        policy.validate(self._profiles)
        with self._lock:
            self._policy = policy  # one reference swap: a running check keeps the old one

    def request_check(self) -> None:
        """Run the next check now instead of at the end of the interval."""
        self._wake.set()

    # -- views ----------------------------------------------------------------

    def latest(self) -> tuple[Decision, ...]:
        """The decisions of the last check (config order)."""
        with self._lock:
            return self._latest

    def profiles(self) -> tuple[FamilyProfile, ...]:
        """The families with the needs sizing uses now (observed where measured)."""
        with self._lock:
            return tuple(self._profile(p) for p in self._profiles)

    def _profile(self, p: FamilyProfile) -> FamilyProfile:
        return p.with_observed(
            self._observed[p.family], self._peaks[p.family], self._scale[p.family]
        )

    def current(self) -> dict[str, str | None]:
        """What each family runs now."""
        with self._lock:
            return dict(self._current)

    def stats(self) -> dict[str, Any]:
        """A JSON-ready summary for the stats topic."""
        with self._lock:
            snap, latest = self._snapshot, self._latest
        out: dict[str, Any] = {
            "mode": self._policy.settings.mode,
            "decisions": [d.as_dict() for d in latest],
        }
        if latest:
            out["budget_bytes"] = latest[0].budget_bytes
        if snap is not None:
            out["memory"] = {
                "mem_available": snap.mem_available,
                "cgroup_version": snap.cgroup_version,
                "cgroup_limit": snap.cgroup_limit,
                "cgroup_working_set": snap.cgroup_working_set,
                "psi_some_avg10": snap.psi_some_avg10,
                "rss_anon": snap.rss_anon,
                "rss_file": snap.rss_file,
            }
        return out

    # -- the loop -------------------------------------------------------------

    def start(self) -> None:
        """Start the check loop in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("sizing controller already started")
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the loop to end after ``stop`` was set; True if it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        interval = self._policy.settings.check_interval_s
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop's one catch-all: a failed check must not end sizing
                self._log.exception("sizing_check_failed")
            deadline = time.monotonic() + interval
            while not self._stop.is_set() and time.monotonic() < deadline:
                if self._wake.wait(min(_POLL_S, max(0.0, deadline - time.monotonic()))):
                    break
            self._wake.clear()

    def tick(self) -> tuple[Decision, ...]:
        """Run one check now: probe, decide, log, apply changes (releases first).

        Returns:
            The decisions, one per family in config order.
        """
        with self._tick_lock:
            snapshot = self._probe.read()
            policy = self._policy  # one policy per check, even if update_settings swaps it
            settings = policy.settings
            free = snapshot.free_bytes(settings.reserve_bytes, settings.cgroup_reserve_bytes)
            with self._lock:
                inputs = PolicyInputs(
                    now=self._clock(),
                    free_bytes=free,
                    families=tuple(self._family_input(p) for p in self._profiles),
                    pressure=pressure_of(snapshot),
                )
                result = policy.decide(inputs, self._state)
                previous = {d.family: d for d in self._latest}
                self._state = result.state
                self._latest = result.decisions
                self._snapshot = snapshot
            for d in result.decisions:
                self._log_decision(d, previous.get(d.family))
            if self._on_decisions is not None:
                self._on_decisions(result.decisions)
            changes = [d for d in result.decisions if d.changed]
            # Frees first (lowest priority first), then loads (highest priority first).
            changes.sort(key=self._apply_order)
            for d in changes:
                self._apply_one(d)
            return result.decisions

    def _apply_order(self, d: Decision) -> tuple[bool, int]:
        priority = self._families[d.family].priority
        return (not d.releases_memory, priority if d.releases_memory else -priority)

    def _family_input(self, profile: FamilyProfile) -> FamilyInput:
        name = profile.family
        observed = self._observed[name]
        current = self._current[name]
        config = self._families[name]
        return FamilyInput(
            profile=self._profile(profile),
            current=current,
            held_bytes=observed.get(current) if current is not None else None,
            inbox_fill=self._fill[name],
            last_activity=self._activity[name],
            priority=config.priority,
            on_demand=config.on_demand,
            idle_unload_s=config.idle_unload_s,
        )

    def _log_decision(self, d: Decision, before: Decision | None) -> None:
        fields: dict[str, Any] = {
            "family": d.family,
            "from": d.from_variant,
            "to": d.to_variant,
            "reason": d.reason.value,
            "budget": d.budget_bytes,
            "need": d.need_bytes,
            "available": d.available_bytes,
        }
        news = d.changed or before is None or before.reason is not d.reason
        if news:
            self._log.info("sizing_decision", **fields)
        else:
            self._log.debug("sizing_decision", **fields)

    def _apply_one(self, d: Decision) -> None:
        try:
            self._apply(d.family, d.to_variant, d)
        except Exception as exc:  # a failed swap keeps the old variant; the next check retries
            self._log.warning(
                "sizing_apply_failed",
                family=d.family,
                to=d.to_variant,
                reason=d.reason.value,
                error=type(exc).__name__,
                detail=str(exc),
            )
            return
        with self._lock:
            self._current[d.family] = d.to_variant
