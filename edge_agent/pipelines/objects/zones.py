"""Zones: named polygons in normalised image coordinates.

An object is in a zone when the bottom centre of its box (where it stands on
the ground, as Frigate decides) lies inside the polygon or on its border.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["Point", "anchor", "contains", "zones_of"]

Point = tuple[float, float]


def anchor(box: Sequence[float]) -> Point:
    """The bottom centre of ``[x_min, y_min, x_max, y_max]``."""
    return ((box[0] + box[2]) / 2.0, box[3])


def _on_segment(p: Point, a: Point, b: Point, eps: float = 1e-9) -> bool:
    cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
    if abs(cross) > eps:
        return False
    return (min(a[0], b[0]) - eps <= p[0] <= max(a[0], b[0]) + eps) and (
        min(a[1], b[1]) - eps <= p[1] <= max(a[1], b[1]) + eps
    )


def contains(polygon: Sequence[Point], point: Point) -> bool:
    """Whether ``point`` is inside ``polygon`` or on its border (even-odd rule).

    Args:
        polygon: Vertices in order (the last connects to the first); any shape,
            self-intersecting ones by the even-odd rule.
        point: ``(x, y)``.

    Returns:
        True inside or on an edge.
    """
    n = len(polygon)
    inside = False
    x, y = point
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        if _on_segment(point, a, b):
            return True
        if (a[1] > y) != (b[1] > y):
            x_cross = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if x < x_cross:
                inside = not inside
    return inside


def zones_of(box: Sequence[float], zones: Mapping[str, Sequence[Point]]) -> tuple[str, ...]:
    """Names of the zones (in ``zones`` order) that hold the box's bottom centre."""
    point = anchor(box)
    return tuple(name for name, polygon in zones.items() if contains(polygon, point))
