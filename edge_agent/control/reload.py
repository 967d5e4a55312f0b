"""``reload``: read the config files again, apply what can change live, name the rest.

Live: ``elastic.*`` (sizing settings, checked against the loaded families; run-time
``pin``/``unpin``/``mode`` overrides are replaced by the files' values), ``log.level``
and ``prometheus.*``. Everything else (broker, routes, pipelines, limits, Home
Assistant, device id, topic prefix...) is listed under ``restart_required`` and
not applied: those parts are wired into the running daemon at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from edge_agent.control.context import ControlContext
from edge_agent.control.request import ControlError, ControlReason
from edge_agent.errors import ConfigError
from edge_agent.logs import set_log_level

__all__ = ["LIVE_KEYS", "changed_keys", "reload_settings"]

LIVE_KEYS = ("elastic.", "log.level", "prometheus.")
"""Dotted-key prefixes that ``reload`` applies without a restart."""

log = structlog.get_logger("edge_agent.control")


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", out)
    else:
        out[prefix.rstrip(".")] = value


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two JSON-ready settings dumps.

    Args:
        old: ``settings.model_dump(mode="json")`` before.
        new: The same after.

    Returns:
        The keys, sorted; a key present on one side only counts as changed.
    """
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(old, "", a)
    _flatten(new, "", b)
    return sorted(k for k in a.keys() | b.keys() if a.get(k, ...) != b.get(k, ...))


def _is_live(key: str) -> bool:
    return any(key == p.rstrip(".") or key.startswith(p) for p in LIVE_KEYS)


def reload_settings(ctx: ControlContext) -> dict[str, Any]:
    """Apply a fresh read of the config files to ``ctx`` as far as it can change live.

    Returns:
        ``{"changed", "applied", "restart_required"}`` (dotted keys).

    Raises:
        ControlError: The files no longer make a valid config, or pinned variants
            do not exist (nothing is applied then).
    """
    if ctx.reload_source is None:
        raise ControlError(ControlReason.UNAVAILABLE, "this daemon was not started from files")
    try:
        new = ctx.reload_source()
    except ConfigError as exc:
        raise ControlError(ControlReason.BAD_REQUEST, f"config error: {exc}") from None
    old = ctx.settings
    changed = changed_keys(old.model_dump(mode="json"), new.model_dump(mode="json"))
    applied = [k for k in changed if _is_live(k)]
    restart = [k for k in changed if not _is_live(k)]
    if any(k.startswith("elastic.") for k in applied) and ctx.sizing is not None:
        try:
            ctx.sizing.update_settings(new.elastic)
        except ConfigError as exc:
            raise ControlError(ControlReason.BAD_REQUEST, f"config error: {exc}") from None
        ctx.sizing.request_check()
    if "log.level" in applied:
        set_log_level(new.log.level)
    update: dict[str, Any] = {"elastic": new.elastic, "prometheus": new.prometheus}
    update["log"] = old.log.model_copy(update={"level": new.log.level})
    ctx.settings = old.model_copy(update=update)
    if ctx.on_reload is not None and any(k.startswith("prometheus.") for k in applied):
        ctx.on_reload(ctx.settings)
    log.info("config_reloaded", applied=applied, restart_required=restart)
    return {"changed": changed, "applied": applied, "restart_required": restart}
