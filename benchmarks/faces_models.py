"""Measure every ``faces`` variant: memory, latency (1 and 2 threads) and quality.

Usage, from the repository root in the runtime venv::

    python benchmarks/faces_models.py [--runs 200] [--write-manifest]

Memory and latency come from ``benchmarks/measure_model.py`` (a fresh process
per measurement). Quality runs the ``faces`` pipeline over
``tests/fixtures/faces/*.jpg`` and compares with MediaPipe's own detector
(``*.reference.json``, written by ``models/build/faces_reference.py``):

- count agreement: share of images where the number of faces equals the reference;
- mean IoU: mean box IoU of faces paired with reference faces (greedy by IoU);
- score difference: mean absolute score difference over the pairs.

*Fidelity* compares a variant with MediaPipe running the same range (how well
the port and the quantization preserve the upstream detector). *Quality*, the
manifest figure in [0, 1], is::

    quality = (count agreement with MediaPipe's full-range detector)
              x (mean IoU with MediaPipe's same-range detector)

The first factor makes variants comparable (a short-range variant loses the
distant faces it does not find); the second measures localisation against the
variant's own upstream model (the two upstream models draw boxes differently:
short vs full range boxes overlap only ~0.77 on average, a convention, not an error).

Prints a markdown table; ``--write-manifest`` writes the figures (hard/soft
bytes, 1-thread p50, quality) and the preferred variants into
``models/faces/manifest.toml``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "faces"
FAMILY = ROOT / "models" / "faces"


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement of one variant with the MediaPipe reference.

    Attributes:
        images: Images compared.
        count_agreement: Share of images with the reference's face count.
        mean_iou: Mean IoU over paired faces (1.0 when there are none).
        mean_score_diff: Mean absolute score difference over paired faces.
        min_iou: Worst paired IoU.
    """

    images: int
    count_agreement: float
    mean_iou: float
    mean_score_diff: float
    min_iou: float

    @property
    def quality(self) -> float:
        """count agreement x mean IoU."""
        return self.count_agreement * self.mean_iou


def agreement(variant: str, reference_range: str, fixtures: Path = FIXTURES) -> Agreement:
    """Run the faces pipeline with ``variant`` over the fixtures and compare.

    Args:
        variant: Variant id.
        reference_range: MediaPipe reference to compare with: ``short`` or ``full``.
        fixtures: Folder with ``*.jpg`` and ``*.reference.json``.

    Returns:
        The agreement figures.
    """
    import numpy as np
    from PIL import Image

    from edge_agent.pipelines.base import ImageSample, RequestContext
    from edge_agent.pipelines.faces import FacesOptions, FacesPipeline
    from edge_agent.pipelines.faces.blazeface import match_boxes
    from edge_agent.runtime.manifest import load_package

    pipeline = FacesPipeline("faces", load_package(FAMILY), FacesOptions())
    pipeline.load(variant)
    same = 0
    ious: list[float] = []
    diffs: list[float] = []
    images = sorted(fixtures.glob("*.jpg"))
    for path in images:
        reference = json.loads(path.with_suffix(".reference.json").read_text())[reference_range]
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
        ctx = RequestContext(
            topic="bench",
            sensor="bench",
            route="bench",
            request_id="0",
            route_options=FacesOptions(),
        )
        result = pipeline.process(ImageSample(rgb, "image/jpeg"), ctx)[0]
        same += int(result["count"] == reference["count"])
        found = np.array([f["box"] for f in result["faces"]], np.float32)
        expected = np.array([f["box"] for f in reference["faces"]], np.float32)
        for i, j, value in match_boxes(found, expected):
            ious.append(value)
            diffs.append(abs(result["faces"][i]["score"] - reference["faces"][j]["score"]))
    pipeline.unload()
    return Agreement(
        images=len(images),
        count_agreement=same / len(images) if images else 0.0,
        mean_iou=float(np.mean(ious)) if ious else 1.0,
        mean_score_diff=float(np.mean(diffs)) if diffs else 0.0,
        min_iou=float(np.min(ious)) if ious else 1.0,
    )


def _mib(value: int) -> str:
    return f"{value / 2**20:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Measure every faces variant.")
    parser.add_argument("--runs", type=int, default=200, help="timed invokes per measurement")
    parser.add_argument(
        "--write-manifest",
        action="store_true",
        help="write figures and preferred variants into manifest.toml",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from measure_model import measure_in_subprocess

    from models.build.faces_manifest import (
        VariantFigures,
        choose_preferred,
        read_figures,
        render_manifest,
    )

    manifest_path = FAMILY / "manifest.toml"
    manifest: dict[str, Any] = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    figures = read_figures(manifest_path)
    rows = []
    for variant in manifest["variants"]:
        path = FAMILY / variant["file"]
        one = measure_in_subprocess(path, threads=1, runs=args.runs)
        two = measure_in_subprocess(path, threads=2, runs=args.runs)
        fidelity = agreement(variant["id"], variant["id"].split("-", 1)[0])
        quality = agreement(variant["id"], "full")
        score = quality.count_agreement * fidelity.mean_iou
        figures[variant["id"]] = figures[variant["id"]].measured(
            hard_bytes=int(one["hard_bytes"]),
            soft_bytes=int(one["soft_bytes"]),
            latency_ms=float(one["p50_ms"]),
            quality=round(score, 4),
        )
        rows.append((variant["id"], one, two, fidelity, quality))
    print(
        "| variant | file KiB | hard MiB | soft MiB | model file RSS KiB | p50 ms 1 thr | "
        "p50 ms 2 thr | same-range: count agreement | mean IoU | min IoU | "
        "mean abs score diff | full-range count agreement | quality |"
    )
    print("|---" * 13 + "|")
    for vid, one, two, agree, quality in rows:
        print(
            f"| {vid} | {one['file_bytes'] / 1024:.0f} | {_mib(one['hard_bytes'])} | "
            f"{_mib(one['soft_bytes'])} | {one['model_rss_bytes'] / 1024:.0f} | "
            f"{one['p50_ms']:.2f} | {two['p50_ms']:.2f} | "
            f"{agree.count_agreement:.3f} ({round(agree.count_agreement * agree.images)}/"
            f"{agree.images}) | {agree.mean_iou:.3f} | {agree.min_iou:.3f} | "
            f"{agree.mean_score_diff:.3f} | {quality.count_agreement:.3f} | "
            f"{quality.count_agreement * agree.mean_iou:.3f} |"
        )
    quality_first, performance_first = choose_preferred(figures)
    print(f"\npreferred: quality_first={quality_first} performance_first={performance_first}")
    if args.write_manifest:
        kept: dict[str, VariantFigures] = figures
        text = render_manifest(
            manifest["source"]["wheel"], manifest["source"]["wheel_sha256"], kept
        )
        manifest_path.write_text(text, encoding="utf-8")
        print(f"wrote {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
