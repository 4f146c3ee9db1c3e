"""Official and MMPose checkpoint formats load strictly and identically; bad files get one clear error."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import tiny_extra

from posetrack.errors import CheckpointError
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.hrnet import HRNet


def _fresh() -> HRNet:
    return HRNet.from_official_config(tiny_extra()).eval()


def _formats(sd: dict) -> dict:
    no_nbt = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    head = ("final_layer.weight", "final_layer.bias")
    backbone = {f"backbone.{k}": v for k, v in sd.items() if k not in head}
    formats = {
        "official": sd,
        "official_without_num_batches_tracked": no_nbt,
        "dataparallel": {f"module.{k}": v for k, v in sd.items()},
        "official_resume": {"epoch": 140, "perf": 0.74, "model": "pose_hrnet",
                            "state_dict": {f"module.{k}": v for k, v in sd.items()},
                            "best_state_dict": sd, "optimizer": {"state": {}, "param_groups": []}},
        "mmpose0": {"meta": {"mmpose_version": "0.29.0", "epoch": 210},
                    "state_dict": {**backbone, **{f"keypoint_head.{k}": sd[k] for k in head}}},
        "mmpose1": {"meta": {"dataset_meta": {"sigmas": np.linspace(0.025, 0.089, 17, dtype=np.float32),
                                              "dataset_name": "coco"}, "mmengine_version": "0.10.4"},
                    "state_dict": {**backbone, **{f"head.{k}": sd[k] for k in head},
                                   "data_preprocessor.mean": torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1),
                                   "data_preprocessor.std": torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)}},
        "posetrack_resume": {"model": sd, "optimiser": {"state": {}, "param_groups": []}, "step": 12,
                             "history": {"loss": [0.1], "val": [], "seconds": 1.0}},
    }
    assert list(formats) == FORMATS
    return formats


FORMATS = ["official", "official_without_num_batches_tracked", "dataparallel", "official_resume", "mmpose0", "mmpose1",
           "posetrack_resume"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_identically(fmt, tiny_model, tmp_path):
    path = tmp_path / f"{fmt}.pth"
    torch.save(_formats(tiny_model.state_dict())[fmt], path)
    model = load_checkpoint(_fresh(), path)
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        assert torch.equal(model(x), tiny_model(x))


def _error(tmp_path, obj_or_bytes, model=None) -> str:
    path = tmp_path / "bad.pth"
    if isinstance(obj_or_bytes, bytes):
        path.write_bytes(obj_or_bytes)
    else:
        torch.save(obj_or_bytes, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(model or _fresh(), path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_wrong_architecture_names_mismatches(tmp_path):
    from posetrack.models.hrnet import hrnet

    msg = _error(tmp_path, _fresh().state_dict(), model=hrnet("w32"))
    assert "shape mismatch" in msg and "conv1.weight (32, 3, 3, 3) vs model (64, 3, 3, 3)" in msg
    assert "missing (" in msg and "layer1.1.conv1.weight" in msg


def test_missing_and_unexpected_keys_are_named(tmp_path, tiny_model):
    sd = dict(tiny_model.state_dict())
    del sd["stage2.0.fuse_layers.0.1.0.weight"]
    sd["extra_head.weight"] = torch.zeros(3)
    sd["final_layer.weight"] = torch.zeros(16, 8, 1, 1)
    msg = _error(tmp_path, sd)
    assert "missing (1): stage2.0.fuse_layers.0.1.0.weight" in msg
    assert "unexpected (1): extra_head.weight" in msg
    assert "final_layer.weight (16, 8, 1, 1) vs model (17, 8, 1, 1)" in msg


def test_no_partial_load(tmp_path, tiny_model):
    model = _fresh()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sd = dict(tiny_model.state_dict())
    del sd["conv1.weight"]
    _error(tmp_path, sd, model=model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_corrupt_files(tmp_path, tiny_model):
    assert "not a PyTorch checkpoint" in _error(tmp_path, b"this is not a checkpoint")
    good = tmp_path / "good.pth"
    torch.save(tiny_model.state_dict(), good)
    assert "truncated" in _error(tmp_path, good.read_bytes()[: good.stat().st_size // 2])
    assert "no tensors" in _error(tmp_path, {"epoch": 3})


class _Custom:
    pass


def test_refuses_custom_classes(tmp_path, tiny_model):
    msg = _error(tmp_path, {"state_dict": tiny_model.state_dict(), "obj": _Custom()})
    assert "weights-only load refuses" in msg and "_Custom" in msg


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(_fresh(), tmp_path / "nope.pth")


def test_checkpoints_load_on_a_numpy_without_numpy_core_private_module():
    """numpy before 1.26.1 has no ``numpy._core`` (pyproject admits 1.24 and 1.25): the loader falls back to
    ``numpy.core``. Here ``numpy._core.multiarray`` is made unimportable in a fresh process."""
    code = ("import sys, numpy; sys.modules['numpy._core.multiarray'] = None; "
            "import posetrack.models.checkpoints as c; print(c._MULTIARRAY.__name__)")
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "numpy.core.multiarray"
