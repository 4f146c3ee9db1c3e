"""Models: the registry of named model records (``registry``: ``list_models``, ``get_model``, ``create_model``,
``register_model``), downloads into the cache (``hub``), HRNet exact to the official checkpoint format (``hrnet``,
``checkpoints``) and the shipped person detector (``detector``)."""

from __future__ import annotations

from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.hrnet import CONFIGS, HRNet, hrnet
from posetrack.models.records import DetectorRecord, PoseRecord, Record
from posetrack.models.registry import (
    DEMO_DETECTOR,
    DEMO_POSE,
    create_model,
    detector_model,
    get_model,
    is_fetched,
    list_models,
    model_file,
    pose_model,
    register_model,
    unregister_model,
)

__all__ = ["CONFIGS", "DEMO_DETECTOR", "DEMO_POSE", "DetectorRecord", "HRNet", "PoseRecord", "Record", "create_model",
           "detector_model", "get_model", "hrnet", "is_fetched", "list_models", "load_checkpoint", "model_file",
           "pose_model", "register_model", "unregister_model"]
