"""Configuration of elastic sizing (the ``[elastic]`` table)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from edge_agent.elastic.sizes import parse_size

__all__ = ["ByteCount", "ElasticSettings", "SizingMode"]

SizingMode = Literal["quality-first", "performance-first", "pinned"]

ByteCount = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
"""Bytes, given as an int or a size string such as ``"300MB"``, ``"1.5GiB"``, ``"512M"``."""


class ElasticSettings(BaseModel):
    """How edge-agent chooses which variant of each model family to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: SizingMode = Field(
        default="quality-first",
        description=(
            "quality-first: the best-quality variant that fits (up to the manifest's "
            "preferred one); performance-first: the fastest variant with quality >= floor "
            "that fits, shedding to faster ones while an inbox keeps filling; pinned: the "
            "pinned (or manifest-preferred) variant, or none if it cannot fit."
        ),
    )
    reserve_bytes: ByteCount = Field(
        default=64 * 1024**2,
        description=(
            "Memory always left for the OS and other programs (subtracted from MemAvailable)."
        ),
    )
    cgroup_reserve_bytes: ByteCount = Field(
        default=24 * 1024**2,
        description=(
            "Working room kept free inside the daemon's own cgroup limit (decode buffers, "
            "Python heap); the loaded variants must fit in the rest."
        ),
    )
    soft_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of a variant's measured file-backed (soft) memory counted in its need.",
    )
    step_up_margin: float = Field(
        default=0.15,
        ge=0,
        le=10,
        description=(
            "Step up only if the bigger variant fits with this fraction of its need to spare."
        ),
    )
    step_up_margin_bytes: ByteCount = Field(
        default=8 * 1024**2,
        description=(
            "Minimum spare bytes required to step up (the larger of this and step_up_margin)."
        ),
    )
    hold_s: float = Field(
        default=60.0,
        ge=0,
        description="Seconds the budget must hold with margin (and no pressure) before a step up.",
    )
    psi_threshold: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="PSI memory 'some avg10' (percent) above which a step down is forced.",
    )
    pressure_cooldown_s: float = Field(
        default=10.0,
        ge=0,
        description="Minimum seconds between two pressure step-downs (PSI avg10 decays slowly).",
    )
    check_interval_s: float = Field(
        default=5.0, gt=0, description="Seconds between two sizing checks."
    )
    idle_unload_s: float | None = Field(
        default=600.0,
        gt=0,
        description="Unload a family whose topics stayed idle this long (null: never).",
    )
    backlog_fill: float = Field(
        default=0.75,
        gt=0,
        le=1,
        description="performance-first: inbox fill ratio counted as a backlog.",
    )
    backlog_hold_s: float = Field(
        default=10.0,
        ge=0,
        description=(
            "performance-first: seconds of continuous backlog before shedding to a faster variant."
        ),
    )
    quality_floor: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description=(
            "performance-first: quality floor for every family (null: each manifest's own)."
        ),
    )
    pinned: dict[str, str] = Field(
        default_factory=dict,
        description="Family -> variant id kept fixed whatever the mode (in pinned mode, "
        "families not listed keep their manifest's quality-first variant).",
    )
