"""Rebuild a parsed TF.js graph as a TensorFlow function (the ``[build]`` extra).

Each node becomes the ``tf.raw_ops`` call of its op type, with positional inputs
mapped onto the op's registered argument names; TF.js's fused ops
(``_FusedConv2D``, ``FusedDepthwiseConv2dNative``) are split back into the
convolution, the bias add and the activation. ``ResizeBilinear`` sizes, which
the TF.js export froze for one input size, are recomputed from the input's own
height and width, so the function runs at any input size the network's strides
divide (and a function traced with an unknown size keeps that size dynamic).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from models.build.objects.tfjs_graph import Graph, Node

__all__ = ["GraphFunction"]

_ACTIVATIONS = {"Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh"}


def _dtype(tf: Any, name: str) -> Any:
    from tensorflow.core.framework import types_pb2

    return tf.dtypes.as_dtype(types_pb2.DataType.Value(name))


def _topological(nodes: Sequence[Node]) -> list[Node]:
    """Nodes ordered so every input comes before its consumers (file order otherwise)."""
    by_name = {n.name: n for n in nodes}
    done: set[str] = set()
    order: list[Node] = []
    for root in nodes:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node.name in done:
                continue
            if expanded:
                done.add(node.name)
                order.append(node)
                continue
            stack.append((node, True))
            for ref in reversed(node.inputs):
                dep = by_name[ref.split(":")[0]]
                if dep.name not in done:
                    stack.append((dep, False))
    return order


class GraphFunction:
    """A TF.js graph as a callable over TensorFlow tensors.

    Args:
        graph: The parsed graph.
        native_size: ``(height, width)`` the graph was exported at.
        layout: ``NCHW`` or ``NHWC``: where height and width sit in the input.
    """

    def __init__(self, graph: Graph, native_size: tuple[int, int], layout: str) -> None:
        import tensorflow as tf

        self.tf = tf
        self.graph = graph
        self.native_size = native_size
        self.layout = layout
        self._consts = {name: tf.constant(value) for name, value in graph.constants.items()}
        self._order = _topological(graph.nodes)

    def _resize_size(self, node: Node, env: dict[str, Any], image: Any) -> Any:
        """The output size of a resize, as a fraction of the input image's size."""
        tf = self.tf
        frozen = self.graph.constants.get(node.inputs[1].split(":")[0])
        if frozen is None:
            return self._ref(node.inputs[1], env)
        hw = tf.shape(image)[2:4] if self.layout == "NCHW" else tf.shape(image)[1:3]
        out = []
        for axis, size in enumerate(np.asarray(frozen).reshape(-1)[:2]):
            native = self.native_size[axis]
            if native % int(size) == 0:
                out.append(hw[axis] // (native // int(size)))
            elif int(size) % native == 0:
                out.append(hw[axis] * (int(size) // native))
            else:
                raise ValueError(f"{node.name}: size {size} is no integer ratio of {native}")
        return tf.stack(out)

    def _ref(self, ref: str, env: dict[str, Any]) -> Any:
        name, _, index = ref.partition(":")
        value = env[name]
        if isinstance(value, (list, tuple)):
            return value[int(index) if index else 0]
        return value

    def _fused(self, node: Node, args: Sequence[Any]) -> Any:
        tf = self.tf
        a = node.attr
        common = {"strides": a["strides"], "padding": a["padding"],
                  "data_format": a.get("data_format", "NHWC"), "dilations": a.get("dilations")}
        if a["padding"] == "EXPLICIT":
            common["explicit_paddings"] = a.get("explicit_paddings", [])
        common = {k: v for k, v in common.items() if v is not None}
        if node.op == "_FusedConv2D":
            y = tf.raw_ops.Conv2D(input=args[0], filter=args[1], **common)
        else:
            common.pop("explicit_paddings", None)
            y = tf.raw_ops.DepthwiseConv2dNative(input=args[0], filter=args[1], **common)
        extra = list(args[2:])
        for op in a.get("fused_ops", []):
            if op == "BiasAdd":
                y = tf.nn.bias_add(y, extra.pop(0), data_format=common["data_format"])
            elif op == "Prelu":
                alpha = extra.pop(0)
                y = tf.maximum(y, 0.0) + alpha * tf.minimum(y, 0.0)
            elif op == "LeakyRelu":
                y = tf.nn.leaky_relu(y, alpha=a.get("leakyrelu_alpha", 0.2))
            elif op in _ACTIVATIONS:
                y = getattr(tf.raw_ops, op)(features=y) if op != "Sigmoid" else tf.sigmoid(y)
            else:
                raise ValueError(f"{node.name}: fused op {op} is not supported")
        return y

    def _generic(self, node: Node, args: Sequence[Any]) -> Any:
        tf = self.tf
        from tensorflow.python.framework import op_def_registry

        op_def = op_def_registry.get(node.op)
        if op_def is None:
            raise ValueError(f"{node.name}: unknown op {node.op}")
        fn: Callable[..., Any] = getattr(tf.raw_ops, node.op)
        params = inspect.signature(fn).parameters
        kwargs: dict[str, Any] = {}
        rest = list(args)
        # raw_ops take the inputs first, in OpDef order, but under Python names
        # that may differ from the OpDef's (SplitV's split_dim is ``axis``).
        names = list(params)[: len(op_def.input_arg)]
        for arg, pname in zip(op_def.input_arg, names, strict=True):
            if arg.number_attr:
                count = int(node.attr.get(arg.number_attr, len(rest) - (len(op_def.input_arg) - 1)))
                kwargs[pname] = rest[:count]
                rest = rest[count:]
            else:
                kwargs[pname] = rest.pop(0)
        for key, value in node.attr.items():
            if key in params and key not in kwargs and key != "name":
                kind = next((x.type for x in op_def.attr if x.name == key), "")
                kwargs[key] = _dtype(tf, value) if kind == "type" else value
        return fn(**kwargs)

    def __call__(self, image: Any) -> dict[str, Any]:
        """Run the graph on ``image`` (the single input).

        Returns:
            The signature outputs by name.
        """
        tf = self.tf
        env: dict[str, Any] = {}
        for node in self._order:
            if node.op == "Placeholder":
                env[node.name] = image
            elif node.op == "Const":
                env[node.name] = self._consts[node.name]
            elif node.op == "Identity":
                env[node.name] = tf.identity(self._ref(node.inputs[0], env), name=node.name)
            elif node.op in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
                env[node.name] = self._fused(node, [self._ref(i, env) for i in node.inputs])
            elif node.op == "ResizeBilinear":
                x = self._ref(node.inputs[0], env)
                env[node.name] = tf.raw_ops.ResizeBilinear(
                    images=x, size=self._resize_size(node, env, image),
                    align_corners=node.attr.get("align_corners", False),
                    half_pixel_centers=node.attr.get("half_pixel_centers", False))
            else:
                out = self._generic(node, [self._ref(i, env) for i in node.inputs])
                env[node.name] = out
        return {name: env[name] for name in self.graph.outputs}
