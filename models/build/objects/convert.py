"""TensorFlow function to ``.tflite``: float32, fp16 weights, dynamic-range int8.

The function is traced with the input's height and width unknown, so the
converted graph computes its resize sizes from the input: one file runs at every
input size the strides divide (``resize_tensor_input`` + ``allocate_tensors``).
The file's stored input shape is then set to the native size, so an interpreter
that does not resize gets a working 416 x 416 model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PRECISIONS", "convert", "set_input_shape"]

PRECISIONS = ("fp32", "fp16", "int8")


def convert(fn: Any, input_shape: tuple[int | None, ...], precision: str) -> bytes:
    """Convert ``fn`` (one float32 input) to a TFLite flatbuffer.

    Args:
        fn: A callable over TensorFlow tensors returning a dict of outputs.
        input_shape: Input shape with ``None`` for dynamic dimensions.
        precision: ``fp32``; ``fp16`` (fp16 weights, float32 compute); ``int8``
            (dynamic range: int8 weights, float activations).

    Returns:
        The model bytes.
    """
    import tensorflow as tf

    func = tf.function(fn, input_signature=[tf.TensorSpec(input_shape, tf.float32, name="input")])
    concrete = func.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], func)
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision != "fp32":
        raise ValueError(f"unknown precision {precision!r}")
    return bytes(converter.convert())


def set_input_shape(content: bytes, shape: tuple[int, ...]) -> bytes:
    """Set the stored shape of the (single) input, keeping its dynamic ``shape_signature``."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    graph = model.subgraphs[0]
    if len(graph.inputs) != 1:
        raise ValueError(f"expected one input, found {len(graph.inputs)}")
    tensor = graph.tensors[int(graph.inputs[0])]
    if len(tensor.shape) != len(shape):
        raise ValueError(f"input rank {len(tensor.shape)} != {len(shape)}")
    tensor.shape = np.asarray(shape, np.int32)
    for buffer in model.buffers:
        if buffer.data is not None:
            buffer.data = np.asarray(buffer.data, np.uint8)  # Pack is slow on lists
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
