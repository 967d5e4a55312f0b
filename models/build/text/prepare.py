"""Shared build inputs: upstream weights, tokenizer, runtime tables, corpus token ids, checks."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.build.text import encoder, reference, tables
from models.build.text.corpus import Corpus, load_corpus
from models.build.text.source import Upstream, load_upstream

__all__ = ["Inputs", "check_reimplementation", "log", "prepare", "tokenize"]

MIN_COSINE = 0.9999


def log(event: str, **fields: Any) -> None:
    """Print one build log line: ``event key=value ...`` (flushed)."""
    kv = " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in fields.items())
    print(f"{time.strftime('%H:%M:%S')} {event} {kv}", flush=True)


@dataclass(frozen=True)
class Inputs:
    """Everything later stages need.

    Attributes:
        upstream: Verified upstream files.
        tokenizer: ``tokenizers.Tokenizer`` without padding.
        params: Our parameter dict (upstream order of FFN neurons).
        word: Word table as the runtime sees it (dequantized int8).
        pos: Position + token-type table as the runtime sees it.
        corpus: Training / held-out sentences.
    """

    upstream: Upstream
    tokenizer: Any
    params: encoder.Params
    word: npt.NDArray[np.float32]
    pos: npt.NDArray[np.float32]
    corpus: Corpus


def tokenize(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    """Token ids (with [CLS]/[SEP]) truncated to ``max_tokens``."""
    tokenizer.enable_truncation(max_tokens)
    return [list(e.ids) for e in tokenizer.encode_batch(list(texts))]


def check_reimplementation(inp: Inputs, texts: Sequence[str]) -> float:
    """Minimum cosine between the TF encoder and the numpy reference (both fp32 tables).

    Raises:
        RuntimeError: Below :data:`MIN_COSINE`.
    """
    w = inp.upstream.weights
    word = w["embeddings.word_embeddings.weight"]
    pos = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    fn = encoder.export_function(inp.params, [encoder.FFN] * encoder.LAYERS)
    worst = 1.0
    for ids in tokenize(inp.tokenizer, texts, 128):
        ref = reference.forward(w, ids).mean(0)
        x = word[np.asarray(ids)] + pos[: len(ids)]
        out = fn(embeddings=x, mask=np.ones(len(ids), np.float32))["pooled"].numpy()[0]
        worst = min(worst, float(ref @ out / np.linalg.norm(ref) / np.linalg.norm(out)))
    if worst < MIN_COSINE:
        raise RuntimeError(f"TF reimplementation disagrees with numpy reference: cosine {worst:.6f}")
    return worst


def prepare() -> Inputs:
    """Fetch, verify and load the inputs of every later stage."""
    from tokenizers import Tokenizer  # noqa: PLC0415

    upstream = load_upstream()
    tok = Tokenizer.from_str(upstream.tokenizer_json.decode("utf-8"))
    tok.no_padding()
    word, pos = tables.input_tables(upstream.weights)
    corpus = load_corpus()
    log("corpus_loaded", source="apt-cache dumpavail (Debian bookworm package synopses)",
        packages=corpus.packages, train=len(corpus.train), heldout=len(corpus.heldout))
    return Inputs(upstream, tok, encoder.params_from_upstream(upstream.weights), word, pos, corpus)


def save_params(p: encoder.Params, path: Path) -> None:
    """Save a parameter dict as ``.npz``."""
    np.savez(path, **p)


def load_params(path: Path) -> encoder.Params:
    """Load a parameter dict saved by :func:`save_params`."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
