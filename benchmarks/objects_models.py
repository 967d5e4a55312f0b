"""Measure every ``objects`` variant: memory, latency (p50/p99) and quality.

Usage, from the repository root in the runtime venv::

    python benchmarks/objects_models.py [--runs 50] [--write-manifest]

Memory and latency come from ``benchmarks/measure_model.py`` (a fresh process
per measurement, the file's dynamic input resized to the variant's size, 1
thread). Quality runs the ``objects`` pipeline (events off) over
``tests/fixtures/objects/*.jpg`` and compares with the hand labels in
``labels.json``: a reported object matches a label of the same class with box
IoU >= 0.5 (greedy, best pairs first).

- precision = matched / reported, recall = matched / labelled, quality = F1;
- agreement = F1 of the variant's objects against ``fp32-416``'s on the same
  images (``fp16-416``'s when the float32 build artifact is missing).

Prints a markdown table; ``--write-manifest`` writes the figures and the
preferred variants into ``models/objects/manifest.toml``. Variants whose file
is missing (the float32 artifact before ``make models``) are skipped.
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
FIXTURES = ROOT / "tests" / "fixtures" / "objects"
FAMILY = ROOT / "models" / "objects"
IOU_MATCH = 0.5


@dataclass(frozen=True, slots=True)
class Score:
    """Matching of reported objects against expected ones over a set of images."""

    reported: int
    expected: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.reported if self.reported else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        total = self.reported + self.expected
        return 2 * self.matched / total if total else 1.0


def match(found: list[dict[str, Any]], expected: list[dict[str, Any]]) -> int:
    """Objects of ``found`` paired with ``expected`` ones of the same label, IoU >= 0.5."""
    import numpy as np

    from edge_agent.pipelines.objects.decode import iou

    pairs = 0
    for label in {o["label"] for o in found} & {o["label"] for o in expected}:
        a = np.array([o["box"] for o in found if o["label"] == label], np.float32)
        b = np.array([o["box"] for o in expected if o["label"] == label], np.float32)
        table = np.stack([iou(box, b) for box in a])
        while table.size and table.max() >= IOU_MATCH:
            i, j = divmod(int(np.argmax(table)), table.shape[1])
            pairs += 1
            table[i, :] = -1.0
            table[:, j] = -1.0
    return pairs


def detect_all(variant: str, fixtures: Path = FIXTURES) -> dict[str, list[dict[str, Any]]]:
    """Run the objects pipeline with ``variant`` over every fixture image (events off)."""
    import numpy as np
    from PIL import Image

    from edge_agent.pipelines.base import ImageSample, RequestContext
    from edge_agent.pipelines.objects import ObjectsOptions, ObjectsPipeline, ObjectsRouteOptions
    from edge_agent.runtime.manifest import load_package

    pipeline = ObjectsPipeline("objects", load_package(FAMILY), ObjectsOptions(events=False))
    pipeline.load(variant)
    out = {}
    for path in sorted(fixtures.glob("*.jpg")):
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
        ctx = RequestContext(
            topic="bench",
            sensor="bench",
            route="bench",
            request_id="0",
            route_options=ObjectsRouteOptions(),
        )
        out[path.name] = pipeline.process(ImageSample(rgb, "image/jpeg"), ctx)[0]["objects"]
    pipeline.unload()
    return out


Found = dict[str, list[dict[str, Any]]]


def score(found: Found, expected: Found) -> Score:
    """Precision/recall counts over all images."""
    reported = sum(len(v) for v in found.values())
    wanted = sum(len(v) for v in expected.values())
    matched = sum(match(found[name], expected.get(name, [])) for name in found)
    return Score(reported, wanted, matched)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure every objects variant.")
    parser.add_argument("--runs", type=int, default=50, help="timed invokes per measurement")
    parser.add_argument(
        "--write-manifest",
        action="store_true",
        help="write figures and preferred variants into manifest.toml",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from measure_model import measure_in_subprocess

    from models.build.objects import family

    manifest_path = FAMILY / "manifest.toml"
    manifest: dict[str, Any] = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    figures = family.read_figures(manifest_path)
    labels = json.loads((FIXTURES / "labels.json").read_text(encoding="utf-8"))
    sizes = {k: v["input_size"] for k, v in manifest["pipeline"]["variants"].items()}
    present = [v for v in manifest["variants"] if (FAMILY / v["file"]).is_file()]
    reference_id = "fp32-416" if any(v["id"] == "fp32-416" for v in present) else "fp16-416"
    reference = detect_all(reference_id)
    rows = []
    for variant in present:
        vid, size = variant["id"], sizes[variant["id"]]
        one = measure_in_subprocess(
            FAMILY / variant["file"], threads=1, runs=args.runs, input_shape=(1, 3, size, size)
        )
        found = detect_all(vid)
        quality = score(found, labels)
        agree = score(found, reference)
        figures[vid] = figures[vid].measured(
            hard_bytes=int(one["hard_bytes"]),
            soft_bytes=int(one["soft_bytes"]),
            latency_ms=float(one["p50_ms"]),
            latency_p99_ms=float(one["p99_ms"]),
            quality=round(quality.f1, 4),
            precision=round(quality.precision, 4),
            recall=round(quality.recall, 4),
            agreement=round(agree.f1, 4),
        )
        rows.append((vid, one, quality, agree))
    print(
        f"eval set: {len(labels)} images, {sum(len(v) for v in labels.values())} labelled "
        f"objects; agreement against {reference_id}"
    )
    print(
        "| variant | file MiB | hard MiB | soft MiB | p50 ms | p99 ms | reported | matched | "
        "precision | recall | F1 (quality) | agreement F1 |"
    )
    print("|---" * 12 + "|")
    for vid, one, q, a in rows:
        print(
            f"| {vid} | {one['file_bytes'] / 2**20:.1f} | {one['hard_bytes'] / 2**20:.1f} | "
            f"{one['soft_bytes'] / 2**20:.1f} | {one['p50_ms']:.1f} | {one['p99_ms']:.1f} | "
            f"{q.reported} | {q.matched} | {q.precision:.3f} | {q.recall:.3f} | {q.f1:.3f} | "
            f"{a.f1:.3f} |"
        )
    quality_first, performance_first = family.choose_preferred(figures)
    print(f"\npreferred: quality_first={quality_first} performance_first={performance_first}")
    if args.write_manifest:
        source = manifest["source"]
        files = {f["path"]: f["sha256"] for f in source["files"]}
        text = family.render_manifest(
            source["wheel_sha256"], files, figures, int(manifest["variants"][0]["parameters"])
        )
        manifest_path.write_text(text, encoding="utf-8")
        print(f"wrote {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
