"""Options of the objects pipeline (pipeline-wide) and of its routes (per camera).

Route options left unset fall back to the pipeline's; :func:`effective` merges
them into the :class:`Filters` one message runs with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Filters", "ObjectsOptions", "ObjectsRouteOptions", "effective"]

Polygon = list[tuple[float, float]]
_ZONE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def _check_zones(zones: dict[str, Polygon] | None) -> dict[str, Polygon] | None:
    import re

    if zones is None:
        return None
    for name, polygon in zones.items():
        if not re.match(_ZONE_NAME, name):
            raise ValueError(f"zone name {name!r}: letters, digits, '_' and '-' only (<= 64)")
        if len(polygon) < 3:
            raise ValueError(f"zone {name!r} needs at least 3 points")
        for x, y in polygon:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"zone {name!r}: point ({x}, {y}) is outside 0..1")
    return zones


def _check_scores(value: float | dict[str, float] | None) -> float | dict[str, float] | None:
    values = value.values() if isinstance(value, dict) else [] if value is None else [value]
    for v in values:
        if not 0.0 < v <= 1.0:
            raise ValueError(f"min_score {v} is outside (0, 1]")
    return value


class _FilterOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: list[str] | None = Field(
        default=None,
        description='COCO labels to report (e.g. ["person", "car", "dog"]); unset: all 80.',
    )
    min_score: float | dict[str, float] | None = Field(
        default=None,
        description="Score threshold: one value, or per label ({person = 0.6, car = 0.5}); "
        "labels not listed use the manifest's min_score (0.35).",
    )
    max_objects: int | None = Field(
        default=None, ge=1, le=300, description="Largest number of objects reported per image."
    )
    min_area: float | None = Field(
        default=None,
        ge=0.0,
        lt=1.0,
        description="Smallest box area as a fraction of the frame; smaller objects are dropped.",
    )
    zones: dict[str, Polygon] | None = Field(
        default=None,
        description="Named polygons in normalised coordinates (0..1, origin top left), e.g. "
        "{driveway = [[0, 0.6], [0.5, 0.6], [0.5, 1], [0, 1]]}; an object is in a zone when "
        "the bottom centre of its box is.",
    )
    max_missed: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="Consecutive frames of a sensor without an object before it ends.",
    )

    _zones = field_validator("zones")(_check_zones)
    _scores = field_validator("min_score")(_check_scores)


class ObjectsOptions(_FilterOptions):
    """Pipeline options of ``objects`` (``[pipelines.<name>.options]``)."""

    max_objects: int | None = Field(
        default=20, ge=1, le=300, description="Largest number of objects reported per image."
    )
    min_area: float | None = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Smallest box area as a fraction of the frame; smaller objects are dropped.",
    )
    max_missed: int | None = Field(
        default=2,
        ge=0,
        le=1000,
        description="Consecutive frames of a sensor without an object before it ends.",
    )
    match_iou: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="Box overlap (IoU) above which a detection continues an object of the "
        "previous frame with the same label.",
    )
    score_gain: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="An `update` event for a better top score needs at least this gain.",
    )
    events: bool = Field(
        default=True,
        description="Track objects and publish new/update/end events and retained counts.",
    )
    max_sensors: int = Field(
        default=64, ge=1, le=10000, description="Sensors tracked at once; least recent dropped."
    )
    idle_reset_s: float = Field(
        default=600.0,
        gt=0.0,
        description="A sensor silent this long starts over: its objects end (reason idle).",
    )


class ObjectsRouteOptions(_FilterOptions):
    """Per-route options of ``objects`` (e.g. per camera); unset ones take the pipeline's value.

    The field descriptions are the pipeline's; on a route, ``null`` means "as the pipeline".
    """

    events: bool | None = Field(
        default=None, description="Override the pipeline's `events` for this route."
    )


@dataclass(frozen=True, slots=True)
class Filters:
    """What one message runs with, after merging route and pipeline options."""

    classes: frozenset[str] | None
    min_score: float | Mapping[str, float] | None
    max_objects: int
    min_area: float
    zones: Mapping[str, Sequence[tuple[float, float]]]
    max_missed: int
    events: bool


def effective(pipeline: ObjectsOptions, route: BaseModel) -> Filters:
    """Merge ``route`` (an :class:`ObjectsRouteOptions`, or no options) over ``pipeline``."""
    r = route if isinstance(route, ObjectsRouteOptions) else ObjectsRouteOptions()

    def pick(name: str) -> object:
        value = getattr(r, name)
        return getattr(pipeline, name) if value is None else value

    classes = pick("classes")
    return Filters(
        classes=frozenset(classes) if isinstance(classes, list) else None,
        min_score=pick("min_score"),  # type: ignore[arg-type]
        max_objects=int(pick("max_objects") or 20),  # type: ignore[call-overload]
        min_area=float(pick("min_area") or 0.0),  # type: ignore[arg-type]
        zones=pick("zones") or {},  # type: ignore[arg-type]
        max_missed=int(pick("max_missed") or 0),  # type: ignore[call-overload]
        events=bool(pick("events")),
    )
