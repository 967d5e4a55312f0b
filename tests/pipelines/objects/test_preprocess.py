"""Letterbox and normalisation: what the model sees, and boxes mapped back."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.pipelines.objects.preprocess import Normalisation, letterbox, to_input

NANODET = Normalisation("BGR", (103.53, 116.28, 123.675), (57.375, 57.12, 58.395), "NCHW")


@given(
    st.integers(1, 64),
    st.integers(1, 64),
    st.sampled_from(["BGR", "RGB"]),
    st.sampled_from(["NCHW", "NHWC"]),
)
def test_normalisation_equals_the_formula(h: int, w: int, channels: str, layout: str) -> None:
    px = np.random.default_rng(h * 64 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    norm = Normalisation(channels, NANODET.mean, NANODET.std, layout)  # type: ignore[arg-type]
    x = px[..., ::-1] if channels == "BGR" else px
    want = (x.astype(np.float64) - np.array(norm.mean)) / np.array(norm.std)
    if layout == "NCHW":
        want = want.transpose(2, 0, 1)
    got = to_input(px, norm)
    assert got.shape == (1, *want.shape)
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)


@given(st.integers(8, 900), st.integers(8, 900))
def test_boxes_map_back_onto_the_source(w: int, h: int) -> None:
    rgb = np.zeros((h, w, 3), np.uint8)
    canvas, place = letterbox(rgb, 320, 320)
    assert canvas.shape == (320, 320, 3)
    # The source's corners land on the placement's corners, and map back to 0 and 1.
    x1 = place.left + place.scale * w
    y1 = place.top + place.scale * h
    back = place.boxes_to_source(np.array([[place.left, place.top, x1, y1]]))
    np.testing.assert_allclose(back, [[0.0, 0.0, 1.0, 1.0]], atol=0.02)


def test_the_bars_are_the_fill_value_and_the_image_is_centred() -> None:
    rgb = np.full((100, 200, 3), 255, np.uint8)
    canvas, place = letterbox(rgb, 416, 416, fill=0)
    assert (place.left, place.top) == (0, 104)
    assert canvas[:104].max() == 0
    assert canvas[-104:].max() == 0
    assert canvas[104:312].min() == 255
