"""``edge-agent plan [--budget 300MB]``: which variant each family would run, and why.

The plan is what a fresh start would choose (nothing loaded, no hysteresis
history); a running daemon may hold a smaller variant until ``hold_s`` passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge_agent.elastic.controller import pressure_of
from edge_agent.elastic.decision import (
    Decision,
    FamilyInput,
    FamilyState,
    PolicyInputs,
    PolicyState,
)
from edge_agent.elastic.policy import SizingPolicy
from edge_agent.elastic.probe import MemorySnapshot
from edge_agent.elastic.profile import FamilyProfile
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
) -> tuple[Decision, ...]:
    """Decide as a fresh start would.

    Args:
        profiles: Families in config order.
        settings: Elastic settings.
        budget_bytes: Memory the model set may use; overrides the snapshot.
        snapshot: A memory reading, used when ``budget_bytes`` is None.

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
    inputs = PolicyInputs(
        now=0.0,
        free_bytes=free,
        families=tuple(FamilyInput(profile=p) for p in profiles),
    )
    if pressure_in is not None:
        inputs = PolicyInputs(inputs.now, inputs.free_bytes, inputs.families, pressure_in)
    return policy.decide(inputs, PolicyState()).decisions


def plan_document(
    profiles: Sequence[FamilyProfile],
    settings: ElasticSettings,
    decisions: Sequence[Decision],
    *,
    budget_source: str,
) -> dict[str, Any]:
    """The plan as JSON-ready data: one entry per family with its ladder.

    Args:
        profiles: Families in config order (same order as ``decisions``).
        settings: Elastic settings.
        decisions: From :func:`plan_decisions`.
        budget_source: How the budget was obtained.

    Returns:
        ``{"mode", "budget_bytes", "budget_source", "families": [...]}``; each
        variant row has ``status`` ``fits``, ``short`` (with ``short_by_bytes``) or
        ``not_allowed`` (by the mode).
    """
    policy = SizingPolicy(settings)
    families: list[dict[str, Any]] = []
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
            elif v.need_bytes <= d.available_bytes:
                row["status"] = "fits"
            else:
                row["status"] = "short"
                row["short_by_bytes"] = v.need_bytes - d.available_bytes
            rows.append(row)
        families.append(
            {
                "family": profile.family,
                "variant": d.to_variant,
                "reason": d.reason.value,
                "explanation": _REASON_TEXT.get(d.reason.value, d.reason.value),
                "need_bytes": d.need_bytes,
                "available_bytes": d.available_bytes,
                "variants": rows,
            }
        )
    return {
        "mode": settings.mode,
        "budget_bytes": decisions[0].budget_bytes if decisions else 0,
        "budget_source": budget_source,
        "families": families,
    }


def format_plan(
    profiles: Sequence[FamilyProfile],
    settings: ElasticSettings,
    decisions: Sequence[Decision],
    *,
    budget_source: str,
) -> str:
    """Render decisions as text, one block per family with its ladder.

    Args:
        profiles: Families in config order (same order as ``decisions``).
        settings: Elastic settings.
        decisions: From :func:`plan_decisions`.
        budget_source: How the budget was obtained, shown on the first line.

    Returns:
        The explanation, ending with a newline.
    """
    doc = plan_document(profiles, settings, decisions, budget_source=budget_source)
    lines = [f"mode {doc['mode']}, budget {format_size(doc['budget_bytes'])} ({budget_source})"]
    for fam in doc["families"]:
        lines.append(
            f"{fam['family']}: {fam['variant'] or 'nothing'} - {fam['reason']}: "
            f"{fam['explanation']} (need {format_size(fam['need_bytes'])} of "
            f"{format_size(fam['available_bytes'])} available)"
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
            )
    return "\n".join(lines) + "\n"


def plan(
    profiles: Sequence[FamilyProfile],
    settings: ElasticSettings,
    *,
    budget: str | int | None = None,
    snapshot: MemorySnapshot | None = None,
) -> str:
    """The full text of ``edge-agent plan``.

    Args:
        profiles: Families in config order.
        settings: Elastic settings.
        budget: ``--budget`` as given (``"300MB"``), or None to use ``snapshot``.
        snapshot: A memory reading for "now".

    Returns:
        The explanation.
    """
    if budget is not None:
        budget_bytes: int | None = parse_size(budget)
        source = f"--budget {budget}"
    else:
        budget_bytes = None
        if snapshot is None:
            raise ValueError("plan needs a budget or a memory snapshot")
        source = describe_snapshot(snapshot, settings.reserve_bytes)
    decisions = plan_decisions(profiles, settings, budget_bytes=budget_bytes, snapshot=snapshot)
    return format_plan(profiles, settings, decisions, budget_source=source)


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
