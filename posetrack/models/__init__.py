"""Models, as timm keeps them: every model is a named record (``records``); the built-in ones (``entries``) and a
user's files (``user_files``: checkpoints, ONNX detectors read by what they are) are found by one registry
(``registry``: ``list_models``, ``get_model``, ``register_model``), and ``factory`` makes what a record describes
(``create_model``, ``model_file``). Below them: downloads into the cache (``hub``), HRNet exact to the official
checkpoint format (``hrnet``, ``checkpoints``), the shipped person detector (``detector``), detector preprocessing
(``preprocess``) and output layouts (``layouts``), ONNX files (``onnx_files``) and their sidecars (``sidecar``).

Imports run one way: preprocess, layouts, onnx_files → sidecar → records → entries, user_files → registry →
factory.
"""

from __future__ import annotations

from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.factory import create_model, fetch_all, is_fetched, model_file, random_pose
from posetrack.models.hrnet import CONFIGS, HRNet, hrnet
from posetrack.models.records import DetectorRecord, PoseRecord, Record
from posetrack.models.registry import (
    DEMO_DETECTOR,
    DEMO_POSE,
    calibrate_command,
    detector_model,
    get_model,
    is_model_file,
    list_models,
    model_argument,
    pose_model,
    register_model,
    unregister_model,
)
from posetrack.models.user_files import choice_line

__all__ = ["CONFIGS", "DEMO_DETECTOR", "DEMO_POSE", "DetectorRecord", "HRNet", "PoseRecord", "Record",
           "calibrate_command", "choice_line", "create_model", "detector_model", "fetch_all", "get_model", "hrnet",
           "is_fetched", "is_model_file", "list_models", "load_checkpoint", "model_argument", "model_file",
           "pose_model", "random_pose", "register_model", "unregister_model"]
