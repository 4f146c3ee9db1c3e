"""Pose training: MSE on heatmaps with per-joint weights (the official loss), validation by OKS AP with
ground-truth boxes, on the shared loop of ``train.loop``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from posetrack.backends import TorchBackend
from posetrack.heatmaps import Refine
from posetrack.pose import TopDownConfig, TopDownEstimator
from posetrack.skeleton import POSETRACK17, Skeleton
from posetrack.train.data import PoseBatch
from posetrack.train.heldout import pose_ap
from posetrack.train.loop import History, TrainConfig, device_of, fit
from posetrack.types import Size


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The official JointsMSELoss: 0.5 x mean squared error over joints, masked by target weights."""
    w = weight[..., None, None]
    return 0.5 * ((pred * w - target * w) ** 2).mean()


def validate(model: nn.Module, images: list[np.ndarray], gt: dict, input_size: tuple[int, int], skeleton: Skeleton,
             refine: Refine = "dark") -> dict[str, float]:
    """OKS AP of ``model`` with ground-truth boxes (all persons of an image in one batch)."""
    model.eval()
    estimator = TopDownEstimator(TorchBackend(model, device=device_of(model)),
                                 config=TopDownConfig(input_size=Size(*input_size), skeleton=skeleton, refine=refine))
    return pose_ap(estimator, images, gt)


def pose_loss(model: nn.Module, batch: PoseBatch) -> torch.Tensor:
    device = device_of(model)
    inputs, heatmaps, weights = (torch.from_numpy(a).to(device, non_blocking=True)
                                 for a in (batch.inputs, batch.heatmaps, batch.weights))
    return weighted_mse(model(inputs), heatmaps, weights)


def train_pose(model: nn.Module, train: Iterator[PoseBatch], cfg: TrainConfig, out_dir: str | Path,
               validation: tuple[list[np.ndarray], dict] | None = None, input_size: tuple[int, int] = (96, 128),
               skeleton: Skeleton = POSETRACK17, resume: bool = True, progress: bool = True) -> History:
    """Train a pose model (see ``fit``); validation and ``best.pth`` by OKS AP with ground-truth boxes."""
    check = None if validation is None else (lambda m: validate(m, *validation, input_size, skeleton))
    return fit(model, train, pose_loss, cfg, out_dir, check, "AP", resume, progress)
