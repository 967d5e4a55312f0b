"""Bridges elastic sizing decisions to the pipeline workers (placeholder: initial choice)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import structlog

from edge_agent.config.models import AgentSettings
from edge_agent.runtime.manifest import ModelManifest
from edge_agent.worker import Worker

__all__ = ["SizingController", "initial_variant"]

log = structlog.get_logger("edge_agent.sizing")


def initial_variant(settings: AgentSettings, name: str, manifest: ModelManifest) -> str:
    """The variant a pipeline starts with (before memory is considered)."""
    spec = settings.pipelines[name]
    if spec.variant is not None:
        return spec.variant
    mode = spec.mode or settings.elastic.mode
    if mode == "performance-first":
        return manifest.preferred.performance_first
    return manifest.preferred.quality_first


class SizingController:
    """Chooses and applies the variant of each pipeline.

    Args:
        settings: Effective settings.
        workers: Worker per pipeline name.
    """

    def __init__(self, settings: AgentSettings, workers: Mapping[str, Worker]) -> None:
        self.settings = settings
        self.workers = dict(workers)
        self._decisions: dict[str, dict[str, Any]] = {}

    def _initial(self, name: str) -> str:
        return initial_variant(self.settings, name, self.workers[name].pipeline.package.manifest)

    def initial_load(self) -> None:
        """Load each pipeline's first variant before the daemon reports ready."""
        for name, worker in self.workers.items():
            variant = self._initial(name)
            worker.request_variant(variant, wait=300)
            self._decisions[name] = {"to": variant, "reason": "initial"}
            log.info("variant_loaded", pipeline=name, variant=variant, reason="initial")

    def start(self, stop: threading.Event) -> None:
        """Start periodic sizing checks."""

    def snapshot(self) -> dict[str, Any]:
        """Latest decisions, for stats and status."""
        return {"decisions": dict(self._decisions)}
