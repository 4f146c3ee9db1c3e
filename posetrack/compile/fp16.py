"""FP16 version of an FP32 ONNX model: the compute ops in float16 with float16 weights, float32 at the graph's
inputs and outputs; and how many ops of a model compute in each float type."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from posetrack.compile.onnx_graph import QDQ_OPS, drop_unused_initializers, with_opset

FP16_QDQ_OPSET = 19  # QuantizeLinear / DequantizeLinear take float16 scales from opset 19

# Ops with weights always run in float16; Q/DQ take float16 data and scales (a QuantizeLinear's int8 output is not
# a float, so it is left alone). Element-wise ops run in float16 when every input they compute from is float16
# (the trunk); fed by anything else they stay float32 (a detector's box decoding, cell index + offset times the
# stride: float16 steps by a whole pixel above 1024). Other ops (gathers, casts, comparisons) stay float32.
FP16_WEIGHTED = frozenset({"Conv", "BatchNormalization", *QDQ_OPS})
FP16_FOLLOWING = frozenset({"Relu", "Add", "Resize", "MaxPool", "Concat", "Sigmoid", "Mul"})
# Inputs that must stay float32 whatever the node's precision (Resize's roi and scales).
_FP32_INPUTS = {"Resize": (1, 2)}


def convert_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` computing its trunk in float16 (``FP16_WEIGHTED``, ``FP16_FOLLOWING``) with float16
    weights; graph inputs and outputs stay float32 (Casts at the boundaries), so callers and TensorRT bindings do
    not change. A Q/DQ model gets float16 scales and is raised to opset ``FP16_QDQ_OPSET``."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    if any(n.op_type in QDQ_OPS for n in model.graph.node):
        model = with_opset(model, FP16_QDQ_OPSET)
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    floats = {v.name for v in [*graph.input, *graph.value_info, *graph.output]
              if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    floats |= {t.name for t in graph.initializer if t.data_type == TensorProto.FLOAT}
    inits = {t.name: t for t in graph.initializer}
    half = _half_outputs(graph, floats, set(inits))  # tensors produced in float16
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
        node_half = node.output[0] in half
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
    drop_unused_initializers(graph)
    return model


def _half_outputs(graph: onnx.GraphProto, floats: set[str], constants: set[str]) -> set[str]:
    """The first outputs of the nodes that compute in float16 (see ``FP16_WEIGHTED`` / ``FP16_FOLLOWING``), in
    the graph's topological order so that an element-wise op knows its inputs' types."""
    half: set[str] = set()
    for node in graph.node:
        keep32 = _FP32_INPUTS.get(node.op_type, ())
        computed = [name for i, name in enumerate(node.input)
                    if name in floats and name not in constants and i not in keep32]
        if node.op_type in FP16_WEIGHTED or (node.op_type in FP16_FOLLOWING and computed
                                             and all(name in half for name in computed)):
            half.add(node.output[0])
    return half


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
