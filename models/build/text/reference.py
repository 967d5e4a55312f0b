"""An independent numpy forward pass of the upstream BERT encoder (the fp32 teacher).

It reads the safetensors weights by their upstream names, so it shares no code with
the TensorFlow reimplementation it is used to check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from models.build.text.source import Weights

__all__ = ["LAYERS", "HEADS", "forward", "sentence_embedding"]

LAYERS = 6
HEADS = 12
_EPS = 1e-12
F32 = npt.NDArray[np.float32]


def _layer_norm(x: F32, w: F32, b: F32) -> F32:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + _EPS) * w + b).astype(np.float32)


def _erf(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Abramowitz & Stegun 7.1.26, absolute error < 1.5e-7.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: F32) -> F32:
    return (0.5 * x * (1.0 + _erf(x.astype(np.float64) / math.sqrt(2.0)))).astype(np.float32)


def _dense(x: F32, wts: Weights, name: str) -> F32:
    return (x @ wts[name + ".weight"].T + wts[name + ".bias"]).astype(np.float32)


def forward(wts: Weights, ids: Sequence[int], ffn_out: list[F32] | None = None) -> F32:
    """Run the encoder on one token sequence (no padding).

    Args:
        wts: Upstream weights.
        ids: Token ids including [CLS] and [SEP].
        ffn_out: When given, each layer's FFN activations (after GELU) are appended.

    Returns:
        Last hidden states, shape (T, 384).
    """
    t = len(ids)
    x = (
        wts["embeddings.word_embeddings.weight"][np.asarray(ids)]
        + wts["embeddings.position_embeddings.weight"][:t]
        + wts["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, wts["embeddings.LayerNorm.weight"], wts["embeddings.LayerNorm.bias"])
    d = x.shape[-1]
    dh = d // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        q = _dense(x, wts, p + "attention.self.query").reshape(t, HEADS, dh).transpose(1, 0, 2)
        k = _dense(x, wts, p + "attention.self.key").reshape(t, HEADS, dh).transpose(1, 0, 2)
        v = _dense(x, wts, p + "attention.self.value").reshape(t, HEADS, dh).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / np.float32(math.sqrt(dh))
        s = np.exp(s - s.max(-1, keepdims=True))
        a = (s / s.sum(-1, keepdims=True)) @ v
        a = a.transpose(1, 0, 2).reshape(t, d)
        x = _layer_norm(
            _dense(a, wts, p + "attention.output.dense") + x,
            wts[p + "attention.output.LayerNorm.weight"], wts[p + "attention.output.LayerNorm.bias"],
        )
        h = _gelu(_dense(x, wts, p + "intermediate.dense"))
        if ffn_out is not None:
            ffn_out.append(h)
        x = _layer_norm(
            _dense(h, wts, p + "output.dense") + x,
            wts[p + "output.LayerNorm.weight"], wts[p + "output.LayerNorm.bias"],
        )
    return x


def sentence_embedding(wts: Weights, ids: Sequence[int]) -> F32:
    """Mean-pooled, L2-normalised sentence embedding (what sentence-transformers returns)."""
    pooled = forward(wts, ids).mean(0)
    return (pooled / np.linalg.norm(pooled)).astype(np.float32)
