"""Check a converted ``.tflite`` against the TensorFlow graph it came from.

For every build image and input size the two run on the same input; the check
compares the class scores (max abs difference over all cells and classes) and
the decoded box sides in input pixels (expected distance x stride, over the
cells where the graph scores any class >= ``_CANDIDATE``: elsewhere a box is
never reported). A variant whose difference exceeds its precision's tolerance
stops the build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TOLERANCES", "Drift", "Tolerance", "compare", "grouped_outputs"]

_CANDIDATE = 0.2


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Largest accepted differences of one precision.

    Attributes:
        score: Max abs class-score difference.
        box_px: Max abs box-side difference in input pixels.
    """

    score: float
    box_px: float


TOLERANCES = {
    "fp32": Tolerance(score=1e-4, box_px=0.01),
    "fp16": Tolerance(score=0.01, box_px=0.5),
    "int8": Tolerance(score=0.12, box_px=12.0),
}
"""Per precision. The upstream weights are fp16, so fp16 adds no rounding (measured: the same
1.5e-6 as fp32); int8 measured 0.084 / 9.1 px on the eval set at 416/320/256."""


@dataclass(frozen=True, slots=True)
class Drift:
    """The worst differences over one comparison set.

    Attributes:
        score: Max abs score difference.
        box_px: Max abs box-side difference (pixels).
    """

    score: float
    box_px: float

    def worst(self, other: Drift) -> Drift:
        """The larger of two drifts, per field."""
        return Drift(max(self.score, other.score), max(self.box_px, other.box_px))

    def within(self, tol: Tolerance) -> bool:
        """Whether both differences are within ``tol``."""
        return self.score <= tol.score and self.box_px <= tol.box_px


def grouped_outputs(outputs: list[npt.NDArray[Any]], classes: int) -> dict[int, tuple[Any, Any]]:
    """``{cells: (scores, distributions)}`` from a model's outputs, told apart by width."""
    levels: dict[int, dict[str, Any]] = {}
    for out in outputs:
        a = np.asarray(out, np.float32).reshape(-1, out.shape[-1])
        levels.setdefault(a.shape[0], {})["s" if a.shape[1] == classes else "d"] = a
    return {n: (v["s"], v["d"]) for n, v in sorted(levels.items())}


def _sides(dists: npt.NDArray[np.float32], bins: int, stride: int) -> npt.NDArray[np.float32]:
    logits = dists.reshape(-1, 4, bins)
    w = np.exp(logits - logits.max(axis=2, keepdims=True))
    w /= w.sum(axis=2, keepdims=True)
    return (w * np.arange(bins, dtype=np.float32)).sum(axis=2) * stride


def compare(reference: list[Any], candidate: list[Any], *, size: int, strides: tuple[int, ...],
            classes: int, bins: int) -> Drift:
    """Worst score and box-side differences between two sets of outputs of one input."""
    ref = grouped_outputs(reference, classes)
    got = grouped_outputs(candidate, classes)
    drift = Drift(0.0, 0.0)
    for stride in strides:
        cells = (size // stride) ** 2
        (rs, rd), (cs, cd) = ref[cells], got[cells]
        score = float(np.max(np.abs(rs - cs)))
        keep = rs.max(axis=1) >= _CANDIDATE
        box = (float(np.max(np.abs(_sides(rd[keep], bins, stride) - _sides(cd[keep], bins, stride))))
               if keep.any() else 0.0)
        drift = drift.worst(Drift(score, box))
    return drift
