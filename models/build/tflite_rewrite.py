"""Rewrite a MediaPipe ``.tflite`` file into a plain float32 graph a quantizer accepts.

MediaPipe's BlazeFace files are old-style flatbuffers that ``ai-edge-quantizer``
cannot work on as shipped:

- op codes are only in ``deprecated_builtin_code`` (``builtin_code`` is 0 = ADD);
- weights are fp16 constants behind ``DEQUANTIZE`` ops (and, in the full-range
  model, sparse constants behind ``DENSIFY`` ops);
- there is no ``SignatureDef``.

:func:`rewrite_for_quantizer` folds every constant-only ``DENSIFY``/``DEQUANTIZE``
chain into a float32 constant (values computed by the LiteRT reference kernels,
so the sparse format needs no reimplementation; fp16 to fp32 is exact), fuses
standalone RELUs into the op before them (XNNPACK has no int8 RELU), drops
the tensors, buffers, op codes and metadata no longer used, names the input and
outputs and adds a ``serving_default`` signature. The output is deterministic:
the same input bytes always give the same output bytes.

Needs the ``[build]`` extra (``ai-edge-litert``, ``flatbuffers``, ``numpy``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

__all__ = ["RewriteError", "float_outputs", "rewrite_for_quantizer"]

_FOLDABLE = {schema.BuiltinOperator.DEQUANTIZE, schema.BuiltinOperator.DENSIFY}
_FILE_IDENTIFIER = b"TFL3"
SIGNATURE_KEY = "serving_default"


class RewriteError(Exception):
    """The model does not have the structure the rewrite expects.

    Attributes:
        reason: What was wrong.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _op_code(model: Any, op: Any) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return int(max(code.builtinCode, code.deprecatedBuiltinCode))


def _has_data(model: Any, tensor: Any) -> bool:
    data = model.buffers[tensor.buffer].data
    return data is not None and len(data) > 0


def _foldable_ops(model: Any) -> list[int]:
    """Return indices of ops whose inputs are all constant (or folded) tensors."""
    graph = model.subgraphs[0]
    constant = {i for i, t in enumerate(graph.tensors) if _has_data(model, t)}
    folded: list[int] = []
    for index, op in enumerate(graph.operators):
        if _op_code(model, op) in _FOLDABLE and all(int(i) in constant for i in op.inputs):
            folded.append(index)
            constant.update(int(o) for o in op.outputs)
    return folded


def _folded_values(content: bytes, tensor_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Run the reference kernels once and read the folded tensors' values."""
    interp = Interpreter(
        model_content=content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    interp.allocate_tensors()
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
    interp.invoke()
    return {i: np.array(interp.get_tensor(i), dtype=np.float32) for i in tensor_ids}


def _compact(model: Any) -> None:
    """Drop tensors, buffers and op codes nothing refers to; renumber the rest."""
    graph = model.subgraphs[0]
    used_tensors: set[int] = {int(i) for i in graph.inputs} | {int(i) for i in graph.outputs}
    for op in graph.operators:
        used_tensors.update(int(i) for i in op.inputs if i >= 0)
        used_tensors.update(int(i) for i in op.outputs)
    tensor_map = {old: new for new, old in enumerate(sorted(used_tensors))}
    graph.tensors = [graph.tensors[old] for old in sorted(used_tensors)]
    for op in graph.operators:
        op.inputs = np.array([tensor_map[int(i)] if i >= 0 else -1 for i in op.inputs], np.int32)
        op.outputs = np.array([tensor_map[int(i)] for i in op.outputs], np.int32)
        op.intermediates = None
    graph.inputs = np.array([tensor_map[int(i)] for i in graph.inputs], np.int32)
    graph.outputs = np.array([tensor_map[int(i)] for i in graph.outputs], np.int32)

    used_buffers = sorted({0} | {int(t.buffer) for t in graph.tensors})
    buffer_map = {old: new for new, old in enumerate(used_buffers)}
    model.buffers = [model.buffers[old] for old in used_buffers]
    for tensor in graph.tensors:
        tensor.buffer = buffer_map[int(tensor.buffer)]

    used_codes = sorted({int(op.opcodeIndex) for op in graph.operators})
    code_map = {old: new for new, old in enumerate(used_codes)}
    model.operatorCodes = [model.operatorCodes[old] for old in used_codes]
    for op in graph.operators:
        op.opcodeIndex = code_map[int(op.opcodeIndex)]


_FUSABLE_OPTIONS = {
    schema.BuiltinOperator.ADD: "AddOptionsT",
    schema.BuiltinOperator.CONV_2D: "Conv2DOptionsT",
    schema.BuiltinOperator.DEPTHWISE_CONV_2D: "DepthwiseConv2DOptionsT",
}


def _fuse_relu(model: Any) -> int:
    """Fold each RELU into the ADD/CONV producing its input (exact in float).

    XNNPACK has no standalone int8 RELU: each one split the int8 graph into
    another delegate partition. A RELU is folded only when its producer has no
    fused activation and nothing else reads the producer's output.
    """
    graph = model.subgraphs[0]
    readers: dict[int, int] = {}
    for op in graph.operators:
        for i in op.inputs:
            readers[int(i)] = readers.get(int(i), 0) + 1
    outputs = {int(i) for i in graph.outputs}
    producer = {int(o): op for op in graph.operators for o in op.outputs}
    drop: set[int] = set()
    for index, op in enumerate(graph.operators):
        if _op_code(model, op) != schema.BuiltinOperator.RELU:
            continue
        source = int(op.inputs[0])
        prev = producer.get(source)
        if prev is None or readers.get(source) != 1 or source in outputs:
            continue
        options = prev.builtinOptions
        if _op_code(model, prev) not in _FUSABLE_OPTIONS or options is None:
            continue
        if options.fusedActivationFunction != schema.ActivationFunctionType.NONE:
            continue
        options.fusedActivationFunction = schema.ActivationFunctionType.RELU
        prev.outputs = np.array([int(op.outputs[0])], np.int32)
        drop.add(index)
    graph.operators = [op for i, op in enumerate(graph.operators) if i not in drop]
    return len(drop)


def _signature(graph: Any, input_name: str, output_names: Sequence[str]) -> Any:
    if len(graph.inputs) != 1 or len(graph.outputs) != len(output_names):
        raise RewriteError(
            f"expected 1 input and {len(output_names)} outputs, "
            f"got {len(graph.inputs)} and {len(graph.outputs)}"
        )
    graph.tensors[int(graph.inputs[0])].name = input_name.encode()
    sig = schema.SignatureDefT()
    sig.signatureKey = SIGNATURE_KEY.encode()
    sig.subgraphIndex = 0
    sig.inputs = [_tensor_map(input_name, int(graph.inputs[0]))]
    sig.outputs = []
    for name, index in zip(output_names, graph.outputs, strict=True):
        graph.tensors[int(index)].name = name.encode()
        sig.outputs.append(_tensor_map(name, int(index)))
    return sig


def _tensor_map(name: str, index: int) -> Any:
    entry = schema.TensorMapT()
    entry.name = name.encode()
    entry.tensorIndex = index
    return entry


def rewrite_for_quantizer(
    content: bytes,
    *,
    input_name: str = "input",
    output_names: Sequence[str] = ("regressors", "classificators"),
    description: str = "edge-agent rewrite: fp16 constants folded to fp32",
) -> bytes:
    """Return ``content`` rewritten as a plain float32 model with a signature.

    Args:
        content: The upstream ``.tflite`` bytes.
        input_name: Name given to the single input tensor.
        output_names: Names given to the outputs, in the graph's output order.
        description: New model description.

    Returns:
        The rewritten flatbuffer.

    Raises:
        RewriteError: The model has more than one subgraph, already has
            signatures, or its inputs/outputs do not match the names given.
    """
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    if len(model.subgraphs) != 1:
        raise RewriteError(f"expected one subgraph, got {len(model.subgraphs)}")
    if model.signatureDefs:
        raise RewriteError("model already has signatures")
    for code in model.operatorCodes:
        code.builtinCode = max(code.builtinCode, code.deprecatedBuiltinCode)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)

    graph = model.subgraphs[0]
    folded_ops = _foldable_ops(model)
    final_outputs = sorted(
        {int(o) for i in folded_ops for o in graph.operators[i].outputs}
        - {int(t) for i in folded_ops for t in graph.operators[i].inputs}
    )
    values = _folded_values(content, final_outputs)
    for tensor_id, value in values.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(value.astype("<f4").tobytes(), dtype=np.uint8).copy()
        model.buffers.append(buffer)
        tensor = graph.tensors[tensor_id]
        tensor.buffer = len(model.buffers) - 1
        tensor.type = schema.TensorType.FLOAT32
        tensor.quantization = None
        tensor.sparsity = None
        tensor.shape = np.array(value.shape, dtype=np.int32)
    drop = set(folded_ops)
    graph.operators = [op for i, op in enumerate(graph.operators) if i not in drop]

    _fuse_relu(model)
    model.metadata = None
    model.metadataBuffer = None
    model.description = description.encode()
    model.version = 3
    _compact(model)
    model.signatureDefs = [_signature(graph, input_name, output_names)]

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def float_outputs(content: bytes) -> bytes:
    """Drop QUANTIZE ops that turn float results into int8 graph outputs.

    ``ai-edge-quantizer`` quantizes every graph output, even one computed in
    float; removing that last QUANTIZE gives the float result (no rounding)
    under the output's name, in the signature too.

    Args:
        content: A quantized ``.tflite`` flatbuffer.

    Returns:
        The flatbuffer with float outputs where the value was float.
    """
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    _inline_buffers(model, content)
    graph = model.subgraphs[0]
    producer = {int(o): index for index, op in enumerate(graph.operators) for o in op.outputs}
    replace: dict[int, int] = {}
    for out in (int(i) for i in graph.outputs):
        index = producer.get(out)
        if index is None:
            continue
        op = graph.operators[index]
        source = int(op.inputs[0])
        if (_op_code(model, op) == schema.BuiltinOperator.QUANTIZE
                and graph.tensors[source].type == schema.TensorType.FLOAT32):
            replace[out] = source
            graph.tensors[source].name = graph.tensors[out].name.removesuffix(b"_quantized")
    drop = {producer[out] for out in replace}
    graph.operators = [op for i, op in enumerate(graph.operators) if i not in drop]
    graph.outputs = np.array([replace.get(int(i), int(i)) for i in graph.outputs], np.int32)
    for sig in model.signatureDefs or []:
        for entry in sig.outputs or []:
            entry.tensorIndex = replace.get(int(entry.tensorIndex), int(entry.tensorIndex))
    _compact_keep_signatures(model)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def _inline_buffers(model: Any, content: bytes) -> None:
    """Move buffers stored after the flatbuffer (``offset``/``size``) into it.

    The object API does not carry those appended bytes over when packing.
    """
    for buffer in model.buffers:
        if buffer.offset > 1:
            start, size = int(buffer.offset), int(buffer.size)
            buffer.data = np.frombuffer(content[start:start + size], dtype=np.uint8).copy()
            buffer.offset = 0
            buffer.size = 0


def _compact_keep_signatures(model: Any) -> None:
    """:func:`_compact`, then renumber the signature's tensor indices to match."""
    graph = model.subgraphs[0]
    sig_tensors = [(entry, graph.tensors[int(entry.tensorIndex)])
                   for sig in model.signatureDefs or []
                   for entry in (sig.inputs or []) + (sig.outputs or [])]
    _compact(model)
    position = {id(t): i for i, t in enumerate(graph.tensors)}
    for entry, tensor in sig_tensors:
        entry.tensorIndex = position[id(tensor)]
