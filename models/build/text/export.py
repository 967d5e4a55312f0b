"""TFLite export of the encoder at a given per-layer FFN width vector."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from models.build.text import encoder

__all__ = ["export_tflite"]


def export_tflite(p: encoder.Params, widths: Sequence[int], path: Path, *, int8: bool = True) -> Path:
    """Convert the encoder cut to ``widths`` and write it to ``path``.

    Args:
        p: Nested parameters (full width).
        widths: FFN width per layer.
        path: Output ``.tflite`` file.
        int8: Dynamic-range quantization (int8 weights, float activations).

    Returns:
        ``path``.
    """
    import tensorflow as tf  # noqa: PLC0415 - build-only dependency

    fn = encoder.export_function(p, widths)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn])
    if int8:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(conv.convert())
    return path
