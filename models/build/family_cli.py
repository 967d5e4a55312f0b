"""The command line every family build shares: build into a folder, or ``--check``.

``--check`` builds twice into temporary folders and fails unless both builds
give byte-identical files (the reproducibility promise of ``make models``).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["check_reproducible", "run"]

Build = Callable[[Path], dict[str, str]]


def check_reproducible(first_build: Build, second_build: Build | None = None) -> int:
    """Build twice in temporary folders; print each file's sha256 and whether both agree.

    Args:
        first_build: Builds into a folder, returns ``{file name: sha256}``.
        second_build: The second build (default: the first again), e.g. without
            slow checks the first already ran.

    Returns:
        0 when both builds wrote the same files with the same digests, else 1.
    """
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        first = first_build(Path(one))
        second = (second_build or first_build)(Path(two))
    for name in sorted(first):
        same = first[name] == second.get(name)
        print(f"{'same' if same else 'DIFFERENT'}  {first[name]}  {name}")
    return 0 if first == second else 1


def run(argv: list[str] | None, *, family: str, build: Build,
        second_build: Build | None = None) -> int:
    """Parse ``--out`` / ``--check`` and build the family (the body of each ``main``)."""
    parser = argparse.ArgumentParser(description=f"Build the {family} model family.")
    parser.add_argument("--out", type=Path, default=Path("models") / family,
                        help="family folder")
    parser.add_argument("--check", action="store_true",
                        help="build twice in temporary folders and compare sha256s")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        return check_reproducible(build, second_build)
    for name, digest in sorted(build(args.out).items()):
        print(f"{digest}  {args.out / name}")
    return 0
