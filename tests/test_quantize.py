"""INT8 Q/DQ models (both flavours), the TensorRT Q/DQ validator, and FP16 conversion, on a tiny HRNet export."""

from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from posetrack.backends import OrtBackend
from posetrack.compile.calibrate import collect_ranges
from posetrack.compile.fp16 import FP16_QDQ_OPSET, compute_types, convert_fp16
from posetrack.compile.qdq_rules import check_tensorrt_qdq
from posetrack.compile.quantize import ORT_CPU, TENSORRT, activation_scale, calibration_tensors, quantize_qdq


@pytest.fixture(scope="module")
def calib_inputs():
    # smooth images (like real crops) rather than white noise, in the normalised input range
    rng = np.random.default_rng(0)
    base = rng.standard_normal((24, 3, 16, 12)).astype(np.float32)
    return np.repeat(np.repeat(base, 8, axis=2), 8, axis=3)


@pytest.fixture(scope="module")
def model_and_ranges(tiny_onnx, calib_inputs):
    ranges = collect_ranges(tiny_onnx.path, calib_inputs[:16], batch=8, progress=False)
    return onnx.load(str(tiny_onnx.path)), ranges


def _run(model, x, optimize=True):
    return OrtBackend(model.SerializeToString(), ["CPUExecutionProvider"], optimize=optimize).run({"input": x})["heatmaps"]


def _relative_error(out, ref):
    return float(np.abs(out - ref).mean() / np.abs(ref).mean())


@pytest.mark.parametrize("flavour", [ORT_CPU, TENSORRT], ids=lambda f: f.name)
def test_int8_model_tracks_fp32(model_and_ranges, calib_inputs, flavour):
    model, ranges = model_and_ranges
    q = quantize_qdq(model, ranges["max"], flavour)
    onnx.checker.check_model(q, full_check=True)
    x = calib_inputs[16:]
    ref, out = _run(model, x), _run(q, x, optimize=not flavour.fp16_elsewhere)
    assert _relative_error(out, ref) < 0.05  # 8-bit noise, not a broken graph
    assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] > 0.99


def test_tensorrt_flavour_is_int8_with_fp16_elsewhere(model_and_ranges, calib_inputs):
    """Strongly typed TensorRT runs every layer that is not quantized in the ONNX dtype: the TensorRT flavour
    computes in float16 around its Q/DQ (float16 scales need opset 19), with float32 inputs and outputs, and costs
    no more accuracy than INT8 with float32 around it."""
    model, ranges = model_and_ranges
    q = quantize_qdq(model, ranges["max"], TENSORRT)
    fp32_elsewhere = quantize_qdq(model, ranges["max"], replace(TENSORRT, fp16_elsewhere=False))
    assert compute_types(model) == {"float": sum(compute_types(model).values())}
    assert compute_types(q) == {"float16": sum(compute_types(model).values())}
    assert compute_types(fp32_elsewhere) == compute_types(model)
    assert next(o.version for o in q.opset_import if o.domain == "") == FP16_QDQ_OPSET
    scales = [t for t in q.graph.initializer if t.name.endswith("_scale_fp16")]
    assert scales and all(t.data_type == TensorProto.FLOAT16 for t in scales)
    assert [i.type.tensor_type.elem_type for i in (*q.graph.input, *q.graph.output)] == [TensorProto.FLOAT] * 2
    assert check_tensorrt_qdq(q) == []
    x = calib_inputs[16:]
    ref = _run(model, x)
    half, full = _relative_error(_run(q, x, optimize=False), ref), _relative_error(_run(fp32_elsewhere, x), ref)
    assert half < 1.25 * full + 1e-3


def test_ort_flavour_becomes_integer_kernels(model_and_ranges, tmp_path):
    model, ranges = model_and_ranges
    q = quantize_qdq(model, ranges["max"], ORT_CPU)
    relus_before = sum(n.op_type == "Relu" for n in model.graph.node)
    assert sum(n.op_type == "Relu" for n in q.graph.node) < relus_before / 4  # folded into uint8 ranges
    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(q.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(tmp_path / "optimised.onnx")).graph.node]
    convs = sum(n.op_type == "Conv" for n in model.graph.node)
    assert ops.count("QLinearConv") >= convs - 1  # all but the float head conv run on integers
    assert ops.count("QLinearAdd") > 0


def test_tensorrt_flavour_passes_the_validator_and_ort_flavour_does_not(model_and_ranges):
    model, ranges = model_and_ranges
    assert check_tensorrt_qdq(quantize_qdq(model, ranges["max"], TENSORRT)) == []
    problems = " | ".join(map(str, check_tensorrt_qdq(quantize_qdq(model, ranges["max"], ORT_CPU))))
    assert "uint8 quantization is not supported" in problems
    assert "symmetric quantization only" in problems
    assert "int32 bias" in problems


def test_missing_ranges_are_refused(model_and_ranges):
    model, ranges = model_and_ranges
    partial = dict(list(ranges["max"].items())[: len(ranges["max"]) // 2])
    with pytest.raises(KeyError, match="no calibration range"):
        quantize_qdq(model, partial, TENSORRT)


def test_activation_scales():
    assert activation_scale((-2.0, 1.0), signed=True) == (pytest.approx(2 / 127), 0)
    scale, zero = activation_scale((0.0, 5.1), signed=False)
    assert zero == 0 and scale == pytest.approx(5.1 / 255)  # a ReLU output: unsigned range starts at exact zero
    scale, zero = activation_scale((1.0, 3.0), signed=False)  # widened to include 0
    assert zero == 0 and scale == pytest.approx(3 / 255)
    scale, zero = activation_scale((-1.0, 3.0), signed=False)
    assert zero * scale == pytest.approx(1.0, abs=scale / 2)


# ------------------------------------------------------------------- validator on deliberately broken models


def _tiny_qdq(**change):
    """x → Q/DQ → Conv(weights via DQ) → y, TensorRT-valid unless ``change`` breaks one rule."""
    w = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    w_scale = np.abs(w).reshape(4, -1).max(1) / 127
    act_scale = change.get("act_scale", np.array(0.05, np.float32))
    inits = [numpy_helper.from_array(np.array(act_scale, np.float32), "s"),
             numpy_helper.from_array(np.array(change.get("zp", 0), change.get("zp_type", np.int8)), "z"),
             numpy_helper.from_array(np.round(w / w_scale[:, None, None, None]).astype(np.int8), "wq"),
             numpy_helper.from_array(w_scale.astype(np.float32), "ws"),
             numpy_helper.from_array(np.zeros(4, np.int8), "wz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q"),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xdq"], name="dq"),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=change.get("axis", 0), name="wdq"),
             helper.make_node("Conv", ["xdq", "w"], ["y"], name="conv")]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if change.get("shared"):
        nodes.append(helper.make_node("Relu", ["xdq"], ["r"], name="relu"))
        outputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("change, message", [
    ({"zp": 3}, "zero point [3]"),
    ({"zp_type": np.uint8}, "uint8 quantization"),
    ({"axis": 1}, "axis 1"),
    ({"act_scale": np.full(3, 0.05)}, "per-channel"),
    ({"act_scale": np.array(-0.05)}, "non-positive"),
    ({"shared": True}, "feeds 2 consumers"),
])
def test_validator_explains_each_broken_rule(change, message):
    assert check_tensorrt_qdq(_tiny_qdq()) == []
    problems = check_tensorrt_qdq(_tiny_qdq(**change))
    assert problems and any(message in str(p) for p in problems), problems


def test_validator_notices_a_graph_without_int8(tiny_onnx):
    problems = check_tensorrt_qdq(onnx.load(str(tiny_onnx.path)))
    assert [p.node for p in problems] == ["graph"]


# --------------------------------------------------------------------------------------------------- FP16


def test_fp16_model_keeps_float32_io_and_tracks_fp32(tiny_onnx, calib_inputs):
    model = onnx.load(str(tiny_onnx.path))
    half = convert_fp16(model)
    onnx.checker.check_model(half)
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert half.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    conv_weights = {n.input[1] for n in half.graph.node if n.op_type == "Conv"}
    types = {t.name: t.data_type for t in half.graph.initializer}
    assert {types[w] for w in conv_weights} == {TensorProto.FLOAT16}
    ref, out = _run(model, calib_inputs[:4]), _run(half, calib_inputs[:4])
    assert out.dtype == np.float32
    assert np.abs(out - ref).max() < 1e-2 * np.abs(ref).max()


def test_fp16_keeps_box_decoding_in_float32():
    """A detector head's decoding, (cell index + offset) x stride across 256 cells: float16 steps by a quarter
    cell there (1 px); the converted model must decode in float32 and run only its trunk in float16. (ONNX
    Runtime's CPU computes float16 element-wise ops in float32, so the op types show it, not the values.)"""
    cells = 256
    conv = helper.make_node("Conv", ["input", "w"], ["offsets"])
    nodes = [conv, helper.make_node("Relu", ["offsets"], ["relu"]),
             helper.make_node("Gather", ["relu", "channel"], ["offset"], axis=1),
             helper.make_node("Add", ["index", "offset"], ["cell"]),
             helper.make_node("Mul", ["cell", "stride"], ["heatmaps"])]
    inits = [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w"),
             numpy_helper.from_array(np.array(0, np.int64), "channel"),
             numpy_helper.from_array(np.arange(cells, dtype=np.float32).reshape(1, 1, cells), "index"),
             numpy_helper.from_array(np.array(8.0, np.float32), "stride")]
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 1, cells])],
                              [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(0).uniform(0, 1, (1, 1, 1, cells)).astype(np.float32)
    half = convert_fp16(model)
    assert compute_types(half, frozenset({"Conv", "Relu", "Add"})) == {"float16": 2, "float": 1}
    assert np.abs(_run(half, x) - _run(model, x)).max() < 0.05  # pixels: the conversion kept the values


def test_calibration_tensors_cover_every_conv_input(tiny_onnx):
    model = onnx.load(str(tiny_onnx.path))
    names = set(calibration_tensors(model))
    assert {n.input[0] for n in model.graph.node if n.op_type == "Conv"} <= names
