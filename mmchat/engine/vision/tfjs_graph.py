"""Runs a TensorFlow.js graph model (model.json + weight shards) with torch, without TensorFlow.

A TF.js graph model is a frozen TensorFlow graph: `modelTopology.node` lists every operation
(op name, inputs, attributes) and `weightsManifest` says where each constant's bytes lie in the
shards. No Python library reads one without installing TensorFlow itself (hundreds of MB), so
this file executes the graph directly: it walks back from the outputs asked for to the inputs
fed, and runs each operation it meets with its torch equivalent. Only the operations detection
graphs use are written; any other stops the run before it starts, naming the op and the node.

Tensors keep TensorFlow's layout (NHWC); a convolution views its input as NCHW, which torch's
channels_last memory format makes free of copies.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812


class GraphError(Exception):
    """The graph cannot be read or run: an unknown op, a missing weight, a missing input."""


# TensorFlow's DataType enum values, as attributes spell them.
_TF_DTYPES = {1: torch.float32, 3: torch.int32, 4: torch.uint8, 9: torch.int64, 10: torch.bool}
_MANIFEST_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANTIZED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]  # "node", "node:2" (its third output); control inputs left out
    attrs: dict[str, Any]


def _attr(value: dict[str, Any]) -> Any:
    """One attribute as plain Python: int, float, bool, str, dtype or a list of them."""
    if "list" in value:
        items = value["list"]
        for key in ("i", "f", "s", "b"):
            if items.get(key):
                return [_attr({key: item}) for item in items[key]]
        return []
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return _TF_DTYPES.get(int(value["type"]), value["type"])
    if "s" in value:
        raw = value["s"]
        # The converter writes bytes as base64 text; some writers as a list of byte values.
        data = bytes(raw) if isinstance(raw, list) else base64.b64decode(raw)
        return data.decode("utf-8", "replace")
    return value


def _parse_node(raw: dict[str, Any]) -> Node:
    inputs = tuple(i for i in raw.get("input", []) if not i.startswith("^"))
    attrs = {key: _attr(value) for key, value in raw.get("attr", {}).items() if key != "value"}
    return Node(raw["name"], raw["op"], inputs, attrs)


def load_weights(folder: Path, manifest: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Every weight of the manifest as a tensor, dequantising uint8/uint16/float16 ones."""
    weights: dict[str, torch.Tensor] = {}
    for group in manifest:
        try:
            data = b"".join((folder / path).read_bytes() for path in group["paths"])
        except OSError as exc:
            raise GraphError(f"weight shard missing: {exc}") from None
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = math.prod(shape)
            quant = spec.get("quantization")
            stored = _QUANTIZED.get(quant["dtype"]) if quant else None
            dtype = stored or _MANIFEST_DTYPES.get(spec["dtype"])
            if dtype is None:
                raise GraphError(f"weight {spec['name']}: dtype {spec['dtype']} not supported")
            size = count * np.dtype(dtype).itemsize
            if offset + size > len(data):
                raise GraphError(f"weight {spec['name']} runs past the end of its shards")
            array: np.ndarray = np.frombuffer(
                data, dtype=dtype, count=count, offset=offset
            ).reshape(shape)
            offset += size
            if quant and quant["dtype"] != "float16":
                array = array.astype(np.float32) * quant["scale"] + quant["min"]
            weights[spec["name"]] = torch.from_numpy(array.astype(_unquantized(spec["dtype"])))
    return weights


def _unquantized(name: str) -> type:
    return _MANIFEST_DTYPES.get(name, np.float32)


class GraphModel:
    """A TF.js graph model; `run` computes named outputs from named inputs."""

    def __init__(self, folder: Path) -> None:
        try:
            model = json.loads((folder / "model.json").read_text(encoding="utf-8"))
            raw_nodes = model["modelTopology"]["node"]
            manifest = model["weightsManifest"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GraphError(f"{folder / 'model.json'} is not a TF.js graph model: {exc}") from None
        self.nodes = {n.name: n for n in map(_parse_node, raw_nodes)}
        self.weights = load_weights(folder, manifest)
        self._plans: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Node]] = {}
        self._filters: dict[str, torch.Tensor] = {}  # conv weights in torch's layout
        # Per plan: after each step, the values no later step reads.
        self._releases: dict[tuple[tuple[str, ...], tuple[str, ...]], list[list[str]]] = {}

    def run(self, feeds: dict[str, torch.Tensor], outputs: Sequence[str]) -> list[torch.Tensor]:
        values: dict[str, list[torch.Tensor]] = {name: [t] for name, t in feeds.items()}
        order = self.plan(tuple(sorted(feeds)), tuple(outputs))
        done = self._releases[(tuple(sorted(feeds)), tuple(outputs))]
        with torch.inference_mode():
            for node, finished in zip(order, done, strict=True):
                args = [self._value(values, ref) for ref in node.inputs]
                result = OPS[node.op](self, node, args)
                values[node.name] = result if isinstance(result, list) else [result]
                del args
                # Each activation is let go once its last reader has run: kept to the end,
                # the detector's held ~115 MB at once.
                for name in finished:
                    values.pop(name, None)
        return [self._value(values, name) for name in outputs]

    def plan(self, feeds: tuple[str, ...], outputs: tuple[str, ...]) -> list[Node]:
        """The nodes needed for `outputs` given `feeds`, in an order that runs; checked once
        for ops this runner lacks, so an unknown one fails before any work."""
        key = (feeds, outputs)
        if key in self._plans:
            return self._plans[key]
        order: list[Node] = []
        seen = set(feeds)
        stack: list[tuple[str, bool]] = [(_node_name(o), False) for o in reversed(outputs)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                order.append(self.nodes[name])
                continue
            if name in seen:
                continue
            seen.add(name)
            node = self.nodes.get(name)
            if node is None:
                raise GraphError(f"the graph has no node {name!r}")
            stack.append((name, True))
            stack.extend((_node_name(i), False) for i in reversed(node.inputs))
        unknown = sorted({f"{n.op} (node {n.name})" for n in order if n.op not in OPS})
        if unknown:
            raise GraphError(f"op not supported by this runner: {', '.join(unknown[:5])}")
        order = self._fuse(order, outputs)
        self._plans[key] = order
        self._releases[key] = _releases(order, outputs)
        return order

    def _fuse(self, order: list[Node], outputs: tuple[str, ...]) -> list[Node]:
        """Each convolution followed by a constant bias add and an activation becomes one
        step, as TF.js's own converter fuses them (this graph was saved unfused): the bias
        and the activation then run in place, with no tensor between them."""
        users: dict[str, int] = {_node_name(o): 1 for o in outputs}
        for node in order:
            for ref in node.inputs:
                users[ref] = users.get(ref, 0) + 1
        by_input = {n.inputs[0]: n for n in order if n.inputs}
        fused: dict[str, Node] = {}  # the last node of a chain -> the step replacing it
        dropped: set[str] = set()
        for node in order:
            if node.op not in ("Conv2D", "DepthwiseConv2dNative") or node.attrs.get("fused_ops"):
                continue
            chain, ops, extra, tail = [node.name], [], [], node
            add = by_input.get(node.name)
            if (
                add is not None
                and add.op in ("Add", "AddV2", "BiasAdd")
                and users.get(node.name) == 1
                and self.nodes[_node_name(add.inputs[1])].op == "Const"
            ):
                chain.append(add.name)
                ops.append("BiasAdd")
                extra.append(add.inputs[1])
                tail = add
            activation = by_input.get(tail.name)
            alone = users.get(tail.name) == 1
            if activation is not None and activation.op in _ACTIVATIONS and alone:
                chain.append(activation.name)
                ops.append(activation.op)
                tail = activation
            if not ops:
                continue
            dropped.update(chain[:-1])
            attrs = {**node.attrs, "fused_ops": ops}
            fused[tail.name] = Node(tail.name, node.op, node.inputs[:2] + tuple(extra), attrs)
        return [fused.get(n.name, n) for n in order if n.name not in dropped]

    def _value(self, values: dict[str, list[torch.Tensor]], ref: str) -> torch.Tensor:
        name, _, index = ref.partition(":")
        return values[name][int(index or 0)]

    def filter(self, node: Node, kernel: torch.Tensor, depthwise: bool) -> torch.Tensor:
        """A conv filter in torch's layout, converted once: TF's [kh, kw, in, out] becomes
        [out, in, kh, kw]; a depthwise [kh, kw, in, mult] becomes [in * mult, 1, kh, kw]."""
        key = node.inputs[1]
        if key not in self._filters:
            if depthwise:
                kh, kw, cin, mult = kernel.shape
                converted = kernel.permute(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            else:
                converted = kernel.permute(3, 2, 0, 1)
            self._filters[key] = converted.contiguous()
        return self._filters[key]


def _releases(order: list[Node], outputs: Sequence[str]) -> list[list[str]]:
    """For each step of `order`, the names whose value no later step reads (outputs kept)."""
    last: dict[str, int] = {}
    for step, node in enumerate(order):
        last[node.name] = step  # a value nothing reads goes right after it is made
        for ref in node.inputs:
            last[_node_name(ref)] = step
    kept = {_node_name(o) for o in outputs}
    done: list[list[str]] = [[] for _ in order]
    for name, step in last.items():
        if name not in kept:
            done[step].append(name)
    return done


def _node_name(ref: str) -> str:
    return ref.partition(":")[0]


# --- the operations ----------------------------------------------------------------------

Op = Callable[[GraphModel, Node, list[torch.Tensor]], "torch.Tensor | list[torch.Tensor]"]


def _const(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    if node.name not in model.weights:
        raise GraphError(f"constant {node.name!r} has no weight in the manifest")
    return model.weights[node.name]


def _placeholder(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    raise GraphError(f"input {node.name!r} was not fed")


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: the output is ceil(size / stride); an odd total pads the
    end one more than the start (torch's symmetric padding cannot say that)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _conv(model: GraphModel, node: Node, args: list[torch.Tensor], depthwise: bool) -> torch.Tensor:
    if node.attrs.get("data_format", "NHWC") != "NHWC":
        raise GraphError(f"{node.op} {node.name}: only NHWC data is supported")
    x, kernel = args[0], args[1]
    weight = model.filter(node, kernel, depthwise)
    strides = node.attrs.get("strides", [1, 1, 1, 1])
    dilations = node.attrs.get("dilations", [1, 1, 1, 1])
    nchw = x.permute(0, 3, 1, 2)
    padding = node.attrs.get("padding", "VALID")
    if padding == "SAME":
        top, bottom = _same_padding(nchw.shape[2], weight.shape[2], strides[1], dilations[1])
        left, right = _same_padding(nchw.shape[3], weight.shape[3], strides[2], dilations[2])
        if (top, left) != (bottom, right):
            nchw, top, left = F.pad(nchw, (left, right, top, bottom)), 0, 0
        pad: tuple[int, int] = (top, left)
    elif padding == "VALID":
        pad = (0, 0)
    else:
        raise GraphError(f"{node.op} {node.name}: padding {padding} not supported")
    out = F.conv2d(
        nchw,
        weight,
        stride=(strides[1], strides[2]),
        padding=pad,
        dilation=(dilations[1], dilations[2]),
        groups=nchw.shape[1] if depthwise else 1,
    )
    out = out.permute(0, 2, 3, 1)
    return _fused(node, out, args[2:]) if node.attrs.get("fused_ops") else out


def _fused(node: Node, out: torch.Tensor, extra: list[torch.Tensor]) -> torch.Tensor:
    """The converter's fused convolutions: a bias add, then an activation."""
    for step in node.attrs.get("fused_ops", []):
        if step == "BiasAdd":
            out.add_(extra[0])
        elif step in _IN_PLACE:
            _IN_PLACE[step](out)
        else:
            raise GraphError(f"{node.op} {node.name}: fused op {step} not supported")
    return out


_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Relu": torch.relu,
    "Relu6": lambda x: x.clamp(0.0, 6.0),
    "Sigmoid": torch.sigmoid,
}


# The fused activations run on the convolution's fresh output, so in place.
_IN_PLACE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Relu": torch.relu_,
    "Relu6": lambda x: x.clamp_(0.0, 6.0),
    "Sigmoid": torch.sigmoid_,
}


def _batch_norm(model: GraphModel, node: Node, args: list[torch.Tensor]) -> list[torch.Tensor]:
    x, scale, offset, mean, variance = args[:5]
    epsilon = node.attrs.get("epsilon", 1e-3)
    factor = scale * torch.rsqrt(variance + epsilon)
    return [x * factor + (offset - mean * factor)]


def _ints(t: torch.Tensor) -> list[int]:
    return [int(v) for v in t.reshape(-1).tolist()]


def _strided_slice(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    x, begin, end, strides = args[0], _ints(args[1]), _ints(args[2]), _ints(args[3])
    masks = {k: node.attrs.get(f"{k}_mask", 0) for k in ("begin", "end", "shrink_axis")}
    if node.attrs.get("ellipsis_mask", 0) or node.attrs.get("new_axis_mask", 0):
        raise GraphError(f"StridedSlice {node.name}: ellipsis and new-axis masks not supported")
    index: list[Any] = []
    for axis, (b, e, s) in enumerate(zip(begin, end, strides, strict=True)):
        if masks["shrink_axis"] >> axis & 1:
            index.append(b)
            continue
        start = None if masks["begin"] >> axis & 1 else b
        stop = None if masks["end"] >> axis & 1 else e
        if s < 0:
            raise GraphError(f"StridedSlice {node.name}: negative strides not supported")
        index.append(slice(start, stop, s))
    return x[tuple(index)]


def _slice(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    x, begin, size = args[0], _ints(args[1]), _ints(args[2])
    index = tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size, strict=True))
    return x[index]


def _reshape(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    return args[0].reshape(_ints(args[1]))


def _squeeze(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    dims = node.attrs.get("squeeze_dims") or [d for d, n in enumerate(args[0].shape) if n == 1]
    return args[0].squeeze(tuple(dims))


def _concat(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(args[:-1], dim=int(args[-1]))


def _pack(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(args, dim=node.attrs.get("axis", 0))


def _unpack(model: GraphModel, node: Node, args: list[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch.unbind(args[0], dim=node.attrs.get("axis", 0)))


def _cast(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    dtype = node.attrs.get("DstT")
    if not isinstance(dtype, torch.dtype):
        raise GraphError(f"Cast {node.name}: target type {dtype} not supported")
    return args[0].to(dtype)


def _add_n(model: GraphModel, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
    total = args[0]
    for term in args[1:]:
        total = total + term
    return total


def _binary(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Op:
    return lambda model, node, args: fn(args[0], args[1])


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]) -> Op:
    return lambda model, node, args: fn(args[0])


OPS: dict[str, Op] = {
    "Const": _const,
    "Placeholder": _placeholder,
    "Identity": _unary(lambda x: x),
    "Conv2D": lambda m, n, a: _conv(m, n, a, depthwise=False),
    "_FusedConv2D": lambda m, n, a: _conv(m, n, a, depthwise=False),
    "DepthwiseConv2dNative": lambda m, n, a: _conv(m, n, a, depthwise=True),
    "FusedDepthwiseConv2dNative": lambda m, n, a: _conv(m, n, a, depthwise=True),
    "FusedBatchNorm": _batch_norm,
    "FusedBatchNormV3": _batch_norm,
    "BiasAdd": _binary(torch.add),
    "Add": _binary(torch.add),
    "AddV2": _binary(torch.add),
    "AddN": _add_n,
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "RealDiv": _binary(torch.div),
    "Maximum": _binary(torch.maximum),
    "Minimum": _binary(torch.minimum),
    "Relu": _unary(_ACTIVATIONS["Relu"]),
    "Relu6": _unary(_ACTIVATIONS["Relu6"]),
    "Sigmoid": _unary(torch.sigmoid),
    "Exp": _unary(torch.exp),
    "Reshape": _reshape,
    "Squeeze": _squeeze,
    "ExpandDims": lambda m, n, a: a[0].unsqueeze(int(a[1])),
    "Transpose": lambda m, n, a: a[0].permute(_ints(a[1])),
    "ConcatV2": _concat,
    "Pack": _pack,
    "Unpack": _unpack,
    "Shape": lambda m, n, a: torch.tensor(list(a[0].shape), dtype=torch.int32),
    "StridedSlice": _strided_slice,
    "Slice": _slice,
    "Tile": lambda m, n, a: a[0].repeat(_ints(a[1])),
    "Cast": _cast,
}
