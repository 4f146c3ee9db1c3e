"""PyTorch networks: HRNet (official format) and its checkpoint loaders."""

from __future__ import annotations

from pathlib import Path

from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.hrnet import CONFIGS, HRNet, hrnet


def build_pose_model(config: str, weights: str | Path | None = None, num_joints: int = 17) -> HRNet:
    """A named HRNet config, with ``weights`` (official / MMPose checkpoint) loaded strictly if given."""
    model = hrnet(config, num_joints)
    if weights is not None:
        load_checkpoint(model, weights)
    return model.eval()


__all__ = ["CONFIGS", "HRNet", "build_pose_model", "hrnet", "load_checkpoint"]
