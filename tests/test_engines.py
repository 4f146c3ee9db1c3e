"""TensorRT engine logic that needs no GPU: profiles, cache keys and names, staleness, binding plans against a fake
engine; plus GPU tests that run only where CUDA and TensorRT exist."""

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch

from posetrack.backends.trt_backend import (
    IoTensor,
    bind_and_enqueue,
    binding_plan,
    engine_max_batch,
    output_shapes,
)
from posetrack.compile.tensorrt import (
    OPT_BATCH,
    EngineError,
    EngineSpec,
    Gpu,
    ShapeProfile,
    onnx_profile,
    stale_reason,
)
from posetrack.errors import PosetrackError

H100 = Gpu("NVIDIA H100 80GB HBM3", (9, 0))
REAL = Path(__file__).resolve().parents[2] / "shared" / "real"


def _spec(**change) -> EngineSpec:
    spec = EngineSpec("pose_demo_128x96", "abc123", "int8", ShapeProfile.for_batch("input", (3, 128, 96), 32), H100,
                      "10.16.1")
    return replace(spec, **change)


def test_profile_for_a_dynamic_batch(tiny_onnx):
    p = onnx_profile(tiny_onnx.path, max_batch=16)
    assert (p.input_name, p.min, p.opt, p.max) == ("input", (1, 3, 128, 96), (16, 3, 128, 96), (16, 3, 128, 96))
    assert onnx_profile(tiny_onnx.path, max_batch=64).opt[0] == OPT_BATCH  # tuned for a frame's people, not 64
    assert p.admits((5, 3, 128, 96)) and not p.admits((17, 3, 128, 96)) and not p.admits((5, 3, 64, 96))
    assert ShapeProfile.for_batch("x", (3, 4, 4), max_batch=4).opt == (4, 3, 4, 4)


def test_a_static_export_is_profiled_as_it_is(tiny_onnx, tmp_path):
    """MMPose's SDK detectors and most YOLOX / Ultralytics exports fix the batch at 1: the engine takes that shape
    (no profile of 1..32, which TensorRT would refuse for it), and its file says batch 1."""
    model = onnx.load(str(tiny_onnx.path))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(model, tmp_path / "fixed.onnx")
    p = onnx_profile(tmp_path / "fixed.onnx", max_batch=32)
    assert p.min == p.opt == p.max == (1, 3, 128, 96) and not p.dynamic
    assert onnx_profile(tiny_onnx.path).dynamic
    assert _spec(profile=p).filename.startswith("pose_demo_128x96-int8-b1-1-")


def test_a_dynamic_size_takes_the_records_input_size(tiny_onnx, tmp_path):
    model = onnx.load(str(tiny_onnx.path))
    for d in model.graph.input[0].type.tensor_type.shape.dim[2:]:
        d.dim_param = "side"
    onnx.save(model, tmp_path / "any-size.onnx")
    with pytest.raises(EngineError, match="dynamic height and width"):
        onnx_profile(tmp_path / "any-size.onnx")
    p = onnx_profile(tmp_path / "any-size.onnx", max_batch=4, input_size=(192, 256))
    assert p.min == (1, 3, 256, 192) and p.max == (4, 3, 256, 192)


def test_the_real_static_yolox_export_gets_its_own_shape():
    yolox = REAL / "models" / "yolox_nano_coco.onnx"
    if not yolox.is_file():
        pytest.skip("../shared/real is absent")
    p = onnx_profile(yolox)
    assert (p.input_name, p.min, p.max) == ("images", (1, 3, 416, 416), (1, 3, 416, 416))


def test_a_static_engine_takes_its_own_batch(fake):
    engine, _ = fake
    assert engine_max_batch(engine, binding_plan(engine)) == 8  # dynamic: the profile's largest
    engine.tensors["input"] = ("INPUT", "FLOAT", (1, 3, 8, 6))
    assert engine_max_batch(engine, binding_plan(engine)) == 1  # static: its own, no profile asked


def test_engine_names_and_keys_change_with_everything_the_plan_depends_on():
    base = _spec()
    assert base.filename.startswith("pose_demo_128x96-int8-b1-32-nvidia-h100-80gb-hbm3-sm90-trt10.16.1-")
    variants = [_spec(onnx_digest="def456"), _spec(precision="fp16"), _spec(tensorrt_version="11.4.0"),
                _spec(gpu=Gpu("NVIDIA L4", (8, 9))), _spec(profile=ShapeProfile.for_batch("input", (3, 128, 96), 64)),
                _spec(workspace=1 << 30)]
    assert len({base.key, *(v.key for v in variants)}) == len(variants) + 1
    assert len({base.filename, *(v.filename for v in variants)}) == len(variants) + 1


def test_stale_or_foreign_engines_are_detected(tmp_path):
    spec = _spec()
    plan = tmp_path / spec.filename
    assert stale_reason(plan, spec) == "not built yet"
    plan.write_bytes(b"plan")
    assert "no readable metadata" in stale_reason(plan, spec)
    plan.with_suffix(".json").write_text(json.dumps(spec.metadata()))
    assert stale_reason(plan, spec) is None
    assert "tensorrt_version differs" in stale_reason(plan, _spec(tensorrt_version="11.4.0"))
    assert "gpu differs" in stale_reason(plan, _spec(gpu=Gpu("NVIDIA L4", (8, 9))))
    assert "onnx_digest differs" in stale_reason(plan, _spec(onnx_digest="new"))


# ----------------------------------------------------------------------------- binding against a fake engine


class FakeEngine:
    """The ICudaEngine / IExecutionContext methods the backend uses, recording calls."""

    def __init__(self, max_batch=8):
        self.tensors = {"input": ("INPUT", "FLOAT", (-1, 3, 8, 6)), "heatmaps": ("OUTPUT", "FLOAT", (-1, 17, 2, 2))}
        self.max_batch, self.calls, self.shapes = max_batch, [], {}
        self.num_io_tensors = len(self.tensors)

    def get_tensor_name(self, i):
        return list(self.tensors)[i]

    def get_tensor_mode(self, name):
        return SimpleNamespace(name=self.tensors[name][0])

    def get_tensor_dtype(self, name):
        return SimpleNamespace(name=self.tensors[name][1])

    def get_tensor_shape(self, name):
        return self.tensors[name][2]

    # context side
    def set_input_shape(self, name, shape):
        self.calls.append(("shape", name, shape))
        self.shapes[name] = shape
        return shape[0] <= self.max_batch

    def get_tensor_shape_in_context(self, name):
        return (self.shapes["input"][0], *self.tensors[name][2][1:])

    def set_tensor_address(self, name, address):
        self.calls.append(("address", name, address))
        return address != 0

    def execute_async_v3(self, stream):
        self.calls.append(("execute", stream))
        return True

    def get_tensor_profile_shape(self, name, profile):
        shape = self.tensors[name][2][1:]
        return (1, *shape), (self.max_batch, *shape), (self.max_batch, *shape)


@pytest.fixture
def fake():
    engine = FakeEngine()
    context = SimpleNamespace(set_input_shape=engine.set_input_shape, get_tensor_shape=engine.get_tensor_shape_in_context,
                              set_tensor_address=engine.set_tensor_address, execute_async_v3=engine.execute_async_v3)
    return engine, context


def test_binding_plan_and_call_order(fake):
    engine, context = fake
    plan = binding_plan(engine)
    assert plan == [IoTensor("input", True, "float32", (-1, 3, 8, 6)), IoTensor("heatmaps", False, "float32", (-1, 17, 2, 2))]
    shapes = output_shapes(context, plan, {"input": (4, 3, 8, 6)})
    assert shapes == {"heatmaps": (4, 17, 2, 2)}
    tensors = {"input": torch.zeros(4, 3, 8, 6), "heatmaps": torch.empty(shapes["heatmaps"])}
    bind_and_enqueue(context, plan, tensors, stream_handle=77)
    assert engine.calls == [("shape", "input", (4, 3, 8, 6)),
                            ("address", "input", tensors["input"].data_ptr()),
                            ("address", "heatmaps", tensors["heatmaps"].data_ptr()),
                            ("execute", 77)]


def test_binding_refuses_what_tensorrt_would_fail_on(fake):
    engine, context = fake
    plan = binding_plan(engine)
    with pytest.raises(PosetrackError, match="outside the engine's optimisation profile"):
        output_shapes(context, plan, {"input": (9, 3, 8, 6)})
    with pytest.raises(PosetrackError, match="not given"):
        output_shapes(context, plan, {})
    good = {"input": torch.zeros(2, 3, 8, 6), "heatmaps": torch.empty(2, 17, 2, 2)}
    with pytest.raises(PosetrackError, match="contiguous float32"):
        bind_and_enqueue(context, plan, {**good, "input": torch.zeros(2, 3, 8, 6, dtype=torch.float16)}, 1)
    with pytest.raises(PosetrackError, match="contiguous float32"):
        bind_and_enqueue(context, plan, {**good, "input": torch.zeros(2, 3, 6, 8).transpose(2, 3)}, 1)
    context.execute_async_v3 = lambda stream: False
    with pytest.raises(PosetrackError, match="failed to enqueue"):
        bind_and_enqueue(context, plan, good, 1)


def test_unsupported_io_type_is_named(fake):
    engine, _ = fake
    engine.tensors["input"] = ("INPUT", "FP8", (-1, 3, 8, 6))
    with pytest.raises(PosetrackError, match="input: unsupported I/O type FP8"):
        binding_plan(engine)


# ------------------------------------------------------------------------------------ GPU: real engines


@pytest.fixture
def tensorrt():
    """TensorRT, or the test skipped before any other fixture exports a model for it."""
    return pytest.importorskip("tensorrt", reason="TensorRT is not installed")


@pytest.mark.gpu
@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-3), ("fp16", 2e-2), ("int8", 0.15)])
def test_engine_matches_onnx_runtime(tensorrt, tiny_onnx, tmp_path, monkeypatch, precision, tolerance):
    from posetrack.backends import OrtBackend
    from posetrack.compile.calibrate import collect_ranges
    from posetrack.compile.fp16 import convert_fp16
    from posetrack.compile.quantize import TENSORRT, quantize_qdq
    from posetrack.compile.tensorrt import tensorrt_backend

    monkeypatch.setenv("POSETRACK_ENGINES", str(tmp_path))
    x = np.random.default_rng(0).standard_normal((3, 3, 128, 96)).astype(np.float32)
    fp32 = onnx.load(str(tiny_onnx.path))
    path = tmp_path / f"tiny-{precision}.onnx"
    if precision == "fp16":
        onnx.save(convert_fp16(fp32), path)
    elif precision == "int8":
        ranges = collect_ranges(tiny_onnx.path, x, progress=False)["max"]
        onnx.save(quantize_qdq(fp32, ranges, TENSORRT), path)
    else:
        onnx.save(fp32, path)
    backend = tensorrt_backend(path, "tiny", precision, max_batch=8)
    ref = OrtBackend(tiny_onnx.path, ["CPUExecutionProvider"]).run({"input": x})["heatmaps"]
    out = backend.run({"input": x})["heatmaps"]
    assert np.abs(out - ref).max() < tolerance * np.abs(ref).max()
    assert tensorrt_backend(path, "tiny", precision, max_batch=8).name == backend.name  # cached plan reused
