"""The control verbs: health, models, plan, pin, unpin, mode, reload and stats.

Each verb takes the :class:`ControlContext` and the request body and returns the
response ``data``, or raises :class:`ControlError`. Verbs that change sizing
(``pin``, ``unpin``, ``mode``) swap the controller's frozen settings and run one
sizing check at once, so the answer carries the decision that check made (the
swap, if any, has happened when the answer is sent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from edge_agent import __version__
from edge_agent.control.context import ControlContext
from edge_agent.control.reload import reload_settings
from edge_agent.control.request import ControlError, ControlReason
from edge_agent.elastic.controller import SizingController
from edge_agent.elastic.plan import describe_snapshot, plan_decisions, plan_document
from edge_agent.elastic.probe import MemoryProbe
from edge_agent.elastic.settings import ElasticSettings
from edge_agent.elastic.sizes import parse_size
from edge_agent.elastic.swapper import profiles_for, unavailable_reason
from edge_agent.errors import ConfigError

__all__ = ["VERBS", "Verb"]

Verb = Callable[[ControlContext, Mapping[str, Any]], Any]


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ControlError(ControlReason.BAD_REQUEST, f"the request needs a string {key!r}")
    return value


def _sizing(ctx: ControlContext) -> SizingController:
    if ctx.sizing is None:
        raise ControlError(ControlReason.UNAVAILABLE, "no model family is sized on this device")
    return ctx.sizing


def health(ctx: ControlContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """Whether the daemon serves: workers not stuck, broker up, each pipeline's variant."""
    details = ctx.details()
    return {
        "healthy": ctx.healthy.is_set(),
        "broker_connected": ctx.connected(),
        "device": ctx.settings.device_id,
        "version": __version__,
        "uptime_s": ctx.uptime_s(),
        "pipelines": details.get("pipelines", {}),
    }


def models(ctx: ControlContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """Families, their variants (availability, need, quality, latency), active and pinned."""
    sizing = ctx.sizing
    profiles = {p.family: p for p in sizing.profiles()} if sizing is not None else {}
    current = sizing.current() if sizing is not None else {}
    elastic = sizing.settings if sizing is not None else ctx.settings.elastic
    families = []
    for family, pipelines in ctx.pipelines_of().items():
        package = ctx.packages[pipelines[0]]
        manifest = package.manifest
        profile = profiles.get(family)
        variants = []
        for spec in manifest.variants:
            option = (
                next((v for v in profile.variants if v.id == spec.id), None) if profile else None
            )
            variants.append(
                {
                    "id": spec.id,
                    "available": package.unavailable_reason(spec.id) is None,
                    "unavailable_reason": package.unavailable_reason(spec.id),
                    "need_bytes": option.need_bytes if option else None,
                    "need_source": ("observed" if option.observed else "manifest")
                    if option
                    else None,
                    "hard_bytes": spec.hard_bytes,
                    "soft_bytes": spec.soft_bytes,
                    "quality": spec.quality,
                    "latency_ms": spec.latency_ms,
                    "active": current.get(family) == spec.id,
                }
            )
        families.append(
            {
                "family": family,
                "pipelines": pipelines,
                "task": manifest.task,
                "runtime": manifest.runtime,
                "active": current.get(family),
                "pinned": elastic.pinned.get(family),
                "unavailable": unavailable_reason(package),
                "variants": variants,
            }
        )
    return {"mode": elastic.mode, "families": families}


def plan(ctx: ControlContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """What a fresh start would run now (or at ``budget``), and why: ``edge-agent plan`` as JSON."""
    elastic = ctx.sizing.settings if ctx.sizing is not None else ctx.settings.elastic
    packages = list(ctx.packages.values())
    profiles = profiles_for(packages, ctx.settings)
    budget = body.get("budget")
    if budget is not None:
        if not isinstance(budget, str | int) or isinstance(budget, bool):
            raise ControlError(ControlReason.BAD_REQUEST, "budget must be a size, e.g. '300MB'")
        try:
            budget_bytes: int | None = parse_size(budget)
        except (ValueError, ConfigError) as exc:
            raise ControlError(ControlReason.BAD_REQUEST, str(exc)) from None
        snapshot, source = None, f"budget {budget}"
    else:
        budget_bytes, snapshot = None, MemoryProbe().read()
        source = describe_snapshot(snapshot, elastic.reserve_bytes)
    decisions = plan_decisions(profiles, elastic, budget_bytes=budget_bytes, snapshot=snapshot)
    doc = plan_document(profiles, elastic, decisions, budget_source=source)
    doc["running"] = ctx.sizing.current() if ctx.sizing is not None else {}
    doc["unavailable"] = {
        p.family: why for p in packages if (why := unavailable_reason(p)) is not None
    }
    return doc


def _apply_elastic(ctx: ControlContext, family: str | None, **changes: Any) -> dict[str, Any]:
    sizing = _sizing(ctx)
    try:
        new = ElasticSettings.model_validate({**sizing.settings.model_dump(), **changes})
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ControlError(ControlReason.BAD_REQUEST, problems) from None
    try:
        sizing.update_settings(new)
    except ConfigError as exc:
        raise ControlError(ControlReason.BAD_REQUEST, str(exc)) from None
    ctx.settings = ctx.settings.model_copy(update={"elastic": new})
    decisions = sizing.tick()
    shown = [d for d in decisions if family is None or d.family == family]
    return {
        "mode": new.mode,
        "pinned": dict(new.pinned),
        "decisions": [d.as_dict() for d in shown],
        "running": sizing.current(),
    }


def _family(ctx: ControlContext, body: Mapping[str, Any]) -> str:
    name = _text(body, "family")
    family = ctx.family_of(name)
    if family is None:
        known = ", ".join(sorted(ctx.pipelines_of())) or "none"
        raise ControlError(ControlReason.BAD_REQUEST, f"no family {name!r} here (known: {known})")
    return family


def pin(ctx: ControlContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """Keep ``family`` on ``variant`` whatever the mode (until ``unpin`` or ``reload``)."""
    family = _family(ctx, body)
    variant = _text(body, "variant")
    package = ctx.packages[ctx.pipelines_of()[family][0]]
    ids = [v.id for v in package.manifest.variants]
    if variant not in ids:
        raise ControlError(
            ControlReason.BAD_REQUEST, f"{family} has no variant {variant!r} (known: {ids})"
        )
    why = package.unavailable_reason(variant)
    if why is not None:
        raise ControlError(ControlReason.UNAVAILABLE, f"{family}/{variant}: {why}")
    pinned = {**_sizing(ctx).settings.pinned, family: variant}
    return _apply_elastic(ctx, family, pinned=pinned)


def unpin(ctx: ControlContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """Let sizing choose ``family``'s variant again."""
    family = _family(ctx, body)
    pinned = {k: v for k, v in _sizing(ctx).settings.pinned.items() if k != family}
    return _apply_elastic(ctx, family, pinned=pinned)


def mode(ctx: ControlContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """Switch the sizing mode (``quality-first``, ``performance-first`` or ``pinned``)."""
    return _apply_elastic(ctx, None, mode=_text(body, "mode"))


def reload(ctx: ControlContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """Read the config files again; apply what can change live, list what needs a restart."""
    return reload_settings(ctx)


def stats(ctx: ControlContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """The stats document, now."""
    return ctx.stats()


VERBS: dict[str, Verb] = {
    "health": health,
    "models": models,
    "plan": plan,
    "pin": pin,
    "unpin": unpin,
    "mode": mode,
    "reload": reload,
    "stats": stats,
}
"""Every verb by name (the last level of ``<prefix>/<device>/request/<verb>``)."""
