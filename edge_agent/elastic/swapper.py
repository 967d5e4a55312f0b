"""Applies sizing decisions to the live pipelines: load, warm, switch, release.

A switch happens in the pipeline's own worker thread between two messages, so
messages that arrive meanwhile wait in the inbox: none is lost or answered
twice. The new variant is built and warmed before the old one is dropped,
unless free memory cannot hold both (``Decision.transient_fits`` false): then
the old one is released first. Freed memory is handed back to the OS with
glibc's ``malloc_trim`` where it exists.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from edge_agent.config.models import AgentSettings
from edge_agent.elastic.controller import SizingController
from edge_agent.elastic.decision import Decision
from edge_agent.elastic.plan import plan_decisions
from edge_agent.elastic.policy import SizingPolicy
from edge_agent.elastic.probe import MemoryProbe, MemoryReader
from edge_agent.elastic.profile import FamilyProfile
from edge_agent.errors import ModelError
from edge_agent.health.stats import process_memory
from edge_agent.runtime.manifest import ModelPackage
from edge_agent.worker import Worker

__all__ = ["Swapper", "choose_variant", "release_memory"]

log = structlog.get_logger("edge_agent.elastic")

_LOAD_TIMEOUT_S = 300.0
_MIN_OBSERVED_BYTES = 1 << 20  # smaller deltas are allocator noise
_MAX_CORRECTION = 2.0
_NOTE_EVERY_S = 0.2


def release_memory() -> bool:
    """Return freed heap memory to the OS (glibc ``malloc_trim``); False where unavailable."""
    # "libc.so.6" first: find_library() runs ldconfig/gcc in a subprocess.
    trim = None
    for candidate in ("libc.so.6", None):
        name = candidate or ctypes.util.find_library("c")
        if not name:
            continue
        try:
            trim = ctypes.CDLL(name).malloc_trim
            break
        except (OSError, AttributeError):
            continue
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True


def profiles_for(packages: Sequence[ModelPackage], settings: AgentSettings) -> list[FamilyProfile]:
    """Sizing profiles of the families, in config order, each family once.

    Only variants that can load here count (a build artifact not built yet, or an
    optional extra not installed, is left out); a family with none is left out
    entirely and its pipeline answers ``model_unavailable`` with the reason.
    """
    seen: dict[str, FamilyProfile] = {}
    for package in packages:
        if package.family in seen:
            continue
        available = [v.id for v in package.available_variants()]
        if not available:
            continue
        seen[package.family] = FamilyProfile.from_manifest(
            package.manifest, soft_share=settings.elastic.soft_share, available=available
        )
    return list(seen.values())


def unavailable_reason(package: ModelPackage) -> str | None:
    """Why no variant of the family can load here (None: at least one can)."""
    if package.available_variants():
        return None
    reasons = {v.id: package.unavailable_reason(v.id) for v in package.manifest.variants}
    return "; ".join(f"{vid}: {why}" for vid, why in reasons.items())


def choose_variant(
    settings: AgentSettings, package: ModelPackage, probe: MemoryReader | None = None
) -> str:
    """The variant a fresh start would run for one family now (for one-shot use).

    Falls back to the smallest available variant when nothing fits, so ``infer``
    still answers.

    Raises:
        ModelError: No variant of the family is available here.
    """
    why = unavailable_reason(package)
    if why is not None:
        raise ModelError(why, family=package.family)
    profile = profiles_for([package], settings)[0]
    snapshot = (probe or MemoryProbe()).read()
    decision = plan_decisions([profile], settings.elastic, snapshot=snapshot)[0]
    if decision.to_variant is not None:
        return decision.to_variant
    return min(profile.variants, key=lambda v: v.need_bytes).id


class Swapper:
    """Owns the sizing controller and applies its decisions to the workers.

    Args:
        settings: Effective settings.
        workers: Worker per pipeline name.
        on_change: Called after a family's variant changed (status republish).
        probe: Memory reader (default: this process's /proc and cgroup).
        clock: Monotonic clock.
    """

    def __init__(
        self,
        settings: AgentSettings,
        workers: Mapping[str, Worker],
        *,
        on_change: Callable[[], None] | None = None,
        probe: MemoryReader | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._on_change = on_change
        self._stop = threading.Event()
        self._profiles = profiles_for([w.pipeline.package for w in workers.values()], settings)
        sized = {p.family for p in self._profiles}
        # Families with no variant available here stay out of sizing; their workers
        # answer model_unavailable with the reason (see Worker.unavailable).
        self.workers = {n: w for n, w in workers.items() if w.pipeline.package.family in sized}
        self._by_family: dict[str, list[Worker]] = {}
        for worker in self.workers.values():
            self._by_family.setdefault(worker.pipeline.package.family, []).append(worker)
        self.controller = SizingController(
            probe or MemoryProbe(),
            SizingPolicy(settings.elastic),
            self._profiles,
            self.apply,
            self._stop,
            clock=clock,
        )
        self.swaps: list[dict[str, Any]] = []
        self._noted: dict[str, float] = {}
        self._corrected: set[str] = set()
        for worker in self.workers.values():
            worker.on_loaded = self._loaded

    # -- reports from the daemon -----------------------------------------------------------

    def message_arrived(self, worker: Worker) -> None:
        """Called on the network thread for each routed message.

        An unloaded family is noted at once (it must load); a loaded one at most
        every ``_NOTE_EVERY_S`` (activity and inbox fill are read per check, every few
        seconds: noting each of 3,000 audio chunks a second cost two locks each).
        """
        family = worker.pipeline.package.family
        unloaded = worker.pipeline.active_variant is None
        now = time.monotonic()
        if not unloaded and now - self._noted.get(worker.name, -1e9) < _NOTE_EVERY_S:
            return
        self._noted[worker.name] = now
        self.controller.note_activity(family, wake=unloaded)
        self.controller.note_inbox_fill(family, worker.inbox.fill)

    def _loaded(self, worker: Worker, variant: str | None) -> None:
        self.controller.set_current(worker.pipeline.package.family, variant)

    # -- applying decisions ----------------------------------------------------------------

    def apply(self, family: str, variant: str | None, decision: Decision) -> None:
        """Make every pipeline of ``family`` run ``variant`` (None: unload).

        Raises:
            ModelError: The variant could not be loaded (the old one keeps serving).
        """
        started = time.monotonic()
        for worker in self._by_family.get(family, []):
            before = process_memory().get("rssanon", 0)
            was_loaded = worker.pipeline.active_variant is not None
            if variant is not None and was_loaded and not decision.transient_fits:
                log.info(
                    "variant_release_first",
                    family=family,
                    pipeline=worker.pipeline.name,
                    old=worker.pipeline.active_variant,
                    new=variant,
                )
                worker.request_variant(None, wait=_LOAD_TIMEOUT_S)
                release_memory()
                was_loaded = False
                before = process_memory().get("rssanon", 0)
            worker.request_variant(variant, wait=_LOAD_TIMEOUT_S)
            release_memory()
            after = process_memory().get("rssanon", 0)
            if variant is not None and family not in self._corrected and after > before:
                # Only the family's first load is a clean measurement: later loads from
                # nothing (release-first swaps) also re-create shared state and allocator
                # slack, and re-scaling on them made the needs jump between swaps.
                self._corrected.add(family)
                self._correct_needs(family, variant, after - before)
        swap = {
            "family": family,
            "from": decision.from_variant,
            "to": variant,
            "reason": decision.reason.value,
            "seconds": round(time.monotonic() - started, 3),
        }
        self.swaps.append(swap)
        del self.swaps[:-20]
        log.info("variant_switched", **swap, budget=decision.budget_bytes, need=decision.need_bytes)
        if self._on_change is not None:
            self._on_change()

    def _correct_needs(self, family: str, variant: str, observed: int) -> None:
        """Scale the family's manifest needs by what loading ``variant`` really took.

        A load from nothing is a clean measurement, but of one variant only; scaling
        every variant of the family by the same ratio keeps their needs comparable
        (correcting only the loaded one would mix measured and manifest units).
        The ratio is clamped so one noisy reading cannot swing sizing wildly.
        """
        profile = next(p for p in self._profiles if p.family == family)
        base = profile.variant(variant).need_bytes
        if base <= 0 or observed < _MIN_OBSERVED_BYTES:
            return
        ratio = min(_MAX_CORRECTION, max(1 / _MAX_CORRECTION, observed / base))
        for option in profile.variants:
            self.controller.note_observed(family, option.id, int(option.need_bytes * ratio))
        log.info(
            "variant_need_corrected",
            family=family,
            variant=variant,
            observed=observed,
            manifest_need=base,
            ratio=round(ratio, 3),
        )

    # -- lifecycle -------------------------------------------------------------------------

    def initial_load(self) -> None:
        """Prepare every variant on disk, then decide and load each family's first one.

        Preparing first (slicing nested variants, building weight caches) costs a few
        seconds at start but means a later step down under memory pressure only maps
        files; building a variant inside a nearly full cgroup would thrash.
        """
        elastic = self.settings.elastic
        for family, workers in self._by_family.items():
            package = workers[0].pipeline.package
            ids = [v.id for v in package.available_variants()]
            if len(ids) > 1 and elastic.mode != "pinned" and family not in elastic.pinned:
                # Files on disk: one worker of the family prepares them for all.
                workers[0].prepare_variants(ids, wait=_LOAD_TIMEOUT_S)
        release_memory()  # preparing left freed heap behind
        self.controller.tick()
        for family, workers in self._by_family.items():
            for worker in workers:
                if worker.pipeline.active_variant is None:
                    log.warning(
                        "family_not_loaded_at_start",
                        family=family,
                        pipeline=worker.pipeline.name,
                        reason="no variant fits the memory budget; waiting for memory",
                    )

    def start(self, stop: threading.Event) -> None:
        """Run the sizing loop until ``stop`` is set."""
        self._stop_link = threading.Thread(
            target=self._link_stop, args=(stop,), name="sizing-stop-link", daemon=True
        )
        self._stop_link.start()
        self.controller.start()

    def _link_stop(self, stop: threading.Event) -> None:
        stop.wait()
        self._stop.set()

    def stop(self) -> None:
        """Stop the sizing loop."""
        self._stop.set()
        self.controller.join(5)

    def snapshot(self) -> dict[str, Any]:
        """Budget, decisions and recent swaps, for stats and status."""
        out = self.controller.stats()
        out["current"] = self.controller.current()
        out["swaps"] = list(self.swaps[-5:])
        return out
