"""``edge-agent plan [--budget 300MB]``: which variant each family would run, and why.

The plan is what a fresh start would choose (nothing loaded, no hysteresis
history); a running daemon may hold a smaller variant until ``hold_s`` passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edge_agent.elastic.controller import pressure_of
from edge_agent.elastic.decision import (
    Decision,
    FamilyConfig,
    FamilyInput,
    FamilyState,
    PolicyInputs,
    PolicyState,
)
from edge_agent.elastic.policy import SizingPolicy
from edge_agent.elastic.probe import MemorySnapshot
from edge_agent.elastic.profile import FamilyProfile, VariantOption
from edge_agent.elastic.settings import ElasticSettings
from edge_agent.elastic.sizes import format_size, parse_size

__all__ = [
    "describe_snapshot",
    "format_plan",
    "parse_size",
    "plan",
    "plan_decisions",
    "plan_document",
]

_REASON_TEXT = {
    "fits": "the mode's choice fits",
    "over_budget": "nothing better fits",
    "pressure": "memory pressure",
    "pinned": "pinned",
    "pinned_does_not_fit": "the pinned variant does not fit",
}


def plan_decisions(
    profiles: Sequence[FamilyProfile],
    settings: ElasticSettings,
    *,
    budget_bytes: int | None = None,
    snapshot: MemorySnapshot | None = None,
    families: Mapping[str, FamilyConfig] | None = None,
) -> tuple[Decision, ...]:
    """Decide as a fresh start would once every family has had a message.

    On-demand families are planned as if needed (what they would run); the plan
    marks them as on demand.

    Args:
        profiles: Families in config order.
        settings: Elastic settings.
        budget_bytes: Memory the model set may use; overrides the snapshot.
        snapshot: A memory reading, used when ``budget_bytes`` is None.
        families: Priorities (default: all equal, config order decides).

    Returns:
        One decision per family.

    Raises:
        ValueError: Neither a budget nor a snapshot was given.
    """
    if budget_bytes is not None:
        free, pressure_in = budget_bytes, None
    elif snapshot is not None:
        free, pressure_in = (
            snapshot.free_bytes(settings.reserve_bytes, settings.cgroup_reserve_bytes),
            pressure_of(snapshot),
        )
    else:
        raise ValueError("plan needs a budget or a memory snapshot")
    policy = SizingPolicy(settings)
    policy.validate(profiles)
    configs = families or {}
    inputs = PolicyInputs(
        now=0.0,
        free_bytes=free,
        families=tuple(
            FamilyInput(profile=p, priority=configs.get(p.family, FamilyConfig()).priority)
            for p in profiles
        ),
    )
    if pressure_in is not None:
        inputs = PolicyInputs(inputs.now, inputs.free_bytes, inputs.families, pressure_in)
    return policy.decide(inputs, PolicyState()).decisions


def _next_step(lad: Sequence[VariantOption], d: Decision) -> tuple[VariantOption, int] | None:
    """What this family would run next if memory grew, and how much more it needs."""
    if not lad:
        return None
    ranks = [v.id for v in lad]
    if d.to_variant is None:
        # Back from unloaded: the best variant reachable with the least extra memory.
        target = min(lad, key=lambda v: v.load_bytes)
        return target, max(0, target.load_bytes - d.available_bytes)
    i = ranks.index(d.to_variant) if d.to_variant in ranks else 0
    better = [v for v in lad[:i] if v.load_bytes > 0]
    if not better:
        return None
    target = min(better, key=lambda v: v.load_bytes)
    return target, max(0, target.load_bytes - d.available_bytes)


def plan_document(
    profiles: Sequence[FamilyProfile],
    settings: ElasticSettings,
    decisions: Sequence[Decision],
    *,
    budget_source: str,
    families: Mapping[str, FamilyConfig] | None = None,
) -> dict[str, Any]:
    """The plan as JSON-ready data: one entry per family with its ladder.

    Args:
        profiles: Families in config order (same order as ``decisions``).
        settings: Elastic settings.
        decisions: From :func:`plan_decisions`.
        budget_source: How the budget was obtained.
        families: Priorities and loading (shown; on-demand families are marked).

    Returns:
        ``{"mode", "budget_bytes", "budget_source", "families": [...],
        "next_if_memory_grew"}``; each variant row has ``status`` ``fits``, ``short``
        (with ``short_by_bytes``) or ``not_allowed`` (by the mode); each family has
        ``priority``, ``load``, ``loaded`` and ``next`` (what it would run next with
        more memory, and how much more that takes).
    """
    policy = SizingPolicy(settings)
    configs = families or {}
    out: list[dict[str, Any]] = []
    upgrades: list[tuple[int, int, str, str]] = []
    for profile, d in zip(profiles, decisions, strict=True):
        lad = policy.ladder_for(profile, FamilyState())
        on_ladder = {v.id for v in lad}
        rows: list[dict[str, Any]] = []
        for v in [*lad, *(v for v in profile.variants if v.id not in on_ladder)]:
            row: dict[str, Any] = {
                "id": v.id,
                "chosen": v.id == d.to_variant,
                "need_bytes": v.need_bytes,
                "need_source": "observed" if v.observed else "manifest",
                "quality": v.quality,
                "latency_ms": v.latency_ms,
            }
            if v.id not in on_ladder:
                row["status"] = "not_allowed"
            elif v.load_bytes <= d.available_bytes:
                row["status"] = "fits"
            else:
                row["status"] = "short"
                row["short_by_bytes"] = v.load_bytes - d.available_bytes
            if v.peak_bytes > v.need_bytes:
                row["peak_bytes"] = v.peak_bytes
            rows.append(row)
        config = configs.get(profile.family, FamilyConfig())
        step = _next_step(lad, d)
        nxt = None
        if step is not None:
            nxt = {"variant": step[0].id, "more_bytes": step[1]}
            upgrades.append((step[1], -config.priority, profile.family, step[0].id))
        out.append(
            {
                "family": profile.family,
                "variant": d.to_variant,
                "loaded": d.to_variant is not None,
                "priority": config.priority,
                "load": "on_demand" if config.on_demand else "at_start",
                "reason": d.reason.value,
                "explanation": _REASON_TEXT.get(d.reason.value, d.reason.value),
                "need_bytes": d.need_bytes,
                "available_bytes": d.available_bytes,
                "next": nxt,
                "variants": rows,
            }
        )
    # Each family's available memory grows one for one with the budget (a higher
    # one's only once it has its best), so the smallest shortfall is met first;
    # on a tie the higher priority goes first.
    first = min(upgrades, default=None)
    return {
        "mode": settings.mode,
        "budget_bytes": decisions[0].budget_bytes if decisions else 0,
        "budget_source": budget_source,
        "families": out,
        "next_if_memory_grew": (
            {"family": first[2], "variant": first[3], "more_bytes": first[0]} if first else None
        ),
    }


def format_plan(
    profiles: Sequence[FamilyProfile],
    settings: ElasticSettings,
    decisions: Sequence[Decision],
    *,
    budget_source: str,
    families: Mapping[str, FamilyConfig] | None = None,
) -> str:
    """Render decisions as text, one block per family with its ladder.

    Args:
        profiles: Families in config order (same order as ``decisions``).
        settings: Elastic settings.
        decisions: From :func:`plan_decisions`.
        budget_source: How the budget was obtained, shown on the first line.
        families: Priorities and loading (default: all equal, at start).

    Returns:
        The explanation, ending with a newline.
    """
    doc = plan_document(
        profiles, settings, decisions, budget_source=budget_source, families=families
    )
    lines = [f"mode {doc['mode']}, budget {format_size(doc['budget_bytes'])} ({budget_source})"]
    for fam in doc["families"]:
        demand = ", loaded on its first message" if fam["load"] == "on_demand" else ""
        available = format_size(fam["available_bytes"])
        if fam["variant"] is None and fam["reason"] == "over_budget":
            why = f"no variant fits the {available} left to it"
        else:
            need = format_size(fam["need_bytes"])
            why = f"{fam['explanation']} (need {need} of {available} available)"
        lines.append(
            f"{fam['family']} (priority {fam['priority']}{demand}): "
            f"{fam['variant'] or 'not loaded'} - {fam['reason']}: {why}"
        )
        lines.append("  variants, best first for this mode:")
        for v in fam["variants"]:
            status = {"fits": "fits", "not_allowed": "not allowed by the mode"}.get(
                v["status"], f"short by {format_size(v.get('short_by_bytes', 0))}"
            )
            lines.append(
                f"  {'*' if v['chosen'] else ' '} {v['id']:<20} need "
                f"{format_size(v['need_bytes']):>10} ({v['need_source']})"
                f"  quality {v['quality']:.3f}  {v['latency_ms']:8.2f} ms  {status}"
                + (
                    f" (peak {format_size(v['peak_bytes'])} while loading)"
                    if "peak_bytes" in v
                    else ""
                )
            )
    grow = doc["next_if_memory_grew"]
    if grow is not None:
        lines.append(
            f"if memory grew: {grow['family']} {grow['variant']} comes first "
            f"({format_size(grow['more_bytes'])} more)"
        )
    return "\n".join(lines) + "\n"


def plan(
    profiles: Sequence[FamilyProfile],
    settings: ElasticSettings,
    *,
    budget: str | int | None = None,
    snapshot: MemorySnapshot | None = None,
    families: Mapping[str, FamilyConfig] | None = None,
    source: str | None = None,
) -> str:
    """The full text of ``edge-agent plan``.

    Args:
        profiles: Families in config order.
        settings: Elastic settings.
        budget: ``--budget`` as given (``"300MB"``), or None to use ``snapshot``.
        snapshot: A memory reading for "now".
        families: Priorities and loading (default: all equal, at start).
        source: How the budget was chosen, when not ``--budget`` (a board profile).

    Returns:
        The explanation.
    """
    if budget is not None:
        budget_bytes: int | None = parse_size(budget)
        source = source or f"--budget {budget}"
    else:
        budget_bytes = None
        if snapshot is None:
            raise ValueError("plan needs a budget or a memory snapshot")
        source = describe_snapshot(snapshot, settings.reserve_bytes)
    decisions = plan_decisions(
        profiles, settings, budget_bytes=budget_bytes, snapshot=snapshot, families=families
    )
    return format_plan(profiles, settings, decisions, budget_source=source, families=families)


def describe_snapshot(snap: MemorySnapshot, reserve: int) -> str:
    """How a budget was read from a memory snapshot, for a person."""
    parts = [f"MemAvailable {format_size(snap.mem_available)} - reserve {format_size(reserve)}"]
    if snap.cgroup_headroom is not None and snap.cgroup_limit is not None:
        parts.append(
            f"cgroup v{snap.cgroup_version} limit {format_size(snap.cgroup_limit)}"
            f" - working set {format_size(snap.cgroup_working_set or 0)}"
        )
    if snap.psi_some_avg10 is not None:
        parts.append(f"PSI some avg10 {snap.psi_some_avg10:.2f}%")
    else:
        parts.append("no PSI")
    return "; ".join(parts)
