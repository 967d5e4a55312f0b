"""Build driver: prepare, check, train (cached), export, measure, write ``models/text/``."""

from __future__ import annotations

import argparse
import hashlib
import os
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.build.text import encoder
from models.build.text.prepare import (
    Inputs, check_reimplementation, load_params, log, prepare, save_params, tokenize,
)
from models.build.text.train import TrainConfig, cache_root, neuron_order, teacher_pooled, train

__all__ = ["main", "trained_params"]

REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "models" / "text"


def _digest(texts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]


def trained_params(inp: Inputs, cfg: TrainConfig) -> encoder.Params:
    """Return the nested checkpoint for ``cfg``, training it when not cached."""
    root = cache_root()
    ckpt = root / f"nested-{cfg.key()}.npz"
    if ckpt.is_file():
        log("checkpoint_cached", path=str(ckpt))
        return load_params(ckpt)
    rnd = random.Random(cfg.seed)
    sents = rnd.sample(inp.corpus.train, min(cfg.sentences, len(inp.corpus.train)))
    ids = tokenize(inp.tokenizer, sents, cfg.max_tokens)
    tpath = root / f"teacher-{_digest(sents)}-{cfg.max_tokens}.npy"
    if tpath.is_file():
        teacher = np.load(tpath)
    else:
        log("teacher_start", sentences=len(ids))
        teacher = teacher_pooled(inp.params, ids, inp.word, inp.pos)
        np.save(tpath, teacher)
    log("teacher_ready", path=str(tpath), sentences=len(ids))
    opath = root / f"order-{_digest(sents[:400])}.npz"
    if opath.is_file():
        with np.load(opath) as z:
            perms = [z[f"l{i}"] for i in range(encoder.LAYERS)]
    else:
        perms = neuron_order(inp.upstream.weights, ids[:400])
        np.savez(opath, **{f"l{i}": p for i, p in enumerate(perms)})
    log("neuron_order_ready", sentences=400)
    start = encoder.permute_ffn(inp.params, perms)
    trained = train(start, ids, teacher, inp.word, inp.pos, cfg, log)
    save_params(trained, ckpt)
    log("checkpoint_saved", path=str(ckpt))
    return trained


def main(argv: Sequence[str] | None = None) -> int:
    """Build the text family.

    Args:
        argv: Command-line arguments (``--train-minutes``, ``--stage``).

    Returns:
        Process exit code.
    """
    ap = argparse.ArgumentParser(prog="python -m models.build.text")
    ap.add_argument("--train-minutes", type=float, default=30.0, help="wall-clock training budget")
    ap.add_argument("--stage", choices=["train", "all"], default="all")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    inp = prepare()
    worst = check_reimplementation(inp, inp.corpus.heldout[:16])
    log("reimplementation_checked", min_cosine=round(worst, 7), sentences=16)
    params = trained_params(inp, TrainConfig(minutes=args.train_minutes))
    if args.stage == "train":
        return 0
    from models.build.text.package import write_package  # noqa: PLC0415

    write_package(inp, encoder.align_down_scales(params), OUT)
    return 0
