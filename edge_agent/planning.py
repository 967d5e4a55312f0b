"""``edge-agent plan``: what each family would run now (or at a given budget), and why."""

from __future__ import annotations

from edge_agent.config.models import AgentSettings
from edge_agent.elastic.plan import plan
from edge_agent.elastic.probe import MemoryProbe
from edge_agent.elastic.swapper import profiles_for, unavailable_reason
from edge_agent.runtime.manifest import load_package

__all__ = ["plan_text"]


def plan_text(settings: AgentSettings, budget: str | None = None) -> str:
    """The plan for the enabled pipelines' families.

    Args:
        settings: Effective settings.
        budget: A size such as ``300MB``; None plans for this machine's memory now.
    """
    packages = [
        load_package(settings.models_dir / spec.family_name)
        for spec in settings.pipelines.values()
        if spec.enabled
    ]
    snapshot = None if budget is not None else MemoryProbe().read()
    text = plan(
        profiles_for(packages, settings), settings.elastic, budget=budget, snapshot=snapshot
    )
    missing = [
        f"{p.family}: not available here - {why}"
        for p in packages
        if (why := unavailable_reason(p)) is not None
    ]
    return "\n".join([text, *missing]) if missing else text
