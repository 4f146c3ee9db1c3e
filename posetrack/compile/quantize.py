"""INT8 (Q/DQ) versions of an FP32 ONNX model (FP16: ``compile.fp16``; TensorRT's Q/DQ rules: ``compile.qdq_rules``).

INT8 here is explicit quantization: QuantizeLinear/DequantizeLinear pairs placed in the graph from activation
ranges computed once on calibration data (``compile.calibrate``). One set of ranges gives two flavours:

- ``TENSORRT``: what a strongly typed TensorRT network accepts — symmetric int8 (zero point 0), per-channel
  weights on the output-channel axis, per-tensor activations, Q/DQ on Conv inputs only (TensorRT fuses the rest),
  float biases, one Q/DQ pair per consumer — and FP16 everywhere else: a strongly typed network runs every layer
  that is not quantized in the ONNX file's dtype, so INT8 with FP32 around it would likely lose to the plain FP16
  engine. The graph computes in float16 (float16 scales, opset 19) with float32 inputs and outputs.
- ``ORT_CPU``: what ONNX Runtime's CPU provider turns into fast integer kernels — unsigned (asymmetric)
  activations, signed per-channel weights, int32 biases, and every activation between quantizable ops quantized,
  so each DQ → Conv/Add → Q group becomes one QLinearConv/QLinearAdd. A ReLU after a Conv or Add is folded into
  the unsigned output range (zero point 0 clamps at zero, exactly what the ReLU did).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from posetrack.compile.fp16 import convert_fp16
from posetrack.compile.onnx_graph import GraphIndex, drop_unused_initializers, with_opset

Range = tuple[float, float]


@dataclass(frozen=True)
class QdqFlavour:
    """Where Q/DQ nodes go and which integer types they use.

    Attributes:
        name: short tag used in file names (``trt16``, ``ort``).
        signed_activations: int8 symmetric activations (else uint8 with a zero point).
        quantize_all: Q/DQ on every activation between quantizable ops (else on Conv inputs only).
        int32_bias: quantize Conv biases to int32 (ONNX Runtime's QLinearConv wants them; TensorRT rejects them).
        fold_relu: drop a ReLU that follows a Conv/Add and let its unsigned output range clamp instead.
        pair_per_consumer: a separate Q/DQ pair for every consumer of a tensor.
        fp16_elsewhere: the non-quantized layers (and the Q/DQ scales) in float16 (``convert_fp16`` afterwards).
    """

    name: str
    signed_activations: bool
    quantize_all: bool
    int32_bias: bool
    fold_relu: bool
    pair_per_consumer: bool
    fp16_elsewhere: bool = False


# "trt16": the name is part of the cached file's name, and the FP32-elsewhere files of the earlier "trt" flavour
# must not be taken for these
TENSORRT = QdqFlavour("trt16", signed_activations=True, quantize_all=False, int32_bias=False, fold_relu=False,
                      pair_per_consumer=True, fp16_elsewhere=True)
ORT_CPU = QdqFlavour("ort", signed_activations=False, quantize_all=True, int32_bias=True, fold_relu=True,
                     pair_per_consumer=False)
# The smallest positive float16 (subnormal): a float16 scale below it would round to zero.
_FP16_TINY = float(np.finfo(np.float16).smallest_subnormal)
FLAVOURS = {f.name: f for f in (TENSORRT, ORT_CPU)}

# Ops whose activation outputs calibration records (the candidates for Q/DQ).
CALIBRATED_OPS = frozenset({"Conv", "Relu", "Add", "Resize", "MaxPool", "Concat"})
# Which inputs of an op take quantized data (ORT_CPU flavour): op → input indices (None = all).
_QUANT_INPUTS: dict[str, tuple[int, ...] | None] = {"Conv": (0,), "Add": None, "Resize": (0,), "MaxPool": (0,)}
# Ops whose output values are a subset of their input values: the output keeps the input's Q/DQ parameters
# (ONNX Runtime then runs them directly on the integers).
_VALUE_PRESERVING = frozenset({"Resize", "MaxPool"})


def calibration_tensors(model: onnx.ModelProto) -> list[str]:
    """Names of the float activations calibration must record: the graph inputs and the outputs of the
    ``CALIBRATED_OPS`` nodes, in graph order."""
    names = [i.name for i in model.graph.input]
    names += [n.output[0] for n in model.graph.node if n.op_type in CALIBRATED_OPS]
    return names


class _Graph(GraphIndex):
    """A graph's maps plus where quantized data may flow."""

    def takes_quantized(self, tensor: str) -> bool:
        """All consumers read ``tensor`` at a quantizable input (and it is not a graph output)."""
        uses = self.consumers.get(tensor, [])
        if not uses or tensor in self.outputs:
            return False
        for node, index in uses:
            allowed = _QUANT_INPUTS.get(node.op_type, ())
            if allowed is not None and index not in allowed:
                return False
        return True


QDQ_OPSET = 13  # DequantizeLinear's per-channel ``axis``


def quantize_qdq(model: onnx.ModelProto, ranges: Mapping[str, Range], flavour: QdqFlavour = ORT_CPU) -> onnx.ModelProto:
    """A Q/DQ INT8 copy of an FP32 ``model`` (BatchNorm already folded into the Convs, as the exports are).

    Args:
        model: FP32 ONNX model (raised to opset ``QDQ_OPSET`` where it is older: per-channel Q/DQ needs it).
        ranges: activation tensor name → (min, max) from calibration (``calibration_tensors`` names).
        flavour: ``TENSORRT`` or ``ORT_CPU``.
    Raises:
        KeyError: a tensor that needs a range has none (the calibration belongs to another graph).
    """
    model = with_opset(onnx.ModelProto.FromString(model.SerializeToString()), QDQ_OPSET)
    g = _Graph(model.graph)
    if flavour.quantize_all:
        chosen = {t for t in calibration_tensors(model) if _producer_ok(g, t) and g.takes_quantized(t)}
        if flavour.fold_relu:
            _fold_relus(model.graph, g, chosen)
            g = _Graph(model.graph)
    else:
        chosen = {n.input[0] for n in model.graph.node if n.op_type == "Conv"}
    missing = sorted(t for t in chosen if t not in ranges)
    if missing:
        raise KeyError(f"no calibration range for {len(missing)} tensors, e.g. {missing[:3]}")
    params = _activation_params(g, chosen, ranges, flavour)
    head: list[onnx.NodeProto] = []
    body: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []
    dq_source: dict[str, str] = {}  # DequantizeLinear output → the activation it carries
    for tensor in sorted(chosen & g.inputs):
        head += _insert_qdq(g, tensor, params[tensor], flavour, inits, dq_source)
    for node in list(model.graph.node):
        body.append(node)
        for out in node.output:
            if out in chosen:
                body += _insert_qdq(g, out, params[out], flavour, inits, dq_source)
    for node in model.graph.node:
        if node.op_type == "Conv" and node.input[0] in dq_source and node.input[1] in g.initializers:
            x_scale = params[dq_source[node.input[0]]][0]
            head += _quantize_weights(node, g, x_scale, flavour, inits)
    del model.graph.node[:]
    model.graph.node.extend(head + body)
    model.graph.initializer.extend(inits)
    drop_unused_initializers(model.graph)
    return convert_fp16(model) if flavour.fp16_elsewhere else model


def _producer_ok(g: _Graph, tensor: str) -> bool:
    return tensor in g.inputs or (tensor in g.producer and g.producer[tensor].op_type in CALIBRATED_OPS)


def _fold_relus(graph: onnx.GraphProto, g: _Graph, chosen: set[str]) -> None:
    """Remove each ReLU whose input comes from a Conv/Add used only by it and whose output is quantized."""
    keep = []
    for node in graph.node:
        src = node.input[0] if node.op_type == "Relu" else None
        parent = g.producer.get(src) if src else None
        if (src and parent is not None and parent.op_type in ("Conv", "Add") and node.output[0] in chosen
                and len(g.consumers[src]) == 1 and src not in g.outputs):
            parent.output[0] = node.output[0]
            continue
        keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)


def _activation_params(g: _Graph, chosen: set[str], ranges: Mapping[str, Range],
                       flavour: QdqFlavour) -> dict[str, tuple[float, int]]:
    """(scale, zero point) per quantized activation; value-preserving ops reuse their input's parameters."""
    params: dict[str, tuple[float, int]] = {}
    for tensor in [i for i in g.inputs if i in chosen] + [o for n in g.graph.node for o in n.output if o in chosen]:
        parent = g.producer.get(tensor)
        if parent is not None and parent.op_type in _VALUE_PRESERVING and parent.input[0] in params:
            params[tensor] = params[parent.input[0]]
        else:
            scale, zero = activation_scale(ranges[tensor], flavour.signed_activations)
            params[tensor] = (_representable(scale, flavour), zero)
    return params


def _representable(scale, flavour: QdqFlavour):
    """``scale`` (a float or an array) as the graph will store it: rounded to float16 (and kept above zero) in an
    ``fp16_elsewhere`` flavour, so the integers computed from it are the ones the engine dequantizes."""
    if not flavour.fp16_elsewhere:
        return scale
    return np.maximum(scale, _FP16_TINY).astype(np.float16).astype(np.float32)


def activation_scale(value_range: Range, signed: bool) -> tuple[float, int]:
    """(scale, zero point) of a per-tensor activation range: symmetric int8 (±amax ↦ ±127) or asymmetric
    uint8 (the range widened to include 0, so zero is exact)."""
    lo, hi = float(value_range[0]), float(value_range[1])
    if signed:
        return max(abs(lo), abs(hi), 1e-8) / 127.0, 0
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    return scale, int(np.clip(round(-lo / scale), 0, 255))


def _insert_qdq(g: _Graph, tensor: str, param: tuple[float, int], flavour: QdqFlavour,
                inits: list[TensorProto], dq_source: dict[str, str]) -> list[onnx.NodeProto]:
    """Q → DQ after ``tensor``; its consumers are rewired to the DQ output (one pair each if asked)."""
    scale, zero = param
    zp_type = np.int8 if flavour.signed_activations else np.uint8
    inits += [numpy_helper.from_array(np.array(scale, np.float32), f"{tensor}_scale"),
              numpy_helper.from_array(np.array(zero, zp_type), f"{tensor}_zero_point")]
    uses = list(g.consumers[tensor])
    groups = [[u] for u in uses] if flavour.pair_per_consumer else [uses]
    nodes = []
    for k, group in enumerate(groups):
        tag = f"{tensor}_{k}" if flavour.pair_per_consumer else tensor
        q_args = [tensor, f"{tensor}_scale", f"{tensor}_zero_point"]
        nodes += [helper.make_node("QuantizeLinear", q_args, [f"{tag}_q"], name=f"{tag}_QuantizeLinear"),
                  helper.make_node("DequantizeLinear", [f"{tag}_q", *q_args[1:]], [f"{tag}_dq"],
                                   name=f"{tag}_DequantizeLinear")]
        for node, index in group:
            node.input[index] = f"{tag}_dq"
        dq_source[f"{tag}_dq"] = tensor
    return nodes


def _quantize_weights(conv: onnx.NodeProto, g: _Graph, x_scale: float, flavour: QdqFlavour,
                      inits: list[TensorProto]) -> list[onnx.NodeProto]:
    """Per-output-channel symmetric int8 weights (±127) behind a DequantizeLinear; int32 bias if asked."""
    name = conv.input[1]
    w = numpy_helper.to_array(g.initializers[name]).astype(np.float32)
    w_scale = _representable(np.maximum(np.abs(w.reshape(len(w), -1)).max(1), 1e-8) / 127.0, flavour)
    w_q = np.clip(np.round(w / w_scale.reshape(-1, *[1] * (w.ndim - 1))), -127, 127).astype(np.int8)
    tag = conv.name or name
    inits += [numpy_helper.from_array(w_q, f"{tag}_w_int8"),
              numpy_helper.from_array(w_scale.astype(np.float32), f"{tag}_w_scale"),
              numpy_helper.from_array(np.zeros(len(w), np.int8), f"{tag}_w_zero_point")]
    nodes = [helper.make_node("DequantizeLinear", [f"{tag}_w_int8", f"{tag}_w_scale", f"{tag}_w_zero_point"],
                              [f"{tag}_w_dq"], axis=0, name=f"{tag}_w_DequantizeLinear")]
    conv.input[1] = f"{tag}_w_dq"
    if flavour.int32_bias and len(conv.input) > 2 and conv.input[2] in g.initializers:
        b = numpy_helper.to_array(g.initializers[conv.input[2]]).astype(np.float64)
        b_scale = (x_scale * w_scale).astype(np.float32)
        inits += [numpy_helper.from_array(np.round(b / b_scale).astype(np.int32), f"{tag}_b_int32"),
                  numpy_helper.from_array(b_scale, f"{tag}_b_scale"),
                  numpy_helper.from_array(np.zeros(len(b), np.int32), f"{tag}_b_zero_point")]
        nodes.append(helper.make_node("DequantizeLinear", [f"{tag}_b_int32", f"{tag}_b_scale", f"{tag}_b_zero_point"],
                                      [f"{tag}_b_dq"], axis=0, name=f"{tag}_b_DequantizeLinear"))
        conv.input[2] = f"{tag}_b_dq"
    return nodes


