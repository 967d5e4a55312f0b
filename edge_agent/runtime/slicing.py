"""Run-time slicing of a nested (MatFormer) checkpoint into a smaller sub-model.

The nested ``.tflite`` keeps each layer's FFN neurons sorted by importance, so a
sub-model of width ``m`` is a prefix: the first ``m`` rows (and bias entries and
per-channel scales) of the up-projection, and the first ``m`` columns of the
down-projection. The FFN is found structurally: per layer, a ``FULLY_CONNECTED``
whose weight is ``[F, d]`` (up), followed by a ``FULLY_CONNECTED`` whose weight is
``[d, F]`` (down); every tensor on the path between them has its last dimension
``F`` cut to ``m`` in both ``shape`` and ``shape_signature`` (XNNPACK reads them).

Variants are materialised once per (base sha256, width vector) in a cache folder.
Needs ``flatbuffers`` (the schema module of ``ai_edge_litert`` imports it).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import itertools
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.errors import ModelError

__all__ = ["FfnLayer", "check_widths", "find_ffn_layers", "materialise", "slice_model"]

_FILE_IDENTIFIER = b"TFL3"


def _schema() -> Any:
    try:
        return importlib.import_module("ai_edge_litert.schema_py_generated")
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelError(f"slicing needs ai_edge_litert and flatbuffers: {exc}") from exc


@dataclass(frozen=True, slots=True)
class FfnLayer:
    """Where one layer's FFN lives in the graph.

    Attributes:
        up_op: Operator index of the up-projection.
        down_op: Operator index of the down-projection.
        width: Full FFN width ``F``.
    """

    up_op: int
    down_op: int
    width: int


def _builtin(model: Any, op: Any) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return int(max(code.builtinCode, code.deprecatedBuiltinCode))


def find_ffn_layers(model: Any) -> list[FfnLayer]:
    """Locate the nested FFNs of an unpacked model (``schema.ModelT``), in graph order.

    Raises:
        ModelError: The graph has no well-formed up/down pairs.
    """
    schema = _schema()
    sg = model.subgraphs[0]
    fcs: list[tuple[int, list[int]]] = []
    for i, op in enumerate(sg.operators):
        if _builtin(model, op) == schema.BuiltinOperator.FULLY_CONNECTED:
            fcs.append((i, [int(d) for d in sg.tensors[op.inputs[1]].shape]))
    d_model = min((s[1] for _, s in fcs), default=0)
    ups = [(i, s[0]) for i, s in fcs if s[1] == d_model and s[0] > d_model]
    downs = [(i, s[1]) for i, s in fcs if s[0] == d_model and s[1] > d_model]
    if not ups or len(ups) != len(downs):
        raise ModelError(f"no nested FFN found ({len(ups)} up / {len(downs)} down projections)")
    layers = []
    for (u, fu), (d, fd) in zip(ups, downs, strict=True):
        if fu != fd or not u < d:
            raise ModelError(f"FFN up/down projections do not pair (ops {u}, {d})")
        layers.append(FfnLayer(up_op=u, down_op=d, width=fu))
    return layers


def check_widths(widths: Sequence[int], allowed: Sequence[int], layers: int) -> tuple[int, ...]:
    """Validate a per-layer width vector.

    Args:
        widths: Proposed widths.
        allowed: Trained widths.
        layers: Number of layers.

    Returns:
        The widths as a tuple.

    Raises:
        ModelError: Wrong length, an untrained width, or widths decreasing with depth.
    """
    w = tuple(int(x) for x in widths)
    if len(w) != layers:
        raise ModelError(f"width vector has {len(w)} entries, the model has {layers} layers")
    if any(x not in allowed for x in w):
        raise ModelError(f"widths {list(w)} not all in the trained set {list(allowed)}")
    if any(b < a for a, b in itertools.pairwise(w)):
        raise ModelError(f"widths {list(w)} decrease with depth")
    return w


def _set_last_dim(tensor: Any, full: int, m: int) -> None:
    for attr in ("shape", "shapeSignature"):
        dims = getattr(tensor, attr)
        if dims is not None and len(dims) and int(dims[-1]) == full:
            new = np.array(dims, dtype=np.int32)  # object-API arrays are read-only
            new[-1] = m
            setattr(tensor, attr, new)


class _Writer:
    """Replaces tensor data, reusing a buffer only when no other tensor shares it."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.refs: dict[int, int] = {}
        for t in model.subgraphs[0].tensors:
            self.refs[t.buffer] = self.refs.get(t.buffer, 0) + 1

    def data(self, tensor: Any, dtype: Any) -> np.ndarray[Any, Any]:
        buf = self.model.buffers[tensor.buffer]
        if buf.data is None or getattr(buf, "offset", 0) > 1:
            raise ModelError("sliced tensors must have inline buffers")
        raw = np.asarray(buf.data, dtype=np.uint8)
        out: np.ndarray[Any, Any] = raw.view(dtype).reshape([int(d) for d in tensor.shape])
        return out

    def replace(self, tensor: Any, value: np.ndarray[Any, Any]) -> None:
        payload = np.frombuffer(np.ascontiguousarray(value).tobytes(), dtype=np.uint8).copy()
        if self.refs.get(tensor.buffer, 0) == 1:
            self.model.buffers[tensor.buffer].data = payload
        else:
            schema = _schema()
            buf = schema.BufferT()
            buf.data = payload
            self.model.buffers.append(buf)
            self.refs[tensor.buffer] -= 1
            tensor.buffer = len(self.model.buffers) - 1
            self.refs[tensor.buffer] = 1
        tensor.shape = np.array(value.shape, dtype=np.int32)
        if tensor.shapeSignature is not None:
            tensor.shapeSignature = np.array(value.shape, dtype=np.int32)


_DTYPES = {0: np.float32, 9: np.int8, 1: np.float16}


def _cut_layer(model: Any, layer: FfnLayer, m: int, w: _Writer) -> None:
    sg = model.subgraphs[0]
    full = layer.width
    up = sg.operators[layer.up_op]
    down = sg.operators[layer.down_op]
    weight = sg.tensors[up.inputs[1]]
    w.replace(weight, w.data(weight, _DTYPES[weight.type])[:m, :])
    q = weight.quantization
    if q is not None and q.scale is not None and len(q.scale) == full:
        q.scale = np.array(q.scale[:m], dtype=np.float32)
        if q.zeroPoint is not None and len(q.zeroPoint) == full:
            q.zeroPoint = np.array(q.zeroPoint[:m], dtype=np.int64)
    if len(up.inputs) > 2 and up.inputs[2] >= 0:
        bias = sg.tensors[up.inputs[2]]
        w.replace(bias, w.data(bias, _DTYPES[bias.type])[:m])
    dweight = sg.tensors[down.inputs[1]]
    w.replace(dweight, w.data(dweight, _DTYPES[dweight.type])[:, :m])
    # Activations on the path up -> down (up output, GELU output, ...).
    path = {int(up.outputs[0])}
    for op in sg.operators[layer.up_op + 1 : layer.down_op]:
        if any(int(t) in path for t in op.inputs):
            path.update(int(t) for t in op.outputs)
    for t in path:
        _set_last_dim(sg.tensors[t], full, m)


def slice_model(data: bytes, widths: Sequence[int], allowed: Sequence[int] | None = None) -> bytes:
    """Cut a nested checkpoint to a per-layer width vector.

    Args:
        data: The nested ``.tflite`` flatbuffer.
        widths: FFN width per layer, non-decreasing with depth.
        allowed: Trained widths (default: any width up to the full one).

    Returns:
        The sliced ``.tflite`` flatbuffer.

    Raises:
        ModelError: Invalid widths or a graph without nested FFNs.
    """
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    layers = find_ffn_layers(model)
    full = layers[0].width
    w = check_widths(widths, allowed or range(1, full + 1), len(layers))
    writer = _Writer(model)
    for layer, m in zip(layers, w, strict=True):
        if m != layer.width:
            _cut_layer(model, layer, m, writer)
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def _verified_bytes(base: Path, base_sha256: str) -> bytes:
    data = base.read_bytes()
    if hashlib.sha256(data).hexdigest() != base_sha256.lower():
        raise ModelError("sha256 mismatch of the nested checkpoint", path=str(base))
    return data


@functools.lru_cache(maxsize=8)
def _full_widths(base: Path, base_sha256: str) -> tuple[int, ...]:
    """Full FFN width per layer of a verified checkpoint (parsed once per process)."""
    data = _verified_bytes(base, base_sha256)
    layers = find_ffn_layers(_schema().ModelT.InitFromPackedBuf(bytearray(data), 0))
    return tuple(layer.width for layer in layers)


def materialise(
    base: Path,
    widths: Sequence[int],
    cache_dir: Path,
    *,
    base_sha256: str,
    allowed: Sequence[int] | None = None,
) -> Path:
    """Return a cached file of ``base`` sliced to ``widths``, writing it when missing.

    Only the first call per checkpoint reads and parses it: a swap under memory
    pressure that finds its variant on disk costs a ``stat``, not the ~28 MB and
    ~150 ms a full read, hash and unpack of the checkpoint take. The file is
    written to a temporary name, flushed to disk and renamed, so a power cut
    leaves either the whole variant or none.

    Args:
        base: The nested checkpoint.
        widths: FFN width per layer.
        cache_dir: Folder for materialised variants (created).
        base_sha256: Hex digest of ``base`` (names the cached file; checked when read).
        allowed: Trained widths.

    Returns:
        Path of the sliced model (``base`` itself when every width is full).

    Raises:
        ModelError: Bad widths, a base file that does not match ``base_sha256``, or an
            unwritable cache folder.
    """
    full = _full_widths(base, base_sha256.lower())
    w = check_widths(widths, allowed or range(1, full[0] + 1), len(full))
    if w == full:
        return base
    name = f"{base.stem}-{base_sha256[:16]}-{'-'.join(str(x) for x in w)}.tflite"
    target = cache_dir / name
    if target.is_file():
        return target
    sliced = slice_model(_verified_bytes(base, base_sha256), w, allowed)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(sliced)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"cannot write sliced variant: {exc}", path=str(target)) from exc
    return target
