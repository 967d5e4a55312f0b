"""Direct exports at fixed width vectors, and their reference embeddings for the slicing test.

The test (``tests/runtime/test_slicing.py``) slices the committed nested
checkpoint at the same vectors and compares with these embeddings, so it needs
neither TensorFlow nor the (uncommitted) direct ``.tflite`` files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.runtime.embedding_table import EmbeddingTable
from edge_agent.runtime.interpreter import TFLiteModel
from models.build.text import encoder
from models.build.text.export import export_tflite

__all__ = ["REFERENCE_FILE", "embed_file", "write_references"]

REFERENCE_FILE = "direct_reference.npz"


def embed_file(
    path: Path, table: EmbeddingTable, tokenizer: Any, texts: Sequence[str],
) -> npt.NDArray[np.float32]:
    """Unit embeddings of ``texts`` with one ``.tflite`` file (the pipeline's arithmetic)."""
    model = TFLiteModel(path, num_threads=1)
    out = []
    for enc in tokenizer.encode_batch(list(texts)):
        ids = list(enc.ids)
        interp = model.interpreter
        interp.resize_tensor_input(model.inputs[0].index, [len(ids), table.dim])
        interp.resize_tensor_input(model.inputs[1].index, [len(ids)])
        interp.allocate_tensors()
        model.set_raw_input(0, table.gather(ids))
        model.set_raw_input(1, np.ones(len(ids), np.float32))
        model.invoke()
        v = model.output(0).reshape(-1)
        out.append(v / np.linalg.norm(v))
    return np.stack(out).astype(np.float32)


def write_references(
    params: encoder.Params, vectors: Sequence[Sequence[int]], work: Path, table: EmbeddingTable,
    tokenizer: Any, texts: Sequence[str], out: Path,
) -> dict[tuple[int, ...], Path]:
    """Export each width vector directly and save the embeddings of ``texts``.

    Args:
        params: Nested checkpoint parameters.
        vectors: Width vectors to export.
        work: Folder for the direct ``.tflite`` files (not committed).
        table: The runtime embedding table.
        tokenizer: Tokenizer (truncation set by the caller).
        texts: Evaluation texts.
        out: The ``.npz`` written (``widths [k, L]`` int32, ``embeddings [k, n, d]`` float16).

    Returns:
        Direct export path per vector.
    """
    paths: dict[tuple[int, ...], Path] = {}
    embs = []
    for widths in vectors:
        w = tuple(int(x) for x in widths)
        path = work / f"direct-{'-'.join(map(str, w))}.tflite"
        export_tflite(params, w, path)
        paths[w] = path
        embs.append(embed_file(path, table, tokenizer, texts).astype(np.float16))
    np.savez_compressed(out, widths=np.asarray(vectors, np.int32), embeddings=np.stack(embs))
    return paths
