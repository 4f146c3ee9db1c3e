"""Which backend runs a network (``backends.select``): the capability table's choice for each request and machine,
the refusals in one line, device names."""

import re

import pytest

from posetrack.backends.select import Machine, parse_device, resolve_backend
from posetrack.errors import PosetrackError

M = Machine

@pytest.mark.parametrize("requested, precision, device, machine, expected", [
    ("auto", "fp32", None, M(0), ("ort", "cpu", "no CUDA GPU")),
    ("auto", "fp32", None, M(1), ("torch", "cuda:0", "TensorRT not installed")),
    ("auto", "fp32", None, M(1, True, True), ("trt", "cuda:0", "TensorRT installed")),
    ("auto", "fp32", "cpu", M(1, True, True), ("ort", "cpu", "--device cpu")),
    ("auto", "fp32", "cuda:1", M(2, False, True), ("torch", "cuda:1", "TensorRT not installed")),
    ("auto", "fp32", "1", M(2), ("torch", "cuda:1", "TensorRT not installed")),  # Ultralytics' bare index
    ("auto", "int8", None, M(1, False, True), ("ort", "cuda:0", "TensorRT not installed; PyTorch runs no int8 on cuda")),
    ("auto", "bf16", None, M(1, True, True), ("torch", "cuda:0", "TensorRT runs no bf16 on cuda")),
    ("auto", "bf16", "cpu", M(0), ("torch", "cpu", "ONNX Runtime runs no bf16 on cpu")),
    ("auto", "int8", None, M(0), ("ort", "cpu", "no CUDA GPU")),
    ("torch", "fp32", "cpu", M(1), ("torch", "cpu", "as asked")),
    ("ort", "fp32", None, M(1, False, True), ("ort", "cuda:0", "as asked")),
    ("ort", "fp32", None, M(1), ("ort", "cpu", "as asked")),  # no CUDA provider: its CPU, since no device was named
])
def test_backend_choice(requested, precision, device, machine, expected):
    c = resolve_backend(requested, precision, device, machine)
    assert (c.kind, c.device, c.reason) == expected

def test_an_onnx_only_model_on_a_gpu_without_its_runtime_falls_back_to_the_cpu():
    c = resolve_backend("auto", "fp32", None, M(1), allowed=("trt", "ort"))
    assert (c.kind, c.device) == ("ort", "cpu") and "no GPU runtime" in c.reason
    c = resolve_backend("torch", "fp32", "cpu", M(0), allowed=("trt", "ort"))  # --backend torch, an ONNX detector
    assert (c.kind, c.device, c.reason) == ("ort", "cpu", "an ONNX network, which PyTorch cannot run")

@pytest.mark.parametrize("requested, precision, device, machine, fragment", [
    ("auto", "fp32", "cuda", M(0), "--device cuda: no such CUDA device"),
    ("auto", "fp32", "cuda:2", M(2), "no such CUDA device"),
    ("auto", "fp32", "tpu", M(0), "use cpu, cuda, cuda:N or N"),
    ("trt", "fp32", None, M(0), "--backend trt: cannot run on cpu"),
    ("torch", "int8", "cpu", M(0), "--backend torch runs fp32, bf16 on cpu; --backend ort runs it here"),
    ("auto", "int8", None, M(1), "--precision int8 on cuda:0: needs TensorRT or ONNX Runtime's CUDA provider"),
    ("cuda", "fp32", None, M(0), "unknown backend 'cuda'"),
    ("auto", "int4", None, M(0), "unknown precision 'int4'"),
])
def test_backend_choice_refusals(requested, precision, device, machine, fragment):
    with pytest.raises(PosetrackError, match=re.escape(fragment)):
        resolve_backend(requested, precision, device, machine)

@pytest.mark.parametrize("device, gpus, expected", [
    (None, 0, "cpu"), (None, 2, "cuda:0"), ("cpu", 2, "cpu"), ("cuda", 1, "cuda:0"), ("cuda:1", 2, "cuda:1"),
    ("0", 1, "cuda:0"),
])
def test_device_names(device, gpus, expected):
    assert parse_device(device, gpus) == expected

@pytest.mark.parametrize("device, fragment", [
    ("cuda:x", "use cpu, cuda"), ("cuda:", "no such CUDA device"), ("gpu", "use cpu"),
    ("cuda:-1", "use cpu, cuda"), ("cuda", "no such CUDA device"),
])
def test_device_refusals(device, fragment):
    with pytest.raises(PosetrackError, match=fragment):
        parse_device(device, 0)
