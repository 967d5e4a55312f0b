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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog

from edge_agent.config.models import AgentSettings
from edge_agent.elastic.controller import SizingController
from edge_agent.elastic.decision import INHERIT, Decision, FamilyConfig, SizingReason
from edge_agent.elastic.plan import plan_decisions
from edge_agent.elastic.policy import SizingPolicy
from edge_agent.elastic.probe import MemoryProbe, MemoryReader
from edge_agent.elastic.profile import FamilyProfile
from edge_agent.errors import ModelError
from edge_agent.pipelines.base import Pipeline
from edge_agent.runtime.manifest import ModelPackage
from edge_agent.runtime.memory import LoadMemory, measure_load
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


def family_configs(
    settings: AgentSettings, pipelines: Iterable[tuple[str, type[Pipeline], str]]
) -> dict[str, FamilyConfig]:
    """Priority, loading and idle timeout of each family, from its pipelines' settings.

    A family served by several pipelines takes the highest priority, loads at start
    if any of them does, and unloads after the shortest idle timeout.

    Args:
        settings: Effective settings.
        pipelines: ``(pipeline name, pipeline class, family)`` of each pipeline.
    """
    out: dict[str, FamilyConfig] = {}
    for name, cls, family in pipelines:
        spec = settings.pipelines[name]
        priority = spec.priority if spec.priority is not None else cls.default_priority
        on_demand = (spec.load or cls.default_load) == "on_demand"
        idle = spec.idle_unload_s if spec.idle_unload_s is not None else cls.default_idle_unload_s
        config = FamilyConfig(priority, on_demand, INHERIT if idle is None else idle)
        if family in out:
            old = out[family]
            idles = [x for x in (old.idle_unload_s, config.idle_unload_s) if x != INHERIT]
            config = FamilyConfig(
                max(old.priority, config.priority),
                old.on_demand and config.on_demand,
                min((x for x in idles if x is not None), default=INHERIT),
            )
        out[family] = config
    return out


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
            families=family_configs(
                settings,
                [
                    (w.pipeline.name, type(w.pipeline), w.pipeline.package.family)
                    for w in self.workers.values()
                ],
            ),
            on_decisions=self._decided,
        )
        self.swaps: list[dict[str, Any]] = []
        self._noted: dict[str, float] = {}
        self._observed: set[tuple[str, str]] = set()
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

    def _decided(self, decisions: tuple[Decision, ...]) -> None:
        """Tell each worker whether its family is held off for lack of memory."""
        hold = self.settings.elastic.hold_s
        for d in decisions:
            held = d.to_variant is None and d.reason not in (
                SizingReason.IDLE,
                SizingReason.ON_DEMAND,
            )
            for worker in self._by_family.get(d.family, []):
                worker.memory_hold = d.reason.value if held else None
                worker.retry_after_s = hold

    # -- applying decisions ----------------------------------------------------------------

    def apply(self, family: str, variant: str | None, decision: Decision) -> None:
        """Make every pipeline of ``family`` run ``variant`` (None: unload).

        A load from nothing is measured (anonymous, file-backed and peak, the same
        way for every runtime) and becomes that variant's observed need.

        Raises:
            ModelError: The variant could not be loaded (the old one keeps serving).
        """
        started = time.monotonic()
        workers = self._by_family.get(family, [])
        was_loaded = any(w.pipeline.active_variant is not None for w in workers)
        if variant is not None and was_loaded and not decision.transient_fits:
            log.info("variant_release_first", family=family, new=variant)
            for finish in [w.request_variant(None) for w in workers]:
                finish(_LOAD_TIMEOUT_S)
            release_memory()
            was_loaded = False
        # The shards of a family switch at once, each on its own thread (a stream
        # pipeline has one per core); their load is measured together.
        with measure_load() as load:
            for finish in [w.request_variant(variant) for w in workers]:
                finish(_LOAD_TIMEOUT_S)
        release_memory()
        if variant is not None and not was_loaded and (family, variant) not in self._observed:
            # The first load from nothing of each variant is its measurement; later
            # ones differ by allocator slack, and re-measuring made needs jump.
            self._observed.add((family, variant))
            self._observe(family, variant, load, shards=len(workers))
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

    def _observe(self, family: str, variant: str, load: LoadMemory, *, shards: int = 1) -> None:
        """Record what loading ``variant`` from nothing took, as its own need and peak.

        Variants not loaded yet are scaled by this one's observed/manifest ratio
        (clamped, so one noisy reading cannot swing sizing wildly): the best
        estimate until they are loaded here themselves.
        """
        profile = next(p for p in self._profiles if p.family == family)
        base = profile.variant(variant)
        share = self.settings.elastic.soft_share
        # Every shard loads its own copy: the need of the family's variant is all of them.
        observed = load.anonymous + int(share * max(0, load.file))
        base_need = base.need_bytes * max(1, shards)
        if base_need <= 0 or observed < _MIN_OBSERVED_BYTES:
            return
        ratio = min(_MAX_CORRECTION, max(1 / _MAX_CORRECTION, observed / base_need))
        peak = load.peak if load.peak > observed else None
        self.controller.note_observed(
            family, variant, observed, peak_bytes=peak, scale=ratio * max(1, shards)
        )
        log.info(
            "variant_need_observed",
            family=family,
            variant=variant,
            observed=observed,
            peak=load.peak,
            manifest_need=base.need_bytes,
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
