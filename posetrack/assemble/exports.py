"""The networks of a run as the compile chain sees them: each model's record (from the options), its FP32 export
and its INT8 calibration recipe (``compile.precision.ExportedModel``): person crops for a pose model, letterboxed
frames for a detector, each made by the model's own preprocessing."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posetrack.compile.calibrate import detector_inputs, pose_inputs
from posetrack.compile.precision import ExportedModel
from posetrack.detect import Detector, prepare_frame
from posetrack.errors import PosetrackError
from posetrack.models import create_model, detector_model, model_file, pose_model
from posetrack.models.preprocess import parse_preprocess
from posetrack.models.records import DetectorRecord, PoseRecord
from posetrack.options import DetectorOptions, PoseOptions
from posetrack.pose import TopDownConfig, crop_batch
from posetrack.types import Frame


def pose_record(options: PoseOptions) -> PoseRecord:
    """The record ``options.model`` names (a checkpoint file: with the options' config, input size and joints)."""
    return pose_model(options.model, options.input_size, options.layout, options.config)


def detector_record(options: DetectorOptions) -> DetectorRecord:
    """The record ``options.model`` names, with the options' preprocessing, input size and person class (an ONNX
    file: read by what it is, ``models.user_files``)."""
    preprocess = parse_preprocess(_json_or_name(options.preprocess), "--detector-preprocess") if options.preprocess \
        else None
    return detector_model(options.model, preprocess, options.imgsz, options.person_class)


def _json_or_name(text: str) -> object:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise PosetrackError(f"--detector-preprocess: not valid JSON ({exc})") from None
    return text


@dataclass(frozen=True)
class PoseCrops:
    """A pose model's calibration inputs: ``(count, images) → (count, 3, H, W)`` person crops through its
    preprocessing; synthetic persons with their true boxes, or in a user's ``images`` the persons ``find_people``
    finds (a detector, made only when the first image is read, so a bad folder fails before it is prepared)."""

    config: TopDownConfig
    find_people: Callable[[], Detector] | None = None

    def crop(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return crop_batch(image, boxes, self.config)[0]

    def __call__(self, count: int, images: Path | None) -> np.ndarray:
        if images is None or self.find_people is None:
            return pose_inputs(self.crop, count, images=images)
        detector = functools.cache(self.find_people)
        return pose_inputs(self.crop, count, images=images,
                           find_people=lambda image: detector().detect(Frame(0, 0.0, image)).boxes)


@dataclass(frozen=True)
class DetectorFrames:
    """A detector's calibration inputs: ``(count, images) → (count, 3, H, W)`` letterboxed, normalised frames."""

    record: DetectorRecord

    def prepare(self, image: np.ndarray) -> np.ndarray:
        return prepare_frame(image, self.record.input_size, self.record.preprocess)[0]

    def __call__(self, count: int, images: Path | None) -> np.ndarray:
        return detector_inputs(self.prepare, count, images=images)


def export_pose(record: PoseRecord, module: torch.nn.Module | None = None,
                find_people: Callable[[], Detector] | None = None) -> ExportedModel:
    """The pose model's FP32 ONNX export (made on first use, cached) and its calibration recipe (``PoseCrops``;
    ``find_people()`` builds the detector that finds people in a user's images)."""
    module = module if module is not None else create_model(record)
    return ExportedModel(record, module, PoseCrops(TopDownConfig.from_record(record), find_people))


def export_detector(record: DetectorRecord, module: torch.nn.Module | None = None) -> ExportedModel:
    """The detector's FP32 ONNX file (the shipped architecture exported on first use, or the model's own ONNX,
    fetched on first use) and its calibration recipe (``DetectorFrames``)."""
    if record.weights is None:  # an ONNX network: the file itself is the export
        return ExportedModel(record, None, DetectorFrames(record), source=functools.partial(_fetched, record))
    return ExportedModel(record, module if module is not None else create_model(record), DetectorFrames(record))


def _fetched(record: DetectorRecord) -> Path:
    path = model_file(record)
    assert path is not None
    return path
