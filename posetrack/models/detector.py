"""A small person detector: anchor-free centre heatmaps (CenterNet-style) on a light FPN, stride 8.

Training uses the raw heads (centre logits, box size, sub-cell offset). ``YoloLayout`` wraps the network for
export: its single output follows the Ultralytics YOLO detection layout ``[batch, 4 + classes, candidates]``
(cx, cy, w, h in input pixels, then class scores), one candidate per output cell, with non-peak cells scored 0,
so ``posetrack.detect`` decodes it exactly like a user's own exported YOLO model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 8


def _cbr(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Stage(nn.Module):
    """Stride-2 conv, then a residual pair of 3x3 convs."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.down = _cbr(cin, cout, 2)
        self.body = nn.Sequential(_cbr(cout, cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        return F.relu(x + self.body(x))


class PersonDetector(nn.Module):
    """Input (N, 3, H, W) normalised RGB (H, W multiples of 32). Output: centre logits (N, C, H/8, W/8), box size
    as log(pixels) (N, 2, H/8, W/8), and sub-cell centre offset in cells (N, 2, H/8, W/8)."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 96, 128), num_classes: int = 1, head: int = 64):
        super().__init__()
        stages, cin = [], 3
        for w in widths:
            stages.append(_Stage(cin, w))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList(nn.Conv2d(w, head, 1) for w in widths[2:])  # strides 8, 16, 32
        self.smooth = _cbr(head, head)
        self.heat = nn.Sequential(_cbr(head, head), nn.Conv2d(head, num_classes, 1))
        self.size = nn.Sequential(_cbr(head, head), nn.Conv2d(head, 2, 1))
        self.offset = nn.Sequential(_cbr(head, head), nn.Conv2d(head, 2, 1))
        heat_out = self.heat[-1]
        assert isinstance(heat_out, nn.Conv2d) and heat_out.bias is not None
        nn.init.constant_(heat_out.bias, -2.19)  # start at p = 0.1, the CenterNet prior
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        y = self.lateral[-1](feats[-1])
        for lateral, f in zip(reversed(self.lateral[:-1]), reversed(feats[2:-1])):
            y = lateral(f) + F.interpolate(y, scale_factor=2, mode="nearest")
        y = self.smooth(y)
        return self.heat(y), self.size(y), self.offset(y)


class YoloLayout(nn.Module):
    """Export wrapper: raw heads → ``[N, 4 + C, H/8 * W/8]`` (cx, cy, w, h in input pixels; class scores)."""

    def __init__(self, detector: PersonDetector):
        super().__init__()
        self.detector = detector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The box arithmetic runs in float32 whatever the network's precision: cell index + offset reaches 240
        # cells at 1920 px, where bfloat16 steps by 1 cell (8 px) and float16 by 1/8 cell (1 px).
        heat, size, offset = (t.float() for t in self.detector(x))
        _, _, h, w = heat.shape
        scores = torch.sigmoid(heat)
        peaks = (scores == F.max_pool2d(scores, 3, 1, 1)).to(scores.dtype)  # keep local maxima only
        ys = torch.arange(h, dtype=torch.float32, device=x.device).view(1, h, 1).expand(1, h, w)
        xs = torch.arange(w, dtype=torch.float32, device=x.device).view(1, 1, w).expand(1, h, w)
        cx = (xs + offset[:, 0]) * STRIDE
        cy = (ys + offset[:, 1]) * STRIDE
        wh = torch.exp(size.clamp(max=8.0))
        boxes = torch.stack([cx, cy, wh[:, 0], wh[:, 1]], 1)
        return torch.cat([boxes, scores * peaks], 1).flatten(2)
