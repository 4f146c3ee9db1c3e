"""HRNet for top-down pose (Sun et al., CVPR 2019), exact to the official checkpoint format.

The module tree, parameter names, registration order and forward op order follow the official
``PoseHighResolutionNet``, so an official ``pose_hrnet_w32_256x192.pth`` loads with ``strict=True`` and
gives the same heatmaps. Structure, in the official names:

    conv1/bn1, conv2/bn2 (stem, stride 4) → layer1 (stage 1) → transition1 → stage2 → transition2
    → stage3 → transition3 → stage4 (its last module keeps only the high-resolution output) → final_layer

The network is built from the official ``MODEL.EXTRA`` dict (``STAGE2``..``STAGE4``, ``FINAL_CONV_KERNEL``).
Two optional extensions serve small models and stay absent from official configs: ``STAGE1``
(as MMPose's ``stage1``: BLOCK, NUM_BLOCKS, NUM_CHANNELS of the first stage, official = 4 BOTTLENECK
blocks of 64) and ``STEM_INPLANES`` (the stem width, declared but ignored by the official code; 64).
MMPose's lowercase ``extra`` dicts are accepted too.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import torch
from torch import nn

from posetrack.errors import PosetrackError

BN_MOMENTUM = 0.1


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    """conv (no bias) → BN [→ ReLU]: the unit of transitions, shortcuts and fuse paths (indices 0, 1, 2)."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout, momentum=BN_MOMENTUM),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """3x3 → BN → ReLU → 3x3 → BN, + shortcut, → ReLU."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    """1x1 → 3x3 → 1x1 (x4 channels), each with BN, + shortcut, → ReLU."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


Block = type[BasicBlock] | type[Bottleneck]
BLOCKS: dict[str, Block] = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


def _make_layer(block: Block, inplanes: int, planes: int, num_blocks: int) -> nn.Sequential:
    """``num_blocks`` blocks; the first gets a 1x1 projection shortcut when the width changes."""
    out = planes * block.expansion
    downsample = _conv_bn(inplanes, out, 1, 1, relu=False) if inplanes != out else None
    layers = [block(inplanes, planes, 1, downsample)]
    layers += [block(out, planes) for _ in range(num_blocks - 1)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches, then every output ``i`` = ReLU(Σ_j f_ij(x_j)) (the repeated multi-scale fusion).

    ``f_ij`` is identity for j == i, 1x1 conv + BN + nearest upsampling for j > i (lower resolution in),
    and i-j stride-2 3x3 convs for j < i. With ``multi_scale_output=False`` only output 0 is built.
    """

    def __init__(self, block: Block, num_blocks: list[int], in_channels: list[int],
                 channels: list[int], multi_scale_output: bool = True):
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(
            _make_layer(block, in_channels[b], channels[b], num_blocks[b]) for b in range(self.num_branches)
        )
        self.out_channels = [c * block.expansion for c in channels]
        self.fuse_layers = self._make_fuse_layers(multi_scale_output) if self.num_branches > 1 else None
        self.relu = nn.ReLU(inplace=True)

    def _make_fuse_layers(self, multi_scale_output: bool) -> nn.ModuleList:
        ch = self.out_channels
        fuse_layers = nn.ModuleList()
        for i in range(self.num_branches if multi_scale_output else 1):
            row = nn.ModuleList()
            for j in range(self.num_branches):
                if j > i:
                    path = _conv_bn(ch[j], ch[i], 1, 1, relu=False)
                    path.append(nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"))
                    row.append(path)
                elif j == i:
                    row.append(None)  # type: ignore[arg-type]  # identity: the official layout keeps the slot
                else:  # i - j stride-2 steps; only the last changes the width, and it has no ReLU
                    steps = [_conv_bn(ch[j], ch[j], 3, 2, relu=True) for _ in range(i - j - 1)]
                    steps.append(_conv_bn(ch[j], ch[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(row)
        return fuse_layers

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        x = [branch(xb) for branch, xb in zip(self.branches, x)]
        if self.fuse_layers is None:
            return x
        fused = []
        for i, row in enumerate(self.fuse_layers):
            row = cast(nn.ModuleList, row)
            y = x[0] if i == 0 else row[0](x[0])
            for j in range(1, self.num_branches):
                y = y + (x[j] if i == j else row[j](x[j]))
            fused.append(self.relu(y))
        return fused


def _normalise_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """Upper-case keys at every level, so MMPose's lowercase ``extra`` reads like the official one."""
    if isinstance(extra, dict):
        return {str(k).upper(): _normalise_extra(v) for k, v in extra.items()}
    return extra


_OFFICIAL_STAGE1 = {"BLOCK": "BOTTLENECK", "NUM_BLOCKS": [4], "NUM_CHANNELS": [64]}


class HRNet(nn.Module):
    """Top-down pose HRNet. Input (N, 3, H, W) normalised RGB, H and W multiples of 32;
    output (N, num_joints, H/4, W/4) raw heatmaps."""

    # made by name in __init__ (``transition{s-1}``, ``stage{s}``), the official checkpoint keys
    transition1: nn.ModuleList
    transition2: nn.ModuleList
    transition3: nn.ModuleList
    stage2: nn.Sequential
    stage3: nn.Sequential
    stage4: nn.Sequential

    def __init__(self, extra: dict[str, Any], num_joints: int = 17):
        super().__init__()
        extra = _normalise_extra(copy.deepcopy(extra))
        self.extra = extra
        self.num_joints = num_joints
        stem = int(extra.get("STEM_INPLANES", 64))
        self.conv1 = nn.Conv2d(3, stem, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(stem, stem, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(stem, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)

        s1 = extra.get("STAGE1", _OFFICIAL_STAGE1)
        block1 = BLOCKS[s1["BLOCK"]]
        self.layer1 = _make_layer(block1, stem, s1["NUM_CHANNELS"][0], s1["NUM_BLOCKS"][0])
        channels = [s1["NUM_CHANNELS"][0] * block1.expansion]

        for s in (2, 3, 4):
            cfg = extra[f"STAGE{s}"]
            block = BLOCKS[cfg["BLOCK"]]
            widths = [c * block.expansion for c in cfg["NUM_CHANNELS"]]
            setattr(self, f"transition{s - 1}", self._make_transition(channels, widths))
            stage, channels = self._make_stage(cfg, widths, last_stage=s == 4)
            setattr(self, f"stage{s}", stage)

        kernel = int(extra.get("FINAL_CONV_KERNEL", 1))
        self.final_layer = nn.Conv2d(channels[0], num_joints, kernel, stride=1, padding=1 if kernel == 3 else 0)

    def init_weights(self) -> HRNet:
        """The official training initialisation: conv weights N(0, 0.001), zero biases, BN scale 1 and shift 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        return self

    @classmethod
    def from_official_config(cls, extra: dict[str, Any], num_joints: int = 17) -> HRNet:
        """Build from an official ``MODEL.EXTRA`` dict (or MMPose's ``backbone.extra``)."""
        return cls(extra, num_joints)

    @staticmethod
    def _make_transition(prev: list[int], cur: list[int]) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, width in enumerate(cur):
            if i < len(prev):
                # None: the branch passes through unchanged (the official layout keeps the slot, for key names)
                layers.append(_conv_bn(prev[i], width, 3, 1, relu=True) if width != prev[i] else None)  # type: ignore[arg-type]
            else:  # a new, lower-resolution branch from the lowest existing one
                steps = [_conv_bn(prev[-1], prev[-1], 3, 2, relu=True) for _ in range(i - len(prev))]
                steps.append(_conv_bn(prev[-1], width, 3, 2, relu=True))
                layers.append(nn.Sequential(*steps))
        return layers

    @staticmethod
    def _make_stage(cfg: dict[str, Any], in_channels: list[int], last_stage: bool) -> tuple[nn.Sequential, list[int]]:
        block = BLOCKS[cfg["BLOCK"]]
        modules = []
        for m in range(cfg["NUM_MODULES"]):
            multi_scale = not (last_stage and m == cfg["NUM_MODULES"] - 1)
            module = HighResolutionModule(block, cfg["NUM_BLOCKS"], in_channels, cfg["NUM_CHANNELS"], multi_scale)
            modules.append(module)
            in_channels = module.out_channels
        return nn.Sequential(*modules), in_channels

    @staticmethod
    def _transit(transition: nn.ModuleList, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(transition):
            src = xs[i] if i < len(xs) else xs[-1]
            out.append(src if layer is None else layer(src))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        xs = self.stage2(self._transit(self.transition1, xs))
        xs = self.stage3(self._transit(self.transition2, xs))
        xs = self.stage4(self._transit(self.transition3, xs))
        return self.final_layer(xs[0])


def official_extra(width: int, final_conv_kernel: int = 1) -> dict[str, Any]:
    """The ``MODEL.EXTRA`` of the released COCO/MPII configs, at branch-0 width ``width`` (32 or 48)."""
    def stage(modules: int, branches: int) -> dict[str, Any]:
        return {
            "NUM_MODULES": modules, "NUM_BRANCHES": branches, "BLOCK": "BASIC",
            "NUM_BLOCKS": [4] * branches, "NUM_CHANNELS": [width * 2**b for b in range(branches)],
            "FUSE_METHOD": "SUM",
        }
    return {"FINAL_CONV_KERNEL": final_conv_kernel, "STAGE2": stage(1, 2), "STAGE3": stage(4, 3), "STAGE4": stage(3, 4)}


def small_extra(width: int, stage1_blocks: int, stage1_channels: int, stem: int, modules: tuple[int, int, int],
                blocks: int) -> dict[str, Any]:
    """A slimmed HRNet of the official schema: narrower stem and stage 1, fewer modules and blocks."""
    extra = official_extra(width)
    extra["STEM_INPLANES"] = stem
    extra["STAGE1"] = {"BLOCK": "BOTTLENECK", "NUM_BLOCKS": [stage1_blocks], "NUM_CHANNELS": [stage1_channels]}
    for stage, count in zip(("STAGE2", "STAGE3", "STAGE4"), modules):
        extra[stage]["NUM_MODULES"] = count
        extra[stage]["NUM_BLOCKS"] = [blocks] * extra[stage]["NUM_BRANCHES"]
    return extra


# Named configurations: ``MODEL.EXTRA`` dicts. ``demo`` is the small model the repository ships (trained on the
# synthetic world, 2.7 M parameters, input 192x128): the same network family, sized for a 2-core CPU.
CONFIGS: dict[str, dict[str, Any]] = {
    "w32": official_extra(32),
    "w48": official_extra(48),
    "demo": small_extra(16, stage1_blocks=2, stage1_channels=32, stem=32, modules=(1, 3, 2), blocks=2),
}


def hrnet(name: str, num_joints: int = 17) -> HRNet:
    """Build a named configuration (see ``CONFIGS``)."""
    if name not in CONFIGS:
        raise PosetrackError(f"unknown HRNet config {name!r}; known: {', '.join(CONFIGS)}")
    return HRNet.from_official_config(CONFIGS[name], num_joints)
