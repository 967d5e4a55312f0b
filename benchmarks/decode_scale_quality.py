"""What decoding at reduced scale does to each image family's answers.

The daemon decodes a JPEG with Pillow's draft mode (DCT scaling by 1/2, 1/4 or
1/8) and a PNG in reduced bands, keeping both sides at least the pipeline's
``decode_size``. This compares, for every variant, the answers on each image
decoded that way against the answers on the full decode: same number of
detections, box IoU of matched detections, score difference.

Camera frames are much larger than the fixtures, so each fixture is first
enlarged (Lanczos) to about 2048 pixels on its long side and re-encoded
(JPEG quality 90, or PNG), which is what a 1080p-2K camera would send.

    python benchmarks/decode_scale_quality.py [--family faces] [--times 1]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _enlarged(path: Path, fmt: str, long_side: int = 2048) -> bytes:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    factor = long_side / max(rgb.size)
    big = rgb.resize((round(rgb.width * factor), round(rgb.height * factor)), Image.LANCZOS)
    out = io.BytesIO()
    big.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 1}))
    return out.getvalue()


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _detections(result: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("faces", "objects"):
        if key in result:
            return list(result[key])
    raise KeyError("no detections in result")


def _compare(
    full: list[dict[str, Any]], reduced: list[dict[str, Any]]
) -> tuple[bool, float, float]:
    if len(full) != len(reduced):
        return False, 0.0, 1.0
    ious, deltas = [], []
    left = list(reduced)
    for det in full:
        best = max(left, key=lambda r: _iou(det["box"], r["box"]))
        left.remove(best)
        ious.append(_iou(det["box"], best["box"]))
        deltas.append(abs(det["score"] - best["score"]))
    return True, min(ious, default=1.0), max(deltas, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", default="faces")
    parser.add_argument("--fixtures", type=Path, default=REPO / "tests/fixtures/faces")
    parser.add_argument("--formats", nargs="+", default=["JPEG", "PNG"])
    parser.add_argument(
        "--times",
        type=float,
        default=1.0,
        help="multiply the pipeline's decode_size (to compare choices)",
    )
    args = parser.parse_args()

    import tempfile

    from edge_agent.codecs.decode import decode
    from edge_agent.codecs.limits import Limits
    from edge_agent.config.models import AgentSettings
    from edge_agent.pipelines.base import RequestContext
    from edge_agent.pipelines.factory import build_pipeline

    settings = AgentSettings(cache_dir=Path(tempfile.mkdtemp(prefix="edge-agent-bench-")))
    spec = settings.pipelines[args.family]
    pipeline = build_pipeline(args.family, settings, spec)
    images = sorted(args.fixtures.glob("*.jpg"))
    limits = Limits()
    print(f"{args.family}: {len(images)} images enlarged to 2048 px, reduced vs full decode")
    print(
        f"{'variant':<14} {'format':<5} {'decode':<9} {'same count':>10} {'min IoU':>8} "
        f"{'max dscore':>10} {'decoded px':>11}"
    )
    for variant in pipeline.package.manifest.variants:
        pipeline.load(variant.id)
        base = pipeline.decode_size
        size = None if base is None else (round(base[0] * args.times), round(base[1] * args.times))
        for fmt in args.formats:
            mime = "image/jpeg" if fmt == "JPEG" else "image/png"
            same, ious, deltas, pixels = 0, [], [], []
            for path in images:
                payload = _enlarged(path, fmt)
                out = {}
                for label, target in (("full", None), ("reduced", size)):
                    sample = decode(
                        payload,
                        modality="image",
                        content_type=mime,
                        declared_format=None,
                        limits=limits,
                        audio_rate=None,
                        image_size=target,
                    )
                    if label == "reduced":
                        pixels.append(sample.width * sample.height)
                    ctx = RequestContext(
                        topic="t",
                        sensor="s",
                        route="r",
                        request_id="1",
                        route_options=pipeline.route_options_model(),
                    )
                    out[label] = _detections(pipeline.process(sample, ctx)[0])
                ok, iou, delta = _compare(out["full"], out["reduced"])
                same += ok
                if ok:
                    ious.append(iou)
                    deltas.append(delta)
            print(
                f"{variant.id:<14} {fmt:<5} {'x'.join(map(str, size or ())):<9} "
                f"{same:>4}/{len(images):<5} {min(ious, default=1):>8.3f} "
                f"{max(deltas, default=0):>10.3f} {int(np.median(pixels)):>11}"
            )
    pipeline.unload()


if __name__ == "__main__":
    main()
