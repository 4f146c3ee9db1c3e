"""ONNX export (dynamic batch, checker, parity) and the backends' agreement."""

import os

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from posetrack.backends import Backend, OrtBackend, TorchBackend, default_providers
from posetrack.compile.cache import save_verified
from posetrack.compile.export import ExportError, export_onnx, parity
from posetrack.errors import PosetrackError
from posetrack.pose import TopDownConfig, TopDownEstimator


def test_export_is_valid_dynamic_and_faithful(tiny_onnx):
    assert tiny_onnx.opset >= 17 and tiny_onnx.max_abs_diff <= 1e-4 and tiny_onnx.batches == (1, 3)
    model = onnx.load(str(tiny_onnx.path))
    onnx.checker.check_model(model, full_check=True)
    batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value  # symbolic batch
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["heatmaps"]


def test_backends_agree_on_other_batch_sizes(tiny_model, tiny_onnx):
    torch_backend, ort_backend = TorchBackend(tiny_model), OrtBackend(tiny_onnx.path, ["CPUExecutionProvider"])
    assert isinstance(torch_backend, Backend) and isinstance(ort_backend, Backend)
    assert parity(torch_backend, ort_backend, (3, 128, 96), batches=(2, 7), seed=5) <= 1e-4


def test_estimators_agree_across_backends(tiny_model, tiny_onnx, rng):
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 90, 200], [120, 30, 220, 230], [250, 100, 330, 260]], np.float32)
    cfg = {"input_size": (96, 128), "flip_test": True}
    a = TopDownEstimator(TorchBackend(tiny_model), config=TopDownConfig(**cfg)).estimate(image, boxes)
    b = TopDownEstimator(OrtBackend(tiny_onnx.path), config=TopDownConfig(**cfg)).estimate(image, boxes)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
    same = np.linalg.norm(a.keypoints - b.keypoints, axis=-1) < 1e-3
    assert same.mean() >= 0.98  # a rare near-tie between two heatmap pixels may resolve differently


class _Noisy(nn.Module):
    def forward(self, x):
        return x + torch.rand_like(x)


def test_export_refuses_a_graph_that_differs(tmp_path):
    with pytest.raises(ExportError, match="differs from PyTorch"):
        export_onnx(_Noisy(), tmp_path / "noisy.onnx", (32, 32), parity_batches=(1,))
    assert list(tmp_path.iterdir()) == []  # nothing a cache could later take for a verified export


def test_a_save_lands_only_once_verified(tiny_onnx, tmp_path):
    proto = onnx.load(str(tiny_onnx.path))

    def interrupted(draft):
        assert draft.is_file()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_verified(proto, tmp_path / "model.onnx", interrupted)
    assert list(tmp_path.iterdir()) == []
    draft = save_verified(proto, tmp_path / "model.onnx", lambda draft: draft.name)
    assert draft == f"model.onnx.{os.getpid()}.part"  # per process: workers exporting at once do not collide
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_unreadable_onnx_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(PosetrackError, match=r"bad\.onnx: ONNX Runtime cannot load it"):
        OrtBackend(bad)


def test_wrong_input_names_are_named(tiny_model):
    with pytest.raises(KeyError, match="do not match"):
        TorchBackend(tiny_model).run({"image": np.zeros((1, 3, 128, 96), np.float32)})


def test_cpu_is_always_the_last_resort():
    assert default_providers()[-1] == "CPUExecutionProvider"
