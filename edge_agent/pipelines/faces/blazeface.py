"""BlazeFace math: letterbox, SSD anchors, box/keypoint decoding, weighted NMS.

Pure functions over numpy arrays, following MediaPipe's calculators
(``ImageToTensorCalculator`` with ``keep_aspect_ratio``, ``SsdAnchorsCalculator``,
``TensorsToDetectionsCalculator`` and ``NonMaxSuppressionCalculator`` with the
``WEIGHTED`` algorithm). Boxes are ``[x_min, y_min, x_max, y_max]`` and
keypoints ``[x, y]``, both normalised to ``[0, 1]`` of the frame they refer to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "AnchorOptions",
    "DecodeOptions",
    "Detections",
    "Letterbox",
    "decode",
    "generate_anchors",
    "iou",
    "letterbox",
    "match_boxes",
    "normalise",
    "weighted_nms",
]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AnchorOptions:
    """SSD anchor options (MediaPipe's ``SsdAnchorsCalculatorOptions`` subset).

    Attributes:
        input_size_width: Model input width in pixels.
        input_size_height: Model input height in pixels.
        min_scale: Anchor scale of the first layer.
        max_scale: Anchor scale of the last layer.
        strides: Stride of each layer in pixels (one per layer).
        anchor_offset_x: Anchor centre offset inside a cell (x).
        anchor_offset_y: Anchor centre offset inside a cell (y).
        aspect_ratios: Aspect ratios of the anchors per location.
        interpolated_scale_aspect_ratio: Extra anchor with interpolated scale when > 0.
        fixed_anchor_size: Anchors have width = height = 1.
        reduce_boxes_in_lowest_layer: Use 3 fixed anchors in the first layer.
    """

    input_size_width: int
    input_size_height: int
    min_scale: float
    max_scale: float
    strides: tuple[int, ...]
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True
    reduce_boxes_in_lowest_layer: bool = False


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """Raw tensor decoding (MediaPipe's ``TensorsToDetectionsCalculatorOptions`` subset).

    Attributes:
        x_scale: Divisor of raw x offsets (the input width).
        y_scale: Divisor of raw y offsets (the input height).
        w_scale: Divisor of raw widths.
        h_scale: Divisor of raw heights.
        num_keypoints: Keypoints per box.
        keypoint_coord_offset: Index of the first keypoint value in a row.
        score_clipping_thresh: Raw logits are clipped to +/- this.
    """

    x_scale: float
    y_scale: float
    w_scale: float
    h_scale: float
    num_keypoints: int = 6
    keypoint_coord_offset: int = 4
    score_clipping_thresh: float = 100.0


@dataclass(frozen=True, slots=True)
class Detections:
    """Decoded detections, sorted or not.

    Attributes:
        boxes: (N, 4) ``[x_min, y_min, x_max, y_max]``.
        keypoints: (N, K, 2) ``[x, y]``.
        scores: (N,) in ``[0, 1]``.
    """

    boxes: FloatArray
    keypoints: FloatArray
    scores: FloatArray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, index: npt.NDArray[np.intp]) -> Detections:
        """Return the detections at ``index``."""
        return Detections(self.boxes[index], self.keypoints[index], self.scores[index])


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def generate_anchors(opts: AnchorOptions) -> FloatArray:
    """Generate SSD anchors as MediaPipe's ``SsdAnchorsCalculator`` does.

    Consecutive layers with the same stride share one feature map.

    Args:
        opts: Anchor options.

    Returns:
        (N, 4) array of ``[x_center, y_center, width, height]``, normalised.
    """
    anchors: list[tuple[float, float, float, float]] = []
    layer = 0
    n = len(opts.strides)
    while layer < n:
        heights: list[float] = []
        widths: list[float] = []
        last = layer
        while last < n and opts.strides[last] == opts.strides[layer]:
            scale = _scale(opts.min_scale, opts.max_scale, last, n)
            if last == 0 and opts.reduce_boxes_in_lowest_layer:
                pairs = [(1.0, 0.1), (2.0, scale), (0.5, scale)]
            else:
                pairs = [(ratio, scale) for ratio in opts.aspect_ratios]
                if opts.interpolated_scale_aspect_ratio > 0.0:
                    nxt = (
                        1.0
                        if last == n - 1
                        else _scale(opts.min_scale, opts.max_scale, last + 1, n)
                    )
                    pairs.append(
                        (opts.interpolated_scale_aspect_ratio, float(np.sqrt(scale * nxt)))
                    )
            for ratio, s in pairs:
                root = float(np.sqrt(ratio))
                heights.append(s / root)
                widths.append(s * root)
            last += 1
        stride = opts.strides[layer]
        fm_h = int(np.ceil(opts.input_size_height / stride))
        fm_w = int(np.ceil(opts.input_size_width / stride))
        for y in range(fm_h):
            for x in range(fm_w):
                cx = (x + opts.anchor_offset_x) / fm_w
                cy = (y + opts.anchor_offset_y) / fm_h
                for w, h in zip(widths, heights, strict=True):
                    size = (1.0, 1.0) if opts.fixed_anchor_size else (w, h)
                    anchors.append((cx, cy, size[0], size[1]))
        layer = last
    return np.asarray(anchors, dtype=np.float32)


def decode(
    raw_boxes: npt.NDArray[np.floating],
    raw_scores: npt.NDArray[np.floating],
    anchors: FloatArray,
    opts: DecodeOptions,
    min_score: float,
) -> Detections:
    """Decode raw regressors and logits into boxes, keypoints and scores.

    Args:
        raw_boxes: (N, C) regressor values (``[x, y, w, h, kx0, ky0, ...]``).
        raw_scores: (N,) or (N, 1) logits.
        anchors: (N, 4) anchors from :func:`generate_anchors`.
        opts: Decoding scales.
        min_score: Detections scoring below this (after sigmoid) are dropped.

    Returns:
        The detections above ``min_score``, in anchor order.

    Raises:
        ValueError: Shapes do not match the anchors.
    """
    boxes = np.asarray(raw_boxes, dtype=np.float32).reshape(len(anchors), -1)
    logits = np.asarray(raw_scores, dtype=np.float32).reshape(-1)
    if logits.shape[0] != anchors.shape[0]:
        raise ValueError(f"{logits.shape[0]} scores for {anchors.shape[0]} anchors")
    clip = opts.score_clipping_thresh
    probs = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -clip, clip)))
    keep = np.flatnonzero(probs >= min_score)
    boxes, anc = boxes[keep], anchors[keep]
    scores: FloatArray = probs[keep].astype(np.float32)
    aw, ah = anc[:, 2], anc[:, 3]
    cx = boxes[:, 0] / opts.x_scale * aw + anc[:, 0]
    cy = boxes[:, 1] / opts.y_scale * ah + anc[:, 1]
    w = boxes[:, 2] / opts.w_scale * aw
    h = boxes[:, 3] / opts.h_scale * ah
    out_boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    k0, nk = opts.keypoint_coord_offset, opts.num_keypoints
    kp = boxes[:, k0 : k0 + 2 * nk].reshape(-1, nk, 2)
    kx = kp[:, :, 0] / opts.x_scale * aw[:, None] + anc[:, None, 0]
    ky = kp[:, :, 1] / opts.y_scale * ah[:, None] + anc[:, None, 1]
    keypoints = np.stack([kx, ky], axis=2)
    return Detections(out_boxes.astype(np.float32), keypoints.astype(np.float32), scores)


def iou(box: npt.NDArray[np.floating], boxes: npt.NDArray[np.floating]) -> FloatArray:
    """Intersection over union of one box with each of ``boxes``.

    Args:
        box: (4,) ``[x_min, y_min, x_max, y_max]``.
        boxes: (N, 4).

    Returns:
        (N,) IoU values (0 where the union is empty).
    """
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    ix = np.clip(np.minimum(box[2], b[:, 2]) - np.maximum(box[0], b[:, 0]), 0.0, None)
    iy = np.clip(np.minimum(box[3], b[:, 3]) - np.maximum(box[1], b[:, 1]), 0.0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area + areas - inter
    safe = np.where(union > 0, union, 1.0)
    return np.where(union > 0, inter / safe, 0.0).astype(np.float32)


def weighted_nms(dets: Detections, iou_threshold: float, max_detections: int) -> Detections:
    """MediaPipe's weighted non-maximum suppression.

    Take the best remaining detection; every remaining detection overlapping it
    by more than ``iou_threshold`` (itself included) is removed and its box and
    keypoints averaged into it, weighted by score. The score stays the best one.

    Args:
        dets: Candidate detections.
        iou_threshold: Overlap above which detections are merged.
        max_detections: Stop after this many outputs (<= 0: no limit).

    Returns:
        Merged detections, best first.
    """
    order = np.argsort(-dets.scores, kind="stable")
    boxes, kps, scores = [], [], []
    while order.size:
        best = order[0]
        overlap = iou(dets.boxes[best], dets.boxes[order])
        members = order[overlap > iou_threshold]
        if members.size == 0:
            members = order[:1]
        weights = dets.scores[members][:, None]
        total = float(weights.sum())
        boxes.append((dets.boxes[members] * weights).sum(axis=0) / total)
        kps.append((dets.keypoints[members] * weights[:, :, None]).sum(axis=0) / total)
        scores.append(dets.scores[best])
        order = order[~(overlap > iou_threshold)]
        order = order[order != best]
        if 0 < max_detections <= len(scores):
            break
    if not scores:
        nk = dets.keypoints.shape[1] if dets.keypoints.ndim == 3 else 0
        return Detections(
            np.zeros((0, 4), np.float32),
            np.zeros((0, nk, 2), np.float32),
            np.zeros((0,), np.float32),
        )
    return Detections(
        np.asarray(boxes, np.float32), np.asarray(kps, np.float32), np.asarray(scores, np.float32)
    )


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where a source image sits inside the model input after a letterbox resize.

    MediaPipe's geometry: the source is scaled by ``scale`` (the same on both axes)
    and centred, so ``left``/``top`` are fractional input pixels.

    Attributes:
        src_width: Source width in pixels.
        src_height: Source height in pixels.
        dst_width: Model input width.
        dst_height: Model input height.
        scale: Input pixels per source pixel.
        left: Left bar width in input pixels.
        top: Top bar height in input pixels.
    """

    src_width: int
    src_height: int
    dst_width: int
    dst_height: int
    scale: float
    left: float
    top: float

    @classmethod
    def fit(cls, src_width: int, src_height: int, dst_width: int, dst_height: int) -> Letterbox:
        """Compute the placement keeping the aspect ratio, centred."""
        scale = min(dst_width / src_width, dst_height / src_height)
        return cls(
            src_width,
            src_height,
            dst_width,
            dst_height,
            scale,
            (dst_width - src_width * scale) / 2.0,
            (dst_height - src_height * scale) / 2.0,
        )

    def to_source(self, xy: npt.NDArray[np.floating]) -> FloatArray:
        """Map ``[..., 2]`` points normalised to the input onto the source image."""
        pts = np.asarray(xy, dtype=np.float64)
        x = (pts[..., 0] * self.dst_width - self.left) / (self.src_width * self.scale)
        y = (pts[..., 1] * self.dst_height - self.top) / (self.src_height * self.scale)
        return np.stack([x, y], axis=-1).astype(np.float32)

    def to_input(self, xy: npt.NDArray[np.floating]) -> FloatArray:
        """Map ``[..., 2]`` points normalised to the source onto the input (inverse)."""
        pts = np.asarray(xy, dtype=np.float64)
        x = (pts[..., 0] * self.src_width * self.scale + self.left) / self.dst_width
        y = (pts[..., 1] * self.src_height * self.scale + self.top) / self.dst_height
        return np.stack([x, y], axis=-1).astype(np.float32)

    def boxes_to_source(self, boxes: npt.NDArray[np.floating]) -> FloatArray:
        """Map ``(N, 4)`` boxes normalised to the input onto the source image."""
        pts = self.to_source(np.asarray(boxes, np.float32).reshape(-1, 2, 2))
        return pts.reshape(-1, 4)


_FRAC_BITS = 5
"""OpenCV's ``INTER_BITS``: remap coordinates are rounded to 1/32 pixel."""
_FRAC = 1 << _FRAC_BITS
_STRIP = 64
"""Output rows resampled at a time by :func:`letterbox`."""


def _taps(
    origin: float,
    step: float,
    count: int,
    size: int,
) -> tuple[
    npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.int32], npt.NDArray[np.int32]
]:
    """Bilinear taps of one axis, as OpenCV's ``warpPerspective`` computes them.

    Output pixel ``i`` samples the source at ``origin + step * i`` (pixel centres
    on integers), rounded to 1/32 pixel. Neighbours outside ``[0, size)`` get a
    zero weight (``BORDER_CONSTANT``); their clipped index is only a placeholder.

    Returns:
        The two neighbour indices and their integer weights (summing to <= 32).
    """
    fixed = np.rint((origin + step * np.arange(count, dtype=np.float64)) * _FRAC)
    fixed = np.clip(fixed, -(1 << 30), 1 << 30).astype(np.int64)
    first = fixed >> _FRAC_BITS
    frac = (fixed & (_FRAC - 1)).astype(np.int32)
    w0 = np.where((first >= 0) & (first < size), _FRAC - frac, 0).astype(np.int32)
    w1 = np.where((first >= -1) & (first < size - 1), frac, 0).astype(np.int32)
    i0 = np.clip(first, 0, size - 1).astype(np.intp)
    i1 = np.clip(first + 1, 0, size - 1).astype(np.intp)
    return i0, i1, w0, w1


def letterbox(
    rgb: npt.NDArray[np.uint8],
    width: int,
    height: int,
    fill: int = 0,
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Resize ``rgb`` into ``width`` x ``height`` keeping its aspect ratio, centred.

    Reproduces MediaPipe's CPU ``ImageToTensorCalculator`` (OpenCV converter): an
    OpenCV ``warpPerspective`` mapping the corners of the padded image onto the
    input corners, ``INTER_LINEAR`` without anti-aliasing, ``BORDER_CONSTANT``.
    Input pixel ``(x, y)`` samples the source at ``((x - left) / scale,
    (y - top) / scale)`` with source pixel centres on integers; coordinates are
    rounded to 1/32 pixel and the weights are OpenCV's fixed-point ones, so the
    result matches OpenCV's to the rounding of exact ties.

    Args:
        rgb: (H, W, 3) uint8 image.
        width: Output width.
        height: Output height.
        fill: Pixel value of the bars (0: black, as MediaPipe's ``BORDER_ZERO``).

    Returns:
        The (height, width, 3) uint8 input and its placement.
    """
    src_h, src_w = int(rgb.shape[0]), int(rgb.shape[1])
    box = Letterbox.fit(src_w, src_h, width, height)
    step = 1.0 / box.scale
    x0, x1, wx0, wx1 = _taps(-box.left * step, step, width, src_w)
    y0, y1, wy0, wy1 = _taps(-box.top * step, step, height, src_h)
    flat = np.ascontiguousarray(rgb).reshape(src_h, src_w * 3)
    cols = (np.concatenate([x0, x1])[:, None] * 3 + np.arange(3)).ravel()
    wx = np.repeat(np.concatenate([wx0, wx1]), 3).astype(np.uint16)
    fill_weight = (
        _FRAC * _FRAC - (wy0 + wy1)[:, None] * np.repeat(wx0 + wx1, 3)[None, :] if fill else None
    )
    out = np.empty((height, width * 3), np.uint8)
    span = width * 3
    # Strips of output rows keep the temporaries small (no page faults from
    # fresh large allocations on every call).
    for start in range(0, height, _STRIP):
        stop = min(start + _STRIP, height)
        # The two source rows, then the two source pixels (all channels), of
        # every output pixel of the strip, from the (H, W * 3) view.
        taps = flat[np.concatenate([y0[start:stop], y1[start:stop]])][:, cols]
        # Exact integers: horizontal sums fit uint16 (<= 255 * 32), vertical ones
        # int32; a single rounding, as OpenCV's 15-bit fixed point does.
        weighted = taps.astype(np.uint16) * wx
        rows = weighted[:, :span] + weighted[:, span:]
        n = stop - start
        acc = (
            rows[:n].astype(np.int32) * wy0[start:stop, None]
            + rows[n:].astype(np.int32) * wy1[start:stop, None]
        )
        if fill_weight is not None:
            acc += fill * fill_weight[start:stop]
        out[start:stop] = (acc + (_FRAC * _FRAC) // 2) >> (2 * _FRAC_BITS)
    return out.reshape(height, width, 3), box


def normalise(pixels: npt.NDArray[np.uint8], low: float, high: float) -> FloatArray:
    """Map uint8 pixels linearly from ``[0, 255]`` onto ``[low, high]``."""
    return pixels.astype(np.float32) * np.float32((high - low) / 255.0) + np.float32(low)


def match_boxes(
    found: npt.NDArray[np.floating],
    expected: npt.NDArray[np.floating],
) -> list[tuple[int, int, float]]:
    """Greedily pair boxes of two sets by decreasing IoU.

    Args:
        found: (N, 4) boxes.
        expected: (M, 4) boxes.

    Returns:
        ``(index in found, index in expected, IoU)`` for min(N, M) pairs with IoU > 0,
        best pairs first.
    """
    a = np.asarray(found, np.float32).reshape(-1, 4)
    b = np.asarray(expected, np.float32).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return []
    table = np.stack([iou(box, b) for box in a])
    pairs: list[tuple[int, int, float]] = []
    while table.size and table.max() > 0:
        i, j = np.unravel_index(int(np.argmax(table)), table.shape)
        pairs.append((int(i), int(j), float(table[i, j])))
        table[i, :] = -1.0
        table[:, j] = -1.0
    return pairs
