"""NanoDet head decoding: per-level scores and box distributions to detections.

Each level (stride 8, 16, 32) has one row per grid cell, in row-major order:
class scores (already sigmoided) and, per side (left, top, right, bottom), a
distribution over ``bins`` distances 0..bins-1 (the GFL head). The distance is
the expected value of the softmax of that distribution times the stride, from
the cell centre ``((x + 0.5) * stride, (y + 0.5) * stride)``. Per-class NMS
then keeps the best box of each overlapping group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Detections", "Level", "class_nms", "decode_level", "decode_levels", "iou"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Detections:
    """Detections in model-input pixels.

    Attributes:
        boxes: (N, 4) ``[x_min, y_min, x_max, y_max]``.
        scores: (N,) in [0, 1].
        classes: (N,) class indices.
    """

    boxes: FloatArray
    scores: FloatArray
    classes: npt.NDArray[np.intp]

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, index: npt.NDArray[np.intp]) -> Detections:
        """The detections at ``index``."""
        return Detections(self.boxes[index], self.scores[index], self.classes[index])

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(
            np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.intp)
        )

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        """All detections of ``parts`` in order."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.boxes for p in parts]).astype(np.float32),
            np.concatenate([p.scores for p in parts]).astype(np.float32),
            np.concatenate([p.classes for p in parts]).astype(np.intp),
        )


@dataclass(frozen=True, slots=True)
class Level:
    """One output level of the head.

    Attributes:
        stride: Input pixels per grid cell.
        width: Grid width in cells.
        height: Grid height in cells.
    """

    stride: int
    width: int
    height: int

    @property
    def cells(self) -> int:
        """Number of grid cells (rows of the level's outputs)."""
        return self.width * self.height


def decode_level(
    scores: npt.NDArray[np.floating],
    distributions: npt.NDArray[np.floating],
    level: Level,
    bins: int,
    min_score: float | npt.NDArray[np.float32],
) -> Detections:
    """Decode one level's candidates above ``min_score`` (one per cell and class).

    Args:
        scores: (cells, classes) sigmoided scores.
        distributions: (cells, 4 * bins) raw distance logits.
        level: The level's stride and grid.
        bins: Distance bins per side.
        min_score: Threshold, a scalar or one value per class.

    Returns:
        Candidates in input pixels (a cell may give several classes).

    Raises:
        ValueError: Shapes that do not match the level.
    """
    s = np.asarray(scores, np.float32).reshape(level.cells, -1)
    d = np.asarray(distributions, np.float32).reshape(level.cells, -1)
    if d.shape[1] != 4 * bins:
        raise ValueError(f"{d.shape[1]} distance values per cell, expected {4 * bins}")
    cells, classes = np.nonzero(s >= np.asarray(min_score, np.float32))
    if cells.size == 0:
        return Detections.empty()
    logits = d[cells].reshape(-1, 4, bins)
    logits = logits - logits.max(axis=2, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=2, keepdims=True)
    dist = (weights * np.arange(bins, dtype=np.float32)).sum(axis=2) * level.stride
    cx = (cells % level.width + 0.5) * level.stride
    cy = (cells // level.width + 0.5) * level.stride
    boxes = np.stack(
        [cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1
    ).astype(np.float32)
    return Detections(boxes, s[cells, classes], classes.astype(np.intp))


def decode_levels(
    outputs: list[tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]],
    levels: list[Level],
    bins: int,
    min_score: float | npt.NDArray[np.float32],
) -> Detections:
    """Decode every level (``outputs[i]`` = (scores, distributions) of ``levels[i]``)."""
    return Detections.concat(
        [
            decode_level(scores, dists, level, bins, min_score)
            for (scores, dists), level in zip(outputs, levels, strict=True)
        ]
    )


def iou(box: npt.NDArray[np.floating], boxes: npt.NDArray[np.floating]) -> FloatArray:
    """Intersection over union of one box with each of ``boxes`` (0 for empty unions)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    ix = np.clip(np.minimum(box[2], b[:, 2]) - np.maximum(box[0], b[:, 0]), 0.0, None)
    iy = np.clip(np.minimum(box[3], b[:, 3]) - np.maximum(box[1], b[:, 1]), 0.0, None)
    inter = ix * iy
    area = max(float(box[2] - box[0]), 0.0) * max(float(box[3] - box[1]), 0.0)
    areas = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0).astype(np.float32)


def class_nms(dets: Detections, iou_threshold: float, max_detections: int) -> Detections:
    """Greedy non-maximum suppression within each class, best score first.

    Args:
        dets: Candidates.
        iou_threshold: A candidate overlapping a kept box of its class by more is dropped.
        max_detections: Stop after this many kept boxes (<= 0: no limit).

    Returns:
        The kept detections, best score first.
    """
    order = np.argsort(-dets.scores, kind="stable")
    keep: list[int] = []
    suppressed = np.zeros(len(dets), bool)
    for position, index in enumerate(order):
        if suppressed[index]:
            continue
        keep.append(int(index))
        if 0 < max_detections <= len(keep):
            break
        rest = order[position + 1 :]
        rest = rest[(dets.classes[rest] == dets.classes[index]) & ~suppressed[rest]]
        if rest.size:
            overlap = iou(dets.boxes[index], dets.boxes[rest])
            suppressed[rest[overlap > iou_threshold]] = True
    return dets.take(np.asarray(keep, np.intp))
