"""Zones: point in polygon, and an object is in a zone when its box's bottom centre is."""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from edge_agent.pipelines.objects.zones import anchor, contains, zones_of

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def rectangles(draw: st.DrawFn) -> tuple[float, float, float, float]:
    x0, x1 = sorted((draw(unit), draw(unit)))
    y0, y1 = sorted((draw(unit), draw(unit)))
    assume(x1 - x0 > 1e-3 and y1 - y0 > 1e-3)
    return x0, y0, x1, y1


@st.composite
def convex_polygons(draw: st.DrawFn) -> list[tuple[float, float]]:
    """Points on a circle at sorted angles: convex, counter-clockwise."""
    cx, cy = draw(st.floats(0.3, 0.7)), draw(st.floats(0.3, 0.7))
    r = draw(st.floats(0.05, 0.29))
    angles = sorted(
        set(draw(st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=3, max_size=12)))
    )
    assume(len(angles) >= 3)
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angles]


def _rect_polygon(r: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    return [(r[0], r[1]), (r[2], r[1]), (r[2], r[3]), (r[0], r[3])]


@given(rectangles(), unit, unit)
def test_a_rectangle_zone_contains_exactly_the_points_inside_it(
    rect: tuple[float, float, float, float], x: float, y: float
) -> None:
    # Points within 1e-6 of the border count as on it (the test allows 1e-9 of rounding).
    assume(min(abs(x - rect[0]), abs(x - rect[2]), abs(y - rect[1]), abs(y - rect[3])) > 1e-6)
    inside = rect[0] <= x <= rect[2] and rect[1] <= y <= rect[3]
    assert contains(_rect_polygon(rect), (x, y)) == inside


@given(rectangles(), unit, unit)
def test_vertex_order_does_not_matter(
    rect: tuple[float, float, float, float], x: float, y: float
) -> None:
    polygon = _rect_polygon(rect)
    assert contains(polygon, (x, y)) == contains(polygon[::-1], (x, y))
    assert contains(polygon, (x, y)) == contains(polygon[2:] + polygon[:2], (x, y))


@given(convex_polygons(), unit, unit)
def test_a_convex_zone_agrees_with_the_half_plane_test(
    polygon: list[tuple[float, float]], x: float, y: float
) -> None:
    # Inside a counter-clockwise convex polygon = left of (or on) every edge.
    crosses = [
        (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
        for a, b in zip(polygon, polygon[1:] + polygon[:1], strict=True)
    ]
    assume(all(abs(c) > 1e-6 for c in crosses))  # not on an edge (rounding)
    assert contains(polygon, (x, y)) == all(c > 0 for c in crosses)


@given(convex_polygons())
def test_every_vertex_is_in_its_own_zone(polygon: list[tuple[float, float]]) -> None:
    assert all(contains(polygon, p) for p in polygon)


@given(rectangles(), rectangles())
def test_an_object_is_in_a_zone_when_its_bottom_centre_is(
    zone: tuple[float, float, float, float], box: tuple[float, float, float, float]
) -> None:
    found = zones_of(box, {"z": _rect_polygon(zone)})
    bx, by = (box[0] + box[2]) / 2, box[3]
    assume(min(abs(bx - zone[0]), abs(bx - zone[2]), abs(by - zone[1]), abs(by - zone[3])) > 1e-6)
    assert anchor(box) == (bx, by)
    assert (found == ("z",)) == (zone[0] <= bx <= zone[2] and zone[1] <= by <= zone[3])


def test_a_box_overlapping_a_zone_with_its_head_only_is_not_in_it() -> None:
    driveway = [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]
    standing_above = (0.4, 0.1, 0.6, 0.45)
    feet_inside = (0.4, 0.3, 0.6, 0.7)
    assert zones_of(standing_above, {"driveway": driveway}) == ()
    assert zones_of(feet_inside, {"driveway": driveway}) == ("driveway",)


def test_zones_are_listed_in_config_order() -> None:
    everywhere = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    zones = {"b": everywhere, "a": everywhere}
    assert zones_of((0.1, 0.1, 0.2, 0.2), zones) == ("b", "a")
