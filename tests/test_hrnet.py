"""HRNet structure equals the official model: keys, order, shapes, parameter counts, forward."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import randomize_bn, tiny_extra

from posetrack.models.hrnet import HRNet, hrnet, official_extra

DATA = Path(__file__).parent / "data"


def _shape(t: torch.Tensor) -> str:
    return "scalar" if t.dim() == 0 else "x".join(map(str, t.shape))


@pytest.mark.parametrize("name,params", [("w32", 28_536_113), ("w48", 63_595_745)])
def test_state_dict_equals_official(name, params):
    model = hrnet(name)
    reference = [tuple(line.split("\t")) for line in (DATA / f"hrnet_official_state_dict_{name}.tsv").read_text().splitlines()]
    ours = [(k, _shape(v)) for k, v in model.state_dict().items()]
    assert ours == reference  # same keys, same order, same shapes
    assert sum(p.numel() for p in model.parameters()) == params


def test_mpii_joints_change_only_final_layer():
    model = hrnet("w32", num_joints=16)
    assert model.final_layer.weight.shape == (16, 32, 1, 1)
    assert sum(p.numel() for p in model.parameters()) == 28_536_080


def test_mmpose_lowercase_extra_builds_same_model():
    extra = official_extra(32)
    lower = {k.lower(): ({kk.lower(): vv for kk, vv in v.items()} if isinstance(v, dict) else v) for k, v in extra.items()}
    lower["stage1"] = {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK", "num_blocks": (4,), "num_channels": (64,)}
    a, b = HRNet.from_official_config(extra), HRNet.from_official_config(lower)
    assert [(k, v.shape) for k, v in a.state_dict().items()] == [(k, v.shape) for k, v in b.state_dict().items()]


def test_last_stage4_module_keeps_only_high_resolution_output():
    model = hrnet("w32")
    assert len(model.stage4[-1].fuse_layers) == 1
    assert all(len(m.fuse_layers) == 4 for m in model.stage4[:-1])


def test_final_conv_kernel_3_is_padded():
    model = HRNet.from_official_config(official_extra(32, final_conv_kernel=3))
    assert model.final_layer.padding == (1, 1)
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 17, 16, 16)


def _reference_forward(sd: dict, x: torch.Tensor, extra: dict) -> torch.Tensor:
    """The official forward written functionally from the state_dict and the documented op order."""
    def conv(x, p, stride=1):
        w = sd[p + ".weight"]
        return F.conv2d(x, w, sd.get(p + ".bias"), stride, w.shape[-1] // 2)

    def bn(x, p):
        return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                            False, 0.0, 1e-5)

    def block(x, p):
        shortcut = bn(conv(x, p + ".downsample.0"), p + ".downsample.1") if p + ".downsample.0.weight" in sd else x
        out, i = x, 1
        while f"{p}.conv{i}.weight" in sd:
            out = bn(conv(out, f"{p}.conv{i}"), f"{p}.bn{i}")
            i += 1
            out = F.relu(out) if f"{p}.conv{i}.weight" in sd else out
        return F.relu(out + shortcut)

    def seq(x, prefix):
        i = 0
        while f"{prefix}.{i}.conv1.weight" in sd:
            x = block(x, f"{prefix}.{i}")
            i += 1
        return x

    x = F.relu(bn(conv(x, "conv1", 2), "bn1"))
    x = F.relu(bn(conv(x, "conv2", 2), "bn2"))
    xs = [seq(x, "layer1")]
    for s in (2, 3, 4):
        cfg, t = extra[f"STAGE{s}"], f"transition{s - 1}"
        nb = cfg["NUM_BRANCHES"]
        xs = [
            (F.relu(bn(conv(xs[i], f"{t}.{i}.0"), f"{t}.{i}.1")) if f"{t}.{i}.0.weight" in sd else xs[i])
            if i < len(xs) else F.relu(bn(conv(xs[-1], f"{t}.{i}.0.0", 2), f"{t}.{i}.0.1"))
            for i in range(nb)
        ]
        for m in range(cfg["NUM_MODULES"]):
            p = f"stage{s}.{m}"
            xs = [seq(xs[b], f"{p}.branches.{b}") for b in range(nb)]
            fused = []
            for i in range(1 if (s == 4 and m == cfg["NUM_MODULES"] - 1) else nb):
                y = None
                for j in range(nb):
                    z = xs[j]
                    if j > i:
                        z = bn(conv(z, f"{p}.fuse_layers.{i}.{j}.0"), f"{p}.fuse_layers.{i}.{j}.1")
                        z = F.interpolate(z, scale_factor=2 ** (j - i), mode="nearest")
                    for k in range(i - j):
                        z = bn(conv(z, f"{p}.fuse_layers.{i}.{j}.{k}.0", 2), f"{p}.fuse_layers.{i}.{j}.{k}.1")
                        z = F.relu(z) if k < i - j - 1 else z
                    y = z if y is None else y + z
                fused.append(F.relu(y))
            xs = fused
    return conv(xs[0], "final_layer")


@pytest.mark.parametrize("extra", [official_extra(32), tiny_extra()], ids=["w32", "tiny"])
def test_forward_equals_reference(extra):
    torch.manual_seed(0)
    model = randomize_bn(HRNet.from_official_config(extra)).eval()
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        ours = model(x)
        ref = _reference_forward(model.state_dict(), x, extra)
    assert ours.shape == (2, 17, 32, 24)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5)
