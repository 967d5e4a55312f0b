"""Read a TF.js graph model (``model.json`` + weight shards) without ``tensorflowjs``.

The format: ``modelTopology.node`` is a TensorFlow ``GraphDef`` in JSON (op, name,
inputs as ``name[:index]``, attrs as protobuf-JSON values); ``weightsManifest``
lists the constants in shard order with dtype, shape and an optional
``quantization`` (here ``float16`` storage of float32 weights). Standard library
and numpy only.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Graph", "Node", "parse_graph"]

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANT = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


@dataclass(frozen=True, slots=True)
class Node:
    """One graph node.

    Attributes:
        name: Node name.
        op: TensorFlow op type (``Conv2D``, ``_FusedConv2D``...).
        inputs: Input references ``name`` or ``name:index`` (control inputs dropped).
        attr: Attributes decoded to Python values (see :func:`_attr`).
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Graph:
    """A parsed graph model.

    Attributes:
        nodes: Nodes in file order.
        constants: Weight values by node name (dequantized to their original dtype).
        inputs: Signature input names (without ``:0``).
        outputs: Signature output names (without ``:0``), sorted.
    """

    nodes: tuple[Node, ...]
    constants: dict[str, npt.NDArray[Any]]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _attr(value: dict[str, Any]) -> Any:
    """Decode one protobuf-JSON ``AttrValue``."""
    if "list" in value:
        lst = value["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        if "type" in lst:
            return list(lst["type"])
        return []
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "type" in value:
        return value["type"]
    if "shape" in value:
        return [int(d.get("size", -1)) for d in value["shape"].get("dim", [])]
    return None


def _weights(manifest: list[dict[str, Any]], shards: list[bytes]) -> dict[str, npt.NDArray[Any]]:
    data = b"".join(shards)
    out: dict[str, npt.NDArray[Any]] = {}
    offset = 0
    for group in manifest:
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = w.get("quantization")
            if quant is not None:
                stored = np.dtype(_QUANT[quant["dtype"]])
                raw = np.frombuffer(data, stored, count, offset)
                if quant["dtype"] == "float16":
                    value = raw.astype(np.float32)
                else:  # affine uint8/uint16
                    value = raw.astype(np.float32) * quant["scale"] + quant["min"]
            else:
                stored = np.dtype(_DTYPES[w["dtype"]])
                value = np.frombuffer(data, stored, count, offset).copy()
            offset += count * stored.itemsize
            out[w["name"]] = value.reshape(shape).astype(_DTYPES[w["dtype"]])
    if offset != len(data):
        raise ValueError(f"weights manifest covers {offset} of {len(data)} bytes")
    return out


def parse_graph(model_json: bytes, shards: list[bytes]) -> Graph:
    """Parse ``model.json`` and its weight shards (in ``paths`` order).

    Args:
        model_json: The JSON file's bytes.
        shards: The binary shards' bytes.

    Returns:
        The graph.

    Raises:
        ValueError: Not a graph model, or weights that do not add up.
    """
    doc = json.loads(model_json)
    if doc.get("format") != "graph-model":
        raise ValueError(f"not a TF.js graph model: format {doc.get('format')!r}")
    nodes = tuple(
        Node(
            name=n["name"],
            op=n["op"],
            inputs=tuple(i for i in n.get("input", []) if not i.startswith("^")),
            attr={k: _attr(v) for k, v in n.get("attr", {}).items()},
        )
        for n in doc["modelTopology"]["node"]
    )
    signature = doc.get("signature", {})
    inputs = tuple(k.split(":")[0] for k in signature.get("inputs", {}))
    outputs = tuple(sorted(k.split(":")[0] for k in signature.get("outputs", {})))
    return Graph(nodes, _weights(doc["weightsManifest"], shards), inputs, outputs)
