"""Quality of a variant: agreement with the fp32 teacher and zero-shot accuracy.

Embeddings are computed through the runtime's own :class:`TextPipeline`, so the
figures describe exactly what the daemon serves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.build.text import reference
from models.build.text.prepare import tokenize
from models.build.text.source import Weights

__all__ = ["EvalSet", "Quality", "load_eval_set", "quality_of", "teacher_quality", "zero_shot"]

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EvalSet:
    """The committed evaluation data (``models/text/eval/``).

    Attributes:
        texts: Labeled texts.
        gold: Their labels.
        labels: Label -> descriptions (the zero-shot prompts).
        heldout: Sentences for teacher agreement (never trained on).
    """

    texts: list[str]
    gold: list[str]
    labels: dict[str, list[str]]
    heldout: list[str]


@dataclass(frozen=True)
class Quality:
    """Measured quality of one variant."""

    cos_mean: float
    cos_p5: float
    accuracy: float


def load_eval_set(root: Path) -> EvalSet:
    """Read ``labeled.tsv``, ``labels.json`` and ``heldout.txt`` under ``root/eval``."""
    rows = [ln.split("\t", 1) for ln in (root / "eval" / "labeled.tsv").read_text("utf-8").splitlines() if ln]
    labels = json.loads((root / "eval" / "labels.json").read_text("utf-8"))
    held = [ln for ln in (root / "eval" / "heldout.txt").read_text("utf-8").splitlines() if ln]
    return EvalSet([r[1] for r in rows], [r[0] for r in rows], labels, held)


def zero_shot(
    text_emb: F32, label_embs: dict[str, F32], gold: Sequence[str],
) -> float:
    """Accuracy of ``argmax_label max_desc cos`` over unit embeddings."""
    names = list(label_embs)
    scores = np.stack([(text_emb @ label_embs[n].T).max(1) for n in names], 1)
    pred = [names[i] for i in scores.argmax(1)]
    return float(np.mean([p == g for p, g in zip(pred, gold, strict=True)]))


def _unit(x: F32) -> F32:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def teacher_embeddings(wts: Weights, tokenizer: Any, texts: Sequence[str]) -> F32:
    """Unit embeddings of the fp32 numpy reference (upstream tables, no quantization)."""
    return _unit(np.stack([reference.forward(wts, ids).mean(0) for ids in tokenize(tokenizer, texts, 128)]))


def quality_of(embed: Any, ev: EvalSet, teacher_held: F32) -> Quality:
    """Measure one variant.

    Args:
        embed: ``embed(text) -> unit embedding``.
        ev: Evaluation data.
        teacher_held: Teacher unit embeddings of ``ev.heldout``.

    Returns:
        Cosine to the teacher on held-out sentences (mean, 5th percentile) and accuracy.
    """
    held = np.stack([embed(s) for s in ev.heldout])
    cos = (held * teacher_held).sum(1)
    texts = np.stack([embed(s) for s in ev.texts])
    labels = {k: np.stack([embed(d) for d in v]) for k, v in ev.labels.items()}
    return Quality(float(cos.mean()), float(np.percentile(cos, 5)), zero_shot(texts, labels, ev.gold))


def teacher_quality(wts: Weights, tokenizer: Any, ev: EvalSet) -> tuple[Quality, F32]:
    """Quality of the fp32 teacher itself, and its held-out embeddings."""
    held = teacher_embeddings(wts, tokenizer, ev.heldout)
    texts = teacher_embeddings(wts, tokenizer, ev.texts)
    labels = {k: teacher_embeddings(wts, tokenizer, v) for k, v in ev.labels.items()}
    return Quality(1.0, 1.0, zero_shot(texts, labels, ev.gold)), held
