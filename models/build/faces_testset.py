"""Generate the faces test set: ``tests/fixtures/faces/*.jpg``.

Run from the repository root (needs numpy and Pillow only)::

    python -m models.build.faces_testset [--out tests/fixtures/faces]

Faces come from public-domain photos shipped inside pinned wheels (Grace Hopper
from matplotlib, the astronaut Eileen Collins and the cameraman from
scikit-image; see :mod:`models.build.faces_sources`): whole, rotated, scaled
onto a canvas, cropped, mirrored, darkened, grey, and several pasted side by
side. No-face images are scikit-image photos without people, noise and flat
colours. Each image is at most 640 px on its long side, JPEG quality 85.
The reference detections beside them are written by
``models/build/faces_reference.py`` (a separate venv with mediapipe).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from models.build.faces_sources import load_photo

__all__ = ["MAX_SIDE", "QUALITY", "generate", "main"]

MAX_SIDE = 640
QUALITY = 85
SEED = 7
RGB = npt.NDArray[np.uint8]


def _img(rgb: RGB) -> Image.Image:
    return Image.fromarray(rgb)


def _fit(img: Image.Image, side: int = MAX_SIDE) -> Image.Image:
    scale = side / max(img.size)
    if scale >= 1.0:
        return img
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def _rotate(img: Image.Image, degrees: float) -> Image.Image:
    return img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True,
                      fillcolor=(96, 96, 96))


def _on_canvas(img: Image.Image, scale: float, size: tuple[int, int], at: tuple[float, float],
               background: Image.Image) -> Image.Image:
    small = img.resize((round(img.width * scale), round(img.height * scale)),
                       Image.Resampling.LANCZOS)
    canvas = background.resize(size, Image.Resampling.BILINEAR)
    x = round((size[0] - small.width) * at[0])
    y = round((size[1] - small.height) * at[1])
    canvas.paste(small, (x, y))
    return canvas


def _row(images: list[Image.Image], height: int, gap: int = 8) -> Image.Image:
    scaled = [im.resize((round(im.width * height / im.height), height), Image.Resampling.LANCZOS)
              for im in images]
    width = sum(im.width for im in scaled) + gap * (len(scaled) - 1)
    canvas = Image.new("RGB", (width, height), (200, 200, 200))
    x = 0
    for im in scaled:
        canvas.paste(im, (x, 0))
        x += im.width + gap
    return canvas


def _grid(images: list[Image.Image], cell: int) -> Image.Image:
    canvas = Image.new("RGB", (cell * 2, cell * 2), (30, 30, 30))
    for i, im in enumerate(images[:4]):
        canvas.paste(ImageOps.fit(im, (cell, cell)), ((i % 2) * cell, (i // 2) * cell))
    return canvas


def _flat(colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (320, 240), colour)


def _noise(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8))


def _recipes() -> dict[str, Callable[[], Image.Image]]:
    hopper = _img(load_photo("grace_hopper"))
    astro = _img(load_photo("astronaut"))
    camera = _img(load_photo("camera"))
    hubble = _img(load_photo("hubble"))
    brick = _img(load_photo("brick"))
    hopper_face = hopper.crop((120, 90, 420, 400))
    astro_face = astro.crop((130, 10, 300, 210))
    mirrored = ImageOps.mirror(hopper)
    return {
        "face_hopper": lambda: hopper,
        "face_hopper_rot15": lambda: _rotate(hopper, 15.0),
        "face_hopper_rot-25": lambda: _rotate(hopper, -25.0),
        "face_hopper_mirror": lambda: mirrored,
        "face_hopper_crop": lambda: hopper_face,
        "face_hopper_small": lambda: _on_canvas(hopper, 0.45, (640, 480), (0.2, 0.4), brick),
        "face_hopper_dark": lambda: _img(
            (np.asarray(hopper, dtype=np.float32) * 0.45).astype(np.uint8)),
        "face_astronaut": lambda: astro,
        "face_astronaut_rot-10": lambda: _rotate(astro, -10.0),
        "face_astronaut_crop": lambda: astro_face,
        "face_astronaut_gray": lambda: ImageOps.grayscale(astro).convert("RGB"),
        "face_astronaut_small": lambda: _on_canvas(astro, 0.5, (640, 400), (0.85, 0.5), hubble),
        "face_camera": lambda: camera,
        "faces_pair": lambda: _row([hopper, astro], 320),
        "faces_three": lambda: _row([astro_face, hopper_face, ImageOps.mirror(astro_face)], 200),
        "faces_grid": lambda: _grid([hopper, astro, mirrored, ImageOps.mirror(astro)], 320),
        "noface_coffee": lambda: _img(load_photo("coffee")),
        "noface_chelsea": lambda: _img(load_photo("chelsea")),
        "noface_rocket": lambda: _img(load_photo("rocket")),
        "noface_coins": lambda: _img(load_photo("coins")),
        "noface_moon": lambda: _img(load_photo("moon")),
        "noface_brick": lambda: brick,
        "noface_motorcycle": lambda: _img(load_photo("motorcycle")),
        "noface_hubble": lambda: hubble,
        "noface_noise": lambda: _noise(SEED),
        "noface_grey": lambda: _flat((128, 128, 128)),
        "noface_red": lambda: _flat((200, 30, 30)),
        "noface_black": lambda: _flat((0, 0, 0)),
    }


def generate(out: Path) -> list[Path]:
    """Write every test image into ``out`` and return their paths.

    Args:
        out: Target folder (created when missing).

    Returns:
        The JPEG files written, sorted by name.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in sorted(_recipes().items()):
        path = out / f"{name}.jpg"
        _fit(make().convert("RGB")).save(path, format="JPEG", quality=QUALITY, optimize=True)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Generate the faces test images.")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/faces"))
    args = parser.parse_args(argv)
    paths = generate(args.out)
    total = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} images, {total} bytes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
