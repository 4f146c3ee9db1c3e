"""INT8 (Q/DQ) and FP16 versions of an FP32 ONNX model, and a checker of TensorRT's Q/DQ rules.

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

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx
import onnx.version_converter
from onnx import TensorProto, helper, numpy_helper

Range = tuple[float, float]
_QDQ = ("QuantizeLinear", "DequantizeLinear")


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
# Opset 19 is the first whose QuantizeLinear / DequantizeLinear take float16 scales.
FP16_QDQ_OPSET = 19
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


class _Graph:
    """Producer / consumer maps of a graph (rebuilt after each edit)."""

    def __init__(self, graph: onnx.GraphProto):
        self.graph = graph
        self.producer = {o: n for n in graph.node for o in n.output}
        self.consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
        for n in graph.node:
            for i, name in enumerate(n.input):
                self.consumers[name].append((n, i))
        self.outputs = {o.name for o in graph.output}
        self.inputs = {i.name for i in graph.input}
        self.initializers = {t.name: t for t in graph.initializer}

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


def quantize_qdq(model: onnx.ModelProto, ranges: Mapping[str, Range], flavour: QdqFlavour = ORT_CPU) -> onnx.ModelProto:
    """A Q/DQ INT8 copy of an FP32 ``model`` (BatchNorm already folded into the Convs, as the exports are).

    Args:
        model: FP32 ONNX model (opset ≥ 13).
        ranges: activation tensor name → (min, max) from calibration (``calibration_tensors`` names).
        flavour: ``TENSORRT`` or ``ORT_CPU``.
    Raises:
        KeyError: a tensor that needs a range has none (the calibration belongs to another graph).
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
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
    _drop_unused_initializers(model.graph)
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


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


# --------------------------------------------------------------------------------------------------- FP16

# Ops run in float16; anything else (box decoding, casts, comparisons) stays float32 behind Cast nodes. Q/DQ take
# float16 data and scales (a QuantizeLinear's int8 output is not a float, so it is left alone).
FP16_OPS = frozenset({"Conv", "Relu", "Add", "Resize", "MaxPool", "Concat", "Sigmoid", "Mul", "BatchNormalization",
                      *_QDQ})
# Inputs that must stay float32 whatever the node's precision (Resize's roi and scales).
_FP32_INPUTS = {"Resize": (1, 2)}


def convert_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` computing ``FP16_OPS`` in float16 with float16 weights; graph inputs and outputs stay
    float32 (Casts at the boundaries), so callers and TensorRT bindings do not change. A Q/DQ model gets float16
    scales and is raised to opset ``FP16_QDQ_OPSET``."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    if any(n.op_type in _QDQ for n in model.graph.node) and _opset(model) < FP16_QDQ_OPSET:
        model = onnx.version_converter.convert_version(model, FP16_QDQ_OPSET)
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    floats = {v.name for v in [*graph.input, *graph.value_info, *graph.output]
              if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    floats |= {t.name for t in graph.initializer if t.data_type == TensorProto.FLOAT}
    inits = {t.name: t for t in graph.initializer}
    half = {n.output[0] for n in graph.node if n.op_type in FP16_OPS}  # tensors produced in float16
    casts: dict[tuple[str, int], str] = {}  # (tensor, to type) → cast output
    nodes: list[onnx.NodeProto] = []
    new_inits: list[TensorProto] = []

    def as_type(name: str, to: int) -> str:
        if (name, to) not in casts:
            if name in inits and to == TensorProto.FLOAT16:
                arr = numpy_helper.to_array(inits[name]).astype(np.float16)
                new_inits.append(numpy_helper.from_array(arr, f"{name}_fp16"))
                casts[name, to] = f"{name}_fp16"
            else:
                tag = "fp16" if to == TensorProto.FLOAT16 else "fp32"
                nodes.append(helper.make_node("Cast", [name], [f"{name}_{tag}"], to=to, name=f"{name}_Cast_{tag}"))
                casts[name, to] = f"{name}_{tag}"
        return casts[name, to]

    for node in list(graph.node):
        node_half = node.op_type in FP16_OPS
        keep32 = _FP32_INPUTS.get(node.op_type, ())
        for i, name in enumerate(node.input):
            if name not in floats or not name:
                continue
            want_half = node_half and i not in keep32
            if want_half != (name in half):
                node.input[i] = as_type(name, TensorProto.FLOAT16 if want_half else TensorProto.FLOAT)
        nodes.append(node)
    for out in graph.output:  # outputs produced in float16 are cast back under their own name
        if out.name in half:
            inner = f"{out.name}_fp16_out"
            for node in nodes:
                node.output[:] = [inner if o == out.name else o for o in node.output]
                node.input[:] = [inner if i == out.name else i for i in node.input]
            nodes.append(helper.make_node("Cast", [inner], [out.name], to=TensorProto.FLOAT, name=f"{out.name}_Cast_out"))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(new_inits)
    del graph.value_info[:]  # stale element types; ONNX Runtime infers them again
    _drop_unused_initializers(graph)
    return model


def _opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def compute_types(model: onnx.ModelProto, ops: frozenset[str] = frozenset({"Conv", "Add", "Relu", "Resize"})
                  ) -> dict[str, int]:
    """How many of ``ops`` compute in each float type (``float32``, ``float16``), from their first input: what a
    strongly typed TensorRT network would run them in."""
    inferred = onnx.shape_inference.infer_shapes(model).graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*inferred.input, *inferred.value_info, *inferred.output]}
    types |= {t.name: t.data_type for t in inferred.initializer}
    counts: dict[str, int] = defaultdict(int)
    for node in inferred.node:
        if node.op_type in ops and types.get(node.input[0]) in (TensorProto.FLOAT, TensorProto.FLOAT16):
            counts[TensorProto.DataType.Name(types[node.input[0]]).lower()] += 1
    return dict(counts)


# ------------------------------------------------------------------------------------------- validator


@dataclass(frozen=True)
class QdqViolation:
    """One place where a Q/DQ model breaks TensorRT's explicit-quantization rules."""

    node: str
    problem: str

    def __str__(self) -> str:
        return f"{self.node}: {self.problem}"


_TRT_QTYPES = {TensorProto.INT8: "int8", TensorProto.FLOAT8E4M3FN: "fp8"}


def check_tensorrt_qdq(model: onnx.ModelProto) -> list[QdqViolation]:
    """Every violation of TensorRT's Q/DQ rules in ``model`` (empty: TensorRT can build it as is).

    Rules: scale a positive constant; zero point 0 (TensorRT quantizes symmetrically) of type int8 (no uint8,
    no int32: a quantized int32 bias is rejected — keep biases float); activations (non-constant inputs) per-tensor
    (scalar scale); weights per-tensor or per-channel along the output-channel axis 0 with one scale per channel;
    each Q/DQ pair feeds exactly one consumer; at least one Conv reads quantized data (else nothing is INT8).
    """
    g = _Graph(model.graph)
    out: list[QdqViolation] = []
    for node in model.graph.node:
        if node.op_type not in _QDQ:
            continue
        name = node.name or node.output[0]
        scale = _constant(g, node.input[1])
        zero = _constant(g, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        data_is_const = node.input[0] in g.initializers
        if scale is None:
            out.append(QdqViolation(name, "scale is not a constant initializer (TensorRT needs build-time scales)"))
        elif not (scale > 0).all():
            out.append(QdqViolation(name, f"scale has non-positive values (min {scale.min():g})"))
        if zero is not None:
            zp_type = g.initializers[node.input[2]].data_type
            if zp_type not in _TRT_QTYPES:
                kind = TensorProto.DataType.Name(zp_type).lower()
                why = "quantized int32 bias: keep biases float" if zp_type == TensorProto.INT32 else "use int8"
                out.append(QdqViolation(name, f"{kind} quantization is not supported by TensorRT ({why})"))
            if np.any(zero != 0):
                out.append(QdqViolation(name, f"zero point {zero.ravel()[:4].tolist()} ≠ 0: TensorRT supports "
                                              "symmetric quantization only"))
        if scale is not None and scale.ndim > 0 and scale.size > 1:
            out += _per_channel_problems(node, name, g, scale, data_is_const)
        if node.op_type == "DequantizeLinear" and not data_is_const and len(g.consumers[node.output[0]]) > 1:
            out.append(QdqViolation(name, f"feeds {len(g.consumers[node.output[0]])} consumers; TensorRT wants one "
                                          "Q/DQ pair per consumer to place its fusions"))
    if not any(n.op_type == "Conv" and g.producer.get(n.input[0], onnx.NodeProto()).op_type == "DequantizeLinear"
               for n in model.graph.node):
        out.append(QdqViolation("graph", "no Conv reads quantized data: the engine would not use INT8"))
    return out


def _constant(g: _Graph, name: str) -> np.ndarray | None:
    return numpy_helper.to_array(g.initializers[name]) if name in g.initializers else None


def _per_channel_problems(node: onnx.NodeProto, name: str, g: _Graph, scale: np.ndarray,
                          data_is_const: bool) -> list[QdqViolation]:
    if not data_is_const:
        return [QdqViolation(name, f"activation quantized per-channel ({scale.size} scales); TensorRT wants one "
                                   "scale per activation tensor")]
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    weight = g.initializers[node.input[0]]
    problems = []
    if axis != 0:
        problems.append(QdqViolation(name, f"weights quantized along axis {axis}; TensorRT wants the output-channel "
                                           "axis 0"))
    if weight.dims and scale.size != weight.dims[0]:
        problems.append(QdqViolation(name, f"{scale.size} scales for {weight.dims[0]} output channels"))
    return problems
