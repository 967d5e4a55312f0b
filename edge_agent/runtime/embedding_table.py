"""Memory-mapped token embeddings kept out of the interpreter (Per-Layer-Embedding style).

The word table is an int8 ``.npy`` file memory-mapped read-only (the same
layout ``np.load(mmap_mode="r")`` gives, but with ``madvise(MADV_RANDOM)`` on the
mapping): only the pages of gathered rows become resident, and the kernel may
drop them again under memory pressure (file-backed memory). Without the advice,
read-ahead and fault-around made ~64 KiB resident per gathered row on a cold page
cache (4 KiB with it). Pages already cached in large folios (e.g. a file just
written) are mapped a whole folio at a time whatever the advice.
Each row has one float32 scale. Position rows (already including the token-type-0
embedding) are small and loaded into memory.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.errors import ModelError
from edge_agent.runtime.page_cache import drop_page_cache

__all__ = ["EmbeddingTable", "mapped_resident_bytes"]


def mapped_resident_bytes(path: Path) -> int:
    """Resident bytes of every mapping of ``path`` in this process (``/proc/self/smaps``).

    Returns:
        Sum of ``Rss`` over the file's mappings (0 when not mapped or not on Linux).
    """
    target = str(path.resolve())
    total = 0
    inside = False
    try:
        with open("/proc/self/smaps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                first = line.split(maxsplit=1)[0]
                if "-" in first and not first.endswith(":"):
                    inside = line.rstrip("\n").endswith(target)
                elif inside and first == "Rss:":
                    total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    return total


def _map_npy(path: Path) -> npt.NDArray[np.int8]:
    """Map a C-ordered ``.npy`` file read-only, advising random access."""
    with path.open("rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        offset = fh.tell()
        if fortran:
            raise ValueError("Fortran-ordered table")
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        mapped.madvise(mmap.MADV_RANDOM)
    arr: npt.NDArray[np.int8] = np.ndarray(shape, dtype=dtype, buffer=mapped, offset=offset)
    return arr


class EmbeddingTable:
    """Gathers input embeddings (word + position) for token ids.

    Args:
        word: ``[vocab, dim]`` int8 ``.npy`` file (memory-mapped).
        scales: ``[vocab]`` float32 ``.npy`` file, one scale per row.
        positions: ``[max_positions, dim]`` float ``.npy`` file.

    Raises:
        ModelError: Missing files or inconsistent shapes/dtypes.
    """

    def __init__(self, word: Path, scales: Path, positions: Path) -> None:
        self.path = word
        try:
            self._word = _map_npy(word)
            self._scales = np.load(scales).astype(np.float32, copy=False)
            self._positions = np.load(positions).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read embedding table: {exc}", path=str(word)) from exc
        if self._word.dtype != np.int8 or self._word.ndim != 2:
            raise ModelError(f"word table must be 2-D int8, got {self._word.dtype}", path=str(word))
        vocab, dim = self._word.shape
        if self._scales.shape != (vocab,):
            raise ModelError(f"scales shape {self._scales.shape} != ({vocab},)", path=str(scales))
        if self._positions.ndim != 2 or self._positions.shape[1] != dim:
            raise ModelError(
                f"positions shape {self._positions.shape} mismatch", path=str(positions)
            )

    @property
    def vocab_size(self) -> int:
        """Number of rows of the word table."""
        return int(self._word.shape[0])

    @property
    def dim(self) -> int:
        """Embedding width."""
        return int(self._word.shape[1])

    @property
    def max_positions(self) -> int:
        """Longest sequence the position table covers."""
        return int(self._positions.shape[0])

    def gather(self, ids: Sequence[int] | npt.NDArray[np.integer]) -> npt.NDArray[np.float32]:
        """Return ``word[ids] * scale + position[:len(ids)]`` as ``[T, dim]`` float32.

        Raises:
            ModelError: Ids out of range or a sequence longer than the position table.
        """
        idx = np.asarray(ids, dtype=np.int64)
        if idx.ndim != 1 or len(idx) > self.max_positions:
            raise ModelError(f"need 1-D ids of at most {self.max_positions}, got {idx.shape}")
        if len(idx) and (idx.min() < 0 or idx.max() >= self.vocab_size):
            raise ModelError("token id out of range of the embedding table", path=str(self.path))
        rows = self._word[idx].astype(np.float32)
        rows *= self._scales[idx, None]
        rows += self._positions[: len(idx)]
        return rows

    def resident_bytes(self) -> int:
        """Resident bytes of the mapped word table in this process."""
        return mapped_resident_bytes(self.path)

    def close(self) -> None:
        """Drop the mapping (the arrays are released with the last reference)."""
        self._word = np.zeros((0, self.dim), np.int8)
        drop_page_cache([self.path])
