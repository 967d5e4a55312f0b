"""The memory-mapped int8 embedding table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.errors import ModelError
from edge_agent.runtime.embedding_table import EmbeddingTable
from edge_agent.runtime.page_cache import drop_page_cache

VOCAB, DIM, POSITIONS = 20000, 384, 64


@pytest.fixture
def table_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A synthetic int8 table (7.7 MB), its per-row scales and position rows."""
    rng = np.random.default_rng(0)
    word = rng.integers(-127, 128, size=(VOCAB, DIM), dtype=np.int8)
    scales = rng.uniform(0.001, 0.01, size=VOCAB).astype(np.float32)
    pos = rng.normal(size=(POSITIONS, DIM)).astype(np.float16)
    paths = (tmp_path / "word.npy", tmp_path / "scales.npy", tmp_path / "pos.npy")
    for path, arr in zip(paths, (word, scales, pos), strict=True):
        np.save(path, arr)
    drop_page_cache([paths[0]], sync=True)  # cold, as after a reboot
    return paths


def test_gather_dequantizes_rows_and_adds_positions(table_files: tuple[Path, Path, Path]) -> None:
    word, scales, pos = (np.load(p) for p in table_files)
    ids = [5, 19999, 0, 5]
    got = EmbeddingTable(*table_files).gather(ids)
    want = word[ids].astype(np.float32) * scales[ids, None] + pos[:4].astype(np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_only_gathered_rows_become_resident(table_files: tuple[Path, Path, Path]) -> None:
    table = EmbeddingTable(*table_files)
    table.gather(list(range(0, VOCAB, 2000)))  # 10 rows, 768 KB apart
    resident = table.resident_bytes()
    assert 0 < resident <= 10 * 2 * 4096


def test_out_of_range_id_is_rejected(table_files: tuple[Path, Path, Path]) -> None:
    with pytest.raises(ModelError, match="out of range"):
        EmbeddingTable(*table_files).gather([VOCAB])


def test_sequence_longer_than_positions_is_rejected(table_files: tuple[Path, Path, Path]) -> None:
    with pytest.raises(ModelError, match="at most 64"):
        EmbeddingTable(*table_files).gather([1] * (POSITIONS + 1))


def test_float_word_table_is_rejected(table_files: tuple[Path, Path, Path]) -> None:
    np.save(table_files[0], np.zeros((VOCAB, DIM), np.float32))
    with pytest.raises(ModelError, match="int8"):
        EmbeddingTable(*table_files)


def test_mismatched_scales_are_rejected(table_files: tuple[Path, Path, Path]) -> None:
    np.save(table_files[1], np.ones(VOCAB - 1, np.float32))
    with pytest.raises(ModelError, match="scales shape"):
        EmbeddingTable(*table_files)
