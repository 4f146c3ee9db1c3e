"""TensorRT's explicit-quantization rules, checked on a Q/DQ ONNX model: every place a strongly typed TensorRT
network would refuse, or would not run in INT8, explained."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from posetrack.compile.onnx_graph import QDQ_OPS, GraphIndex


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
    g = GraphIndex(model.graph)
    out: list[QdqViolation] = []
    for node in model.graph.node:
        if node.op_type not in QDQ_OPS:
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


def _constant(g: GraphIndex, name: str) -> np.ndarray | None:
    return numpy_helper.to_array(g.initializers[name]) if name in g.initializers else None


def _per_channel_problems(node: onnx.NodeProto, name: str, g: GraphIndex, scale: np.ndarray,
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
