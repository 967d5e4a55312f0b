"""BlazeFace math: anchors, decoding, weighted NMS, letterbox geometry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.pipelines.faces.blazeface import (
    AnchorOptions,
    DecodeOptions,
    Detections,
    Letterbox,
    decode,
    generate_anchors,
    iou,
    letterbox,
    match_boxes,
    normalise,
    weighted_nms,
)

SHORT = AnchorOptions(128, 128, 0.1484375, 0.75, (8, 16, 16, 16))
FULL = AnchorOptions(192, 192, 0.1484375, 0.75, (4,), interpolated_scale_aspect_ratio=0.0)
DECODE = DecodeOptions(128.0, 128.0, 128.0, 128.0)


def _dets(boxes: list[list[float]], scores: list[float]) -> Detections:
    b = np.asarray(boxes, np.float32)
    kps = np.repeat(b[:, None, :2], 6, axis=1)
    return Detections(b, kps, np.asarray(scores, np.float32))


def test_short_range_has_896_anchors() -> None:
    assert generate_anchors(SHORT).shape == (896, 4)


def test_full_range_has_2304_anchors() -> None:
    assert generate_anchors(FULL).shape == (2304, 4)


def test_first_short_anchors_sit_in_the_first_stride_8_cell() -> None:
    anchors = generate_anchors(SHORT)
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16, 1.0, 1.0])
    np.testing.assert_allclose(anchors[1], anchors[0])


def test_stride_16_layers_share_one_feature_map() -> None:
    anchors = generate_anchors(SHORT)
    # 16x16 cells x 2 anchors, then 8x8 cells x 6 anchors (3 layers x 2).
    np.testing.assert_allclose(anchors[512, :2], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(anchors[512 + 5, :2], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(anchors[512 + 6, :2], [1.5 / 8, 0.5 / 8])


def test_decode_offsets_box_centre_from_its_anchor() -> None:
    anchors = np.array([[0.5, 0.5, 1.0, 1.0]], np.float32)
    raw = np.zeros((1, 16), np.float32)
    raw[0, :4] = [12.8, -12.8, 64.0, 32.0]  # +0.1, -0.1, w 0.5, h 0.25
    dets = decode(raw, np.array([10.0]), anchors, DECODE, 0.5)
    np.testing.assert_allclose(dets.boxes[0], [0.35, 0.275, 0.85, 0.525], atol=1e-6)


def test_decode_places_keypoints_relative_to_the_anchor() -> None:
    anchors = np.array([[0.25, 0.75, 1.0, 1.0]], np.float32)
    raw = np.zeros((1, 16), np.float32)
    raw[0, 4:6] = [25.6, 0.0]
    dets = decode(raw, np.array([10.0]), anchors, DECODE, 0.5)
    np.testing.assert_allclose(dets.keypoints[0, 0], [0.45, 0.75], atol=1e-6)


def test_decode_scores_are_the_sigmoid_of_logits() -> None:
    anchors = np.zeros((2, 4), np.float32)
    dets = decode(np.zeros((2, 16)), np.array([0.0, 2.0]), anchors, DECODE, 0.0)
    np.testing.assert_allclose(dets.scores, [0.5, 1 / (1 + np.exp(-2.0))], rtol=1e-6)


def test_decode_drops_detections_below_the_threshold() -> None:
    anchors = np.zeros((3, 4), np.float32)
    dets = decode(np.zeros((3, 16)), np.array([-3.0, 0.5, 3.0]), anchors, DECODE, 0.6)
    assert len(dets) == 2


def test_decode_survives_extreme_logits_without_warnings() -> None:
    anchors = np.zeros((2, 4), np.float32)
    with np.errstate(all="raise"):
        dets = decode(np.zeros((2, 16)), np.array([-1e4, 1e4]), anchors, DECODE, 0.5)
    assert dets.scores.tolist() == [1.0]


def test_decode_rejects_a_score_count_that_differs_from_the_anchors() -> None:
    with pytest.raises(ValueError, match="anchors"):
        decode(np.zeros((2, 16)), np.zeros(3), np.zeros((2, 4), np.float32), DECODE, 0.5)


def test_iou_of_a_box_with_itself_is_one() -> None:
    box = np.array([0.1, 0.1, 0.5, 0.5], np.float32)
    assert iou(box, box[None])[0] == pytest.approx(1.0)


def test_iou_of_disjoint_boxes_is_zero() -> None:
    assert iou(np.array([0, 0, 1, 1], np.float32), np.array([[2, 2, 3, 3]], np.float32))[0] == 0


def test_weighted_nms_averages_overlapping_boxes_by_score() -> None:
    dets = _dets([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0]], [0.75, 0.25])
    out = weighted_nms(dets, 0.3, 10)
    assert len(out) == 1
    np.testing.assert_allclose(out.boxes[0], [0.025, 0.0, 1.025, 1.0], atol=1e-6)


def test_weighted_nms_keeps_the_best_score_of_a_cluster() -> None:
    dets = _dets([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0]], [0.6, 0.9])
    assert weighted_nms(dets, 0.3, 10).scores.tolist() == pytest.approx([0.9])


def test_weighted_nms_keeps_separate_faces_apart_best_first() -> None:
    dets = _dets([[0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.7, 0.7]], [0.6, 0.9])
    out = weighted_nms(dets, 0.3, 10)
    assert out.scores.tolist() == pytest.approx([0.9, 0.6])


def test_weighted_nms_does_not_merge_boxes_at_the_threshold() -> None:
    # IoU = 1/3 exactly: merged only when strictly above the threshold.
    dets = _dets([[0.0, 0.0, 1.0, 1.0], [0.5, 0.0, 1.5, 1.0]], [0.9, 0.8])
    assert len(weighted_nms(dets, 1 / 3 + 1e-6, 10)) == 2


def test_weighted_nms_stops_at_max_detections() -> None:
    dets = _dets([[i, 0.0, i + 0.5, 0.5] for i in range(5)], [0.9, 0.8, 0.7, 0.6, 0.55])
    assert len(weighted_nms(dets, 0.3, 2)) == 2


def test_weighted_nms_of_nothing_is_empty() -> None:
    empty = Detections(
        np.zeros((0, 4), np.float32), np.zeros((0, 6, 2), np.float32), np.zeros((0,), np.float32)
    )
    out = weighted_nms(empty, 0.3, 10)
    assert len(out) == 0
    assert out.keypoints.shape == (0, 6, 2)


def test_letterbox_of_a_wide_image_adds_black_bars_top_and_bottom() -> None:
    rgb = np.full((50, 200, 3), 255, np.uint8)
    pixels, box = letterbox(rgb, 128, 128)
    assert pixels.shape == (128, 128, 3)
    assert box.top == pytest.approx(48.0)
    assert pixels[:40].max() == 0
    assert pixels[60:70].min() > 200


def test_letterbox_puts_a_source_feature_where_the_mapping_says() -> None:
    rgb = np.zeros((300, 400, 3), np.uint8)
    rgb[100:140, 300:340] = 255  # centre (320, 120) in source pixels
    pixels, box = letterbox(rgb, 128, 128)
    centre = box.to_input(np.array([320 / 400, 120 / 300]))
    ys, xs = np.nonzero(pixels[..., 0] > 127)
    assert xs.mean() / 128 == pytest.approx(centre[0], abs=1.5 / 128)
    assert ys.mean() / 128 == pytest.approx(centre[1], abs=1.5 / 128)


def test_letterbox_fills_bars_with_the_given_value() -> None:
    pixels, _ = letterbox(np.zeros((10, 40, 3), np.uint8) + 200, 64, 64, fill=77)
    assert pixels[0, 0].tolist() == [77, 77, 77]


# A 9x6 image letterboxed into 8x8 by MediaPipe 0.10.14's OpenCV converter
# (cv2.warpPerspective of the padded corners, INTER_LINEAR, BORDER_CONSTANT 0).
_OPENCV_SRC = [
    [139, 241, 6, 106, 188, 229, 10, 86, 66],
    [213, 167, 81, 153, 76, 250, 50, 112, 233],
    [89, 6, 143, 210, 166, 189, 33, 30, 202],
    [220, 122, 77, 115, 230, 240, 184, 63, 197],
    [81, 113, 103, 19, 141, 149, 178, 35, 72],
    [254, 195, 228, 183, 179, 71, 121, 3, 253],
]
_OPENCV_OUT = [
    [0, 0, 0, 0, 0, 0, 0, 0],
    [87, 132, 19, 85, 130, 58, 42, 43],
    [195, 170, 82, 127, 174, 117, 89, 181],
    [105, 40, 152, 185, 176, 96, 39, 185],
    [220, 116, 87, 158, 235, 205, 93, 180],
    [103, 123, 99, 79, 143, 159, 66, 87],
    [191, 149, 163, 136, 94, 77, 24, 166],
    [0, 0, 0, 0, 0, 0, 0, 0],
]


def test_letterbox_reproduces_mediapipes_opencv_resampling() -> None:
    src = np.repeat(np.asarray(_OPENCV_SRC, np.uint8)[:, :, None], 3, axis=2)
    pixels, _ = letterbox(src, 8, 8)
    expected = np.repeat(np.asarray(_OPENCV_OUT, np.uint8)[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(pixels, expected)


def test_letterbox_blends_the_fill_value_at_the_image_edge() -> None:
    src = np.repeat(np.asarray(_OPENCV_SRC, np.uint8)[:, :, None], 3, axis=2)
    pixels, _ = letterbox(src, 8, 8, fill=77)
    # Row 1 samples source row -0.375: 5/8 of row 0 and 3/8 of the fill.
    assert pixels[1, :, 0].tolist() == [116, 161, 48, 114, 159, 86, 71, 72]
    assert pixels[0].tolist() == [[77, 77, 77]] * 8


def test_letterbox_samples_without_anti_aliasing() -> None:
    # A 2x downscale samples every other source pixel (corner mapping, no
    # half-pixel offset, no averaging), as OpenCV's warpPerspective does.
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:, 1::2] = 255
    pixels, _ = letterbox(rgb, 32, 32)
    assert pixels.max() == 0


@given(
    src_w=st.integers(1, 300),
    src_h=st.integers(1, 300),
    dst=st.sampled_from([8, 128, 192]),
    value=st.integers(0, 255),
)
def test_letterbox_of_a_flat_image_is_flat_inside_and_filled_outside(
    src_w: int,
    src_h: int,
    dst: int,
    value: int,
) -> None:
    pixels, box = letterbox(np.full((src_h, src_w, 3), value, np.uint8), dst, dst, fill=value)
    assert pixels.shape == (dst, dst, 3)
    assert (pixels == value).all()
    assert box.scale == pytest.approx(dst / max(src_w, src_h))


def test_letterbox_at_scale_one_is_the_identity() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    pixels, _ = letterbox(rgb, 128, 128)
    np.testing.assert_array_equal(pixels, rgb)


@given(
    src_w=st.integers(1, 4000),
    src_h=st.integers(1, 4000),
    dst=st.sampled_from([128, 192, 256]),
    x=st.floats(0.0, 1.0),
    y=st.floats(0.0, 1.0),
)
def test_letterbox_mapping_round_trips(
    src_w: int,
    src_h: int,
    dst: int,
    x: float,
    y: float,
) -> None:
    box = Letterbox.fit(src_w, src_h, dst, dst)
    back = box.to_source(box.to_input(np.array([x, y])))
    np.testing.assert_allclose(back, [x, y], atol=1e-4)


@given(src_w=st.integers(1, 4000), src_h=st.integers(1, 4000), dst=st.sampled_from([128, 192]))
def test_letterbox_keeps_the_aspect_ratio_and_fits_inside(src_w: int, src_h: int, dst: int) -> None:
    box = Letterbox.fit(src_w, src_h, dst, dst)
    corners = box.to_input(np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert corners.min() >= -1e-6
    assert corners.max() <= 1 + 1e-6
    width, height = (corners[1] - corners[0]) * dst
    # Compared in input pixels: to_input is float32, so a sliver a fraction of
    # a pixel wide has no precise ratio.
    fit = dst / max(src_w, src_h)
    assert width == pytest.approx(src_w * fit, abs=1e-3)
    assert height == pytest.approx(src_h * fit, abs=1e-3)
    assert max(width, height) == pytest.approx(dst, rel=1e-5)


@given(src_w=st.integers(1, 1000), src_h=st.integers(1, 1000))
def test_boxes_map_back_corner_by_corner(src_w: int, src_h: int) -> None:
    box = Letterbox.fit(src_w, src_h, 128, 128)
    src = np.array([[0.1, 0.2, 0.6, 0.9]], np.float32)
    inp = box.to_input(src.reshape(-1, 2)).reshape(-1, 4)
    np.testing.assert_allclose(box.boxes_to_source(inp), src, atol=1e-4)


def test_normalise_maps_0_and_255_onto_the_range() -> None:
    out = normalise(np.array([0, 255], np.uint8), -1.0, 1.0)
    np.testing.assert_allclose(out, [-1.0, 1.0], atol=1e-6)


def test_match_boxes_pairs_best_overlaps_first() -> None:
    found = np.array([[0.5, 0.5, 0.7, 0.7], [0.0, 0.0, 0.2, 0.2]], np.float32)
    expected = np.array([[0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.72, 0.7]], np.float32)
    pairs = match_boxes(found, expected)
    assert [(i, j) for i, j, _ in pairs] == [(1, 0), (0, 1)]


def test_match_boxes_leaves_non_overlapping_boxes_unpaired() -> None:
    pairs = match_boxes(np.array([[0, 0, 1, 1]], np.float32), np.array([[2, 2, 3, 3]], np.float32))
    assert pairs == []
