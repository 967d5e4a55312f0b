"""What the control API may read and steer in the running daemon."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edge_agent.config.models import AgentSettings
from edge_agent.elastic.controller import SizingController
from edge_agent.runtime.manifest import ModelPackage

__all__ = ["ControlContext"]


@dataclass
class ControlContext:
    """The daemon as the control verbs see it (built by the daemon, faked in unit tests).

    Attributes:
        settings: The settings in force (run-time overrides and reloads update it).
        packages: Model package per served pipeline name.
        sizing: The sizing controller (None when no family is sized).
        details: Builds the retained status details document.
        stats: Builds a stats document now.
        healthy: Set while no worker is stuck.
        connected: Whether the broker connection is up.
        reload_source: Reads the config files again (None: ``reload`` is unavailable).
        on_reload: Applies the live parts of reloaded settings beyond sizing and log
            level (the Prometheus textfile path), given the new settings.
        started: ``time.monotonic()`` at start.
    """

    settings: AgentSettings
    packages: Mapping[str, ModelPackage]
    sizing: SizingController | None
    details: Callable[[], dict[str, Any]]
    stats: Callable[[], dict[str, Any]]
    healthy: threading.Event
    connected: Callable[[], bool]
    reload_source: Callable[[], AgentSettings] | None = None
    on_reload: Callable[[AgentSettings], None] | None = None
    started: float = field(default_factory=time.monotonic)

    def family_of(self, name: str) -> str | None:
        """The family named ``name``, or served by pipeline ``name``; None if neither."""
        families = {p.family for p in self.packages.values()}
        if name in families:
            return name
        package = self.packages.get(name)
        return package.family if package is not None else None

    def package_of(self, family: str) -> ModelPackage | None:
        """A package of ``family`` (pipelines of one family share it)."""
        return next((p for p in self.packages.values() if p.family == family), None)

    def pipelines_of(self) -> dict[str, list[str]]:
        """Pipeline names per family, in config order."""
        out: dict[str, list[str]] = {}
        for name, package in self.packages.items():
            out.setdefault(package.family, []).append(name)
        return out

    def uptime_s(self) -> float:
        """Seconds since start."""
        return round(time.monotonic() - self.started, 1)
