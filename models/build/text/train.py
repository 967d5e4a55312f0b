"""Teacher outputs, FFN neuron ordering and nested-width distillation.

Every step trains the full width plus one smaller width vector: one of a few
Mix'n'Match vectors with probability ``p_mix``, otherwise a uniform smaller width.
The loss is the sum over both of ``1 - cos`` between the student's and the fp32
teacher's mean-pooled sentence embeddings (the full width is always included so
it stays close to the teacher while its prefixes learn to work alone). Teacher
outputs and checkpoints are cached in ``$EDGE_AGENT_TEXT_CACHE`` (default: ``text/``
in the build cache of :func:`models.build.fetch.cache_dir`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.build.fetch import cache_dir
from models.build.text import encoder, reference
from models.build.text.encoder import FFN, LAYERS, WIDTHS, Params

__all__ = ["MIX_VECTORS", "TrainConfig", "cache_root", "neuron_order", "teacher_pooled", "train"]

MIX_VECTORS: tuple[tuple[int, ...], ...] = (
    (192, 192, 384, 384, 768, 768),
    (384, 384, 384, 768, 768, 1536),
    (192, 384, 768, 768, 1536, 1536),
    (192, 192, 192, 384, 384, 768),
    (384, 384, 768, 768, 1536, 1536),
    (768, 768, 768, 1536, 1536, 1536),
)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters (their hash names the cached checkpoint)."""

    minutes: float = 30.0
    batch: int = 64
    max_tokens: int = 48
    lr: float = 1e-4
    p_mix: float = 0.3
    seed: int = 0
    sentences: int = 24000

    def key(self) -> str:
        """Short hash of the configuration."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def cache_root() -> Path:
    """Return (and create) the training cache folder."""
    env = os.environ.get("EDGE_AGENT_TEXT_CACHE")
    root = Path(env) if env else cache_dir() / "text"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _batches(ids: Sequence[Sequence[int]], batch: int) -> list[npt.NDArray[np.int64]]:
    order = np.argsort([len(x) for x in ids], kind="stable")
    return [order[i : i + batch] for i in range(0, len(order), batch)]


def _inputs(
    ids: Sequence[Sequence[int]], idx: npt.NDArray[np.int64], word: npt.NDArray[np.float32],
    pos: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    t = max(len(ids[i]) for i in idx)
    x = np.zeros((len(idx), t, encoder.D_MODEL), np.float32)
    mask = np.zeros((len(idx), t), np.float32)
    for r, i in enumerate(idx):
        n = len(ids[i])
        x[r, :n] = word[np.asarray(ids[i])] + pos[:n]
        mask[r, :n] = 1.0
    return x.reshape(-1, encoder.D_MODEL), mask


def _signature(tf: Any) -> list[Any]:
    return [
        tf.TensorSpec([None, encoder.D_MODEL], tf.float32),
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([None, encoder.D_MODEL], tf.float32),
    ]


def teacher_pooled(
    p: Params, ids: Sequence[Sequence[int]], word: npt.NDArray[np.float32],
    pos: npt.NDArray[np.float32], widths: Sequence[int] | None = None, batch: int = 128,
) -> npt.NDArray[np.float32]:
    """Mean-pooled (unnormalised) embeddings of the float TF encoder, in input order."""
    import tensorflow as tf  # noqa: PLC0415

    consts = {k: tf.constant(v) for k, v in p.items()}
    w = tuple(widths or [FFN] * LAYERS)

    @tf.function(input_signature=_signature(tf)[:2])
    def run(x: Any, mask: Any) -> Any:
        return encoder.encode(consts, x, mask, tf.shape(mask)[0], w)

    out = np.zeros((len(ids), encoder.D_MODEL), np.float32)
    for idx in _batches(ids, batch):
        x, mask = _inputs(ids, idx, word, pos)
        out[idx] = run(x, mask).numpy()
    return out


def neuron_order(
    wts: reference.Weights, ids: Sequence[Sequence[int]]
) -> list[npt.NDArray[np.int64]]:
    """Per layer, FFN neurons sorted by importance (mean |activation| x ||down-projection row||)."""
    acc = np.zeros((LAYERS, FFN), np.float64)
    count = 0
    for seq in ids:
        acts: list[Any] = []
        reference.forward(wts, seq, ffn_out=acts)
        for i, a in enumerate(acts):
            acc[i] += np.abs(a).sum(0)
        count += len(seq)
    perms = []
    for i in range(LAYERS):
        down = wts[f"encoder.layer.{i}.output.dense.weight"]  # [d, F]
        score = acc[i] / count * np.linalg.norm(down, axis=0)
        perms.append(np.argsort(-score, kind="stable").astype(np.int64))
    return perms


def _sample_widths(rng: np.random.Generator, cfg: TrainConfig) -> tuple[int, ...]:
    if rng.random() < cfg.p_mix:
        return MIX_VECTORS[int(rng.integers(len(MIX_VECTORS)))]
    return (WIDTHS[int(rng.integers(len(WIDTHS) - 1))],) * LAYERS


def train(
    p: Params, ids: Sequence[Sequence[int]], teacher: npt.NDArray[np.float32],
    word: npt.NDArray[np.float32], pos: npt.NDArray[np.float32], cfg: TrainConfig, log: Any,
) -> Params:
    """Distil the nested widths from the teacher's pooled embeddings.

    Args:
        p: Initial (permuted) parameters.
        ids: Token ids of the training sentences.
        teacher: Teacher pooled embeddings, aligned with ``ids``.
        word: Word embedding table as the runtime sees it.
        pos: Position table as the runtime sees it.
        cfg: Hyper-parameters.
        log: Callable ``log(event, **fields)``.

    Returns:
        Trained parameters.
    """
    import tensorflow as tf  # noqa: PLC0415

    tf.random.set_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    variables = {k: tf.Variable(v, name=k.replace(".", "_")) for k, v in p.items()}
    opt = tf.keras.optimizers.Adam(learning_rate=cfg.lr)
    tvars = list(variables.values())
    steps: dict[tuple[int, ...], Any] = {}
    full = (FFN,) * LAYERS

    def step_fn(widths: tuple[int, ...]) -> Any:
        @tf.function(input_signature=_signature(tf))
        def step(x: Any, mask: Any, target: Any) -> Any:
            goal = tf.math.l2_normalize(target, -1)
            batch = tf.shape(mask)[0]
            with tf.GradientTape() as tape:
                losses = []
                for w in (full, widths):
                    s = tf.math.l2_normalize(encoder.encode(variables, x, mask, batch, w), -1)
                    losses.append(tf.reduce_mean(1.0 - tf.reduce_sum(s * goal, -1)))
                loss = losses[0] + losses[1]
            opt.apply_gradients(zip(tape.gradient(loss, tvars), tvars, strict=True))
            return losses[0], losses[1]
        return step

    batches = _batches(ids, cfg.batch)
    deadline = time.monotonic() + cfg.minutes * 60.0
    start = time.monotonic()
    n = 0
    recent: dict[int, list[float]] = {}
    while time.monotonic() < deadline:
        idx = batches[int(rng.integers(len(batches)))]
        widths = _sample_widths(rng, cfg)
        if widths not in steps:
            steps[widths] = step_fn(widths)
        x, mask = _inputs(ids, idx, word, pos)
        # Linear warm-up over 50 steps, then constant; decay in the last 30 % of the time.
        frac = (time.monotonic() - start) / (cfg.minutes * 60.0)
        lr = cfg.lr * min(1.0, (n + 1) / 50) * (1.0 if frac < 0.7 else max(0.05, (1 - frac) / 0.3))
        opt.learning_rate.assign(lr)
        loss_full, loss_small = steps[widths](x, mask, teacher[idx])
        recent.setdefault(FFN, []).append(float(loss_full))
        recent.setdefault(min(widths), []).append(float(loss_small))
        n += 1
        if n % 50 == 0:
            log("train_progress", step=n, minutes=round((time.monotonic() - start) / 60, 2), lr=lr,
                loss={k: round(float(np.mean(v)), 5) for k, v in sorted(recent.items())})
            recent = {}
    log("train_done", steps=n, minutes=round((time.monotonic() - start) / 60, 2))
    return {k: v.numpy() for k, v in variables.items()}
