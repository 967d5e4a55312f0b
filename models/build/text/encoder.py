"""The MiniLM-L6 encoder reimplemented with TensorFlow ops, with nested (prefix) FFN widths.

Parameters live in a flat dict ``name -> array`` (our own names, weights stored
``[in, out]``); :func:`params_from_upstream` converts the upstream safetensors and
applies a per-layer FFN neuron permutation. The graph's input is the sum of word,
position and token-type-0 embeddings (added outside the graph, in numpy) plus a
mask; its output is the masked mean of the last hidden states (not normalised).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from models.build.text.source import Weights

__all__ = [
    "D_MODEL", "FFN", "HEADS", "LAYERS", "WIDTHS", "Params",
    "align_down_scales", "encode", "export_function", "params_from_upstream", "permute_ffn",
]

D_MODEL = 384
FFN = 1536
HEADS = 12
LAYERS = 6
WIDTHS = (192, 384, 768, 1536)
_EPS = 1e-12
Params = dict[str, npt.NDArray[np.float32]]

_MAP = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "o": "attention.output.dense", "up": "intermediate.dense", "down": "output.dense",
}
_LN = {"ln1": "attention.output.LayerNorm", "ln2": "output.LayerNorm"}


def params_from_upstream(wts: Weights) -> Params:
    """Convert upstream weights to our parameter dict (weights as ``[in, out]``)."""
    p: Params = {
        "emb_ln.w": wts["embeddings.LayerNorm.weight"],
        "emb_ln.b": wts["embeddings.LayerNorm.bias"],
    }
    for i in range(LAYERS):
        pre = f"encoder.layer.{i}."
        for ours, theirs in _MAP.items():
            p[f"{i}.{ours}.w"] = np.ascontiguousarray(wts[pre + theirs + ".weight"].T)
            p[f"{i}.{ours}.b"] = wts[pre + theirs + ".bias"]
        for ours, theirs in _LN.items():
            p[f"{i}.{ours}.w"] = wts[pre + theirs + ".weight"]
            p[f"{i}.{ours}.b"] = wts[pre + theirs + ".bias"]
    return {k: np.asarray(v, np.float32) for k, v in p.items()}


def permute_ffn(p: Params, perms: Sequence[npt.NDArray[np.int64]]) -> Params:
    """Reorder each layer's FFN neurons (the full-width function is unchanged)."""
    out = dict(p)
    for i, perm in enumerate(perms):
        out[f"{i}.up.w"] = np.ascontiguousarray(p[f"{i}.up.w"][:, perm])
        out[f"{i}.up.b"] = np.ascontiguousarray(p[f"{i}.up.b"][perm])
        out[f"{i}.down.w"] = np.ascontiguousarray(p[f"{i}.down.w"][perm, :])
    return out


def align_down_scales(p: Params, base: int = WIDTHS[0]) -> Params:
    """Clip each down-projection so every prefix >= ``base`` has the same per-channel max.

    Dynamic-range quantization gives the down-projection ``[d, F]`` one scale per
    output channel, ``max |row| / 127`` over all ``F`` inputs. A run-time slice keeps
    that scale while a model exported directly at width ``m`` computes it over ``m``
    inputs only. Clipping the entries beyond the first ``base`` neurons to the
    channel's max over the first ``base`` makes the two identical for every trained
    width (the slice is then bit-identical to a direct export). It touched ~0.3 % of
    the entries (full-width float cosine 0.9996 to the unclipped model, measured on
    the importance-ordered upstream weights before training).
    """
    out = dict(p)
    for i in range(LAYERS):
        w = p[f"{i}.down.w"]  # [F, d]
        lim = np.abs(w[:base]).max(axis=0)
        out[f"{i}.down.w"] = np.clip(w, -lim, lim).astype(np.float32)
    return out


def _ln(tf: Any, x: Any, w: Any, b: Any) -> Any:
    mu = tf.reduce_mean(x, -1, keepdims=True)
    c = x - mu
    var = tf.reduce_mean(c * c, -1, keepdims=True)
    return c * tf.math.rsqrt(var + _EPS) * w + b


def encode(p: Mapping[str, Any], x: Any, mask: Any, batch: Any, widths: Sequence[int]) -> Any:
    """Build the encoder on flat token rows.

    Args:
        p: Parameters (tf tensors or variables; FFN tensors full width, sliced here).
        x: Input embeddings, shape ``[batch * T, 384]``.
        mask: Attention mask, shape ``[batch, T]`` (1 for tokens, 0 for padding).
        batch: Batch size (int or scalar tensor).
        widths: FFN width per layer.

    Returns:
        Masked mean of the last hidden states, ``[batch, 384]``.
    """
    import tensorflow as tf  # noqa: PLC0415 - build-only dependency

    t = tf.shape(mask)[1]
    dh = D_MODEL // HEADS
    h = _ln(tf, x, p["emb_ln.w"], p["emb_ln.b"])
    bias = tf.reshape((1.0 - mask) * -10000.0, [batch, 1, 1, t])
    scale = 1.0 / math.sqrt(dh)

    def heads(y: Any) -> Any:
        return tf.transpose(tf.reshape(y, [batch, t, HEADS, dh]), [0, 2, 1, 3])

    for i, m in enumerate(widths):
        q = heads(tf.matmul(h, p[f"{i}.q.w"]) + p[f"{i}.q.b"])
        k = heads(tf.matmul(h, p[f"{i}.k.w"]) + p[f"{i}.k.b"])
        v = heads(tf.matmul(h, p[f"{i}.v.w"]) + p[f"{i}.v.b"])
        s = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) * scale + bias, axis=-1)
        a = tf.reshape(tf.transpose(tf.matmul(s, v), [0, 2, 1, 3]), [-1, D_MODEL])
        h = _ln(tf, tf.matmul(a, p[f"{i}.o.w"]) + p[f"{i}.o.b"] + h, p[f"{i}.ln1.w"], p[f"{i}.ln1.b"])
        up_w, up_b, down_w = p[f"{i}.up.w"], p[f"{i}.up.b"], p[f"{i}.down.w"]
        if m != FFN:
            up_w, up_b, down_w = up_w[:, :m], up_b[:m], down_w[:m, :]
        f = tf.nn.gelu(tf.matmul(h, up_w) + up_b, approximate=False)
        h = _ln(tf, tf.matmul(f, down_w) + p[f"{i}.down.b"] + h, p[f"{i}.ln2.w"], p[f"{i}.ln2.b"])
    h3 = tf.reshape(h, [batch, t, D_MODEL])
    msk = mask[:, :, None]
    return tf.reduce_sum(h3 * msk, 1) / tf.maximum(tf.reduce_sum(msk, 1), 1e-9)


def export_function(p: Params, widths: Sequence[int]) -> Any:
    """A concrete tf.function ``(embeddings [T, 384], mask [T]) -> pooled [1, 384]``.

    FFN weights are cut to ``widths`` here, so the graph holds only what it uses.
    """
    import tensorflow as tf  # noqa: PLC0415 - build-only dependency

    consts: dict[str, Any] = {}
    for name, arr in p.items():
        layer, _, rest = name.partition(".")
        if rest in ("up.w", "up.b", "down.w"):
            m = widths[int(layer)]
            arr = arr[..., :m] if rest != "down.w" else arr[:m, :]
        consts[name] = tf.constant(np.ascontiguousarray(arr))
    full = [FFN] * LAYERS

    @tf.function(input_signature=[
        tf.TensorSpec([None, D_MODEL], tf.float32, name="embeddings"),
        tf.TensorSpec([None], tf.float32, name="mask"),
    ])
    def serve(embeddings: Any, mask: Any) -> Any:
        return {"pooled": encode(consts, embeddings, mask[None, :], 1, full)}

    return serve.get_concrete_function()
