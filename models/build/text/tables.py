"""The embedding tables kept out of the graph: int8 word table with per-row scales, positions.

Files (written to ``models/text/``):

- ``word_embeddings.int8.npy``: ``[30522, 384]`` int8, memory-mapped by the runtime;
- ``word_embeddings.scales.npy``: ``[30522]`` float32, ``row = int8 * scale``;
- ``position_embeddings.npy``: ``[512, 384]`` float16, position + token-type-0 rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.build.text.source import Weights

__all__ = ["TABLE_FILES", "quantize_rows", "input_tables", "write_tables"]

TABLE_FILES = {
    "word": "word_embeddings.int8.npy",
    "scales": "word_embeddings.scales.npy",
    "positions": "position_embeddings.npy",
}


def quantize_rows(table: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Symmetric int8 quantization with one scale per row."""
    scales = np.maximum(np.abs(table).max(axis=1), 1e-12) / 127.0
    q = np.clip(np.round(table / scales[:, None]), -127, 127).astype(np.int8)
    return q, scales.astype(np.float32)


def input_tables(wts: Weights) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The tables exactly as the runtime will see them (dequantized word rows, fp16 positions).

    Returns:
        ``(word [V, 384] float32, positions [512, 384] float32)``.
    """
    q, s = quantize_rows(wts["embeddings.word_embeddings.weight"])
    word = q.astype(np.float32) * s[:, None]
    pos = (wts["embeddings.position_embeddings.weight"] + wts["embeddings.token_type_embeddings.weight"][0])
    return word, pos.astype(np.float16).astype(np.float32)


def write_tables(wts: Weights, out: Path) -> dict[str, Path]:
    """Write the three table files into ``out``.

    Returns:
        Paths by key of :data:`TABLE_FILES`.
    """
    q, s = quantize_rows(wts["embeddings.word_embeddings.weight"])
    pos = wts["embeddings.position_embeddings.weight"] + wts["embeddings.token_type_embeddings.weight"][0]
    paths = {k: out / v for k, v in TABLE_FILES.items()}
    np.save(paths["word"], q)
    np.save(paths["scales"], s)
    np.save(paths["positions"], pos.astype(np.float16))
    return paths
