"""``edge-agent plan``: what each family would run now, at a budget, or on a board, and why."""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.config.models import AgentSettings
from edge_agent.elastic.plan import plan
from edge_agent.elastic.probe import MemoryProbe
from edge_agent.elastic.sizes import format_size
from edge_agent.elastic.swapper import family_configs, profiles_for, unavailable_reason
from edge_agent.errors import ConfigError
from edge_agent.pipelines.registry import pipeline_class
from edge_agent.runtime.manifest import load_package

__all__ = ["BOARDS", "Board", "plan_text"]

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Board:
    """A board the plan can be made for: its memory and the model budget assumed on it.

    Attributes:
        name: The board.
        ram_bytes: Its memory.
        budget_bytes: What the daemon's models may use there: the RAM less what
            Raspberry Pi OS Lite with SSH and mosquitto keeps (about 150 MiB on
            the 512 MiB board, 300 MiB on larger ones), the daemon's own Python,
            numpy and LiteRT (about 70 MiB) and ``elastic.reserve_bytes`` (64 MiB).
            An assumption, not a measurement on the board.
    """

    name: str
    ram_bytes: int
    budget_bytes: int


BOARDS: dict[str, Board] = {
    "pi-zero-2w": Board("Raspberry Pi Zero 2 W", 512 * MiB, 224 * MiB),
    "pi4-2gb": Board("Raspberry Pi 4, 2 GB", 2048 * MiB, 1600 * MiB),
    "pi5-8gb": Board("Raspberry Pi 5, 8 GB", 8192 * MiB, 7700 * MiB),
}


def plan_text(
    settings: AgentSettings, budget: str | None = None, profile: str | None = None
) -> str:
    """The plan for the enabled pipelines' families, in priority order of importance.

    Args:
        settings: Effective settings.
        budget: A size such as ``300MB``; None plans for this machine's memory now.
        profile: A board from :data:`BOARDS` (its assumed budget); not with ``budget``.

    Raises:
        ConfigError: An unknown board, or both a budget and a board.
    """
    source = None
    if profile is not None:
        if budget is not None:
            raise ConfigError("give --budget or --profile, not both", key="--profile")
        board = BOARDS.get(profile)
        if board is None:
            raise ConfigError(f"unknown board {profile!r} (known: {', '.join(BOARDS)})")
        budget = str(board.budget_bytes)
        source = (
            f"--profile {profile}: {board.name}, {format_size(board.ram_bytes)} RAM, "
            "an assumed budget"
        )
    enabled = [(name, spec) for name, spec in settings.pipelines.items() if spec.enabled]
    packages = [load_package(settings.models_dir / spec.family_name) for _, spec in enabled]
    configs = family_configs(
        settings,
        [
            (name, pipeline_class(spec.kind), pkg.family)
            for (name, spec), pkg in zip(enabled, packages, strict=True)
        ],
    )
    snapshot = None if budget is not None else MemoryProbe().read()
    text = plan(
        profiles_for(packages, settings),
        settings.elastic,
        budget=budget,
        snapshot=snapshot,
        families=configs,
        source=source,
    )
    missing = [
        f"{p.family}: not available here - {why}"
        for p in packages
        if (why := unavailable_reason(p)) is not None
    ]
    return "\n".join([text, *missing]) if missing else text
