"""The demo models the repository ships: load strictly, fit the size budget, and work on fresh synthetic data."""

import numpy as np
import pytest
import torch
from conftest import cocoeval

from posetrack.assemble import (
    build_detector,
    build_estimator,
    export_detector,
    export_pose,
)
from posetrack.compile.cache import calib_dir, digest
from posetrack.compile.calibrate import load_calibration
from posetrack.eval.coco import STAT_NAMES, evaluate_keypoints
from posetrack.models import DEMO_DETECTOR, DEMO_POSE, create_model
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.detector import STRIDE
from posetrack.models.hrnet import hrnet
from posetrack.options import Options
from posetrack.train.heldout import detector_ap, heldout_set, pose_ap, pose_detections

# Floors below what the shipped models score on this set (pose AP 0.948, AP50 0.970; detector AP50 0.822, 92
# people) and far above an untrained network (0.0): a broken file, layout, preprocessing or a clearly worse model
# fails them.
POSE_AP_FLOOR = 0.85
POSE_AP50_FLOOR = 0.92
DETECTOR_AP50_FLOOR = 0.72


def on_ort(precision: str = "fp32") -> Options:
    return Options.demo().replaced(precision=precision, runtime__backend="ort")


@pytest.fixture(scope="module")
def fresh():
    """A small set the models never saw: one short clip per preset, seeds outside training and validation."""
    return heldout_set(frames=24, stride=4)


def test_files_fit_the_budget_and_load_strictly():
    for path in (DEMO_POSE.weights, DEMO_DETECTOR.weights):
        assert path.stat().st_size <= 10 * 2**20
    load_checkpoint(hrnet("demo", 17), DEMO_POSE.weights)
    create_model(DEMO_DETECTOR)  # load_state_dict is strict


def test_pose_model_on_fresh_frames(fresh):
    stats = pose_ap(build_estimator(on_ort()), *fresh)
    assert stats["AP"] >= POSE_AP_FLOOR and stats["AP50"] >= POSE_AP50_FLOOR


def test_pose_ap_equals_cocoeval_on_the_same_files(fresh):
    """The held-out OKS AP is the project's evaluation; pycocotools scores the same ground truth and results alike."""
    images, gt = fresh
    results = pose_detections(build_estimator(on_ort()), images, gt)
    ours = evaluate_keypoints(gt, results, DEMO_POSE.skeleton.sigmas.astype(np.float64))
    reference = cocoeval(gt, results, "keypoints", DEMO_POSE.skeleton.sigmas)
    np.testing.assert_allclose([ours[k] for k in STAT_NAMES], reference, atol=1e-12)


def test_detector_on_fresh_frames(fresh):
    stats = detector_ap(build_detector(on_ort()), *fresh)
    assert stats["AP50"] >= DETECTOR_AP50_FLOOR


def test_detector_export_has_the_yolo_layout():
    with torch.no_grad():
        w, h = DEMO_DETECTOR.input_size
        out = create_model(DEMO_DETECTOR)(torch.zeros(1, 3, h, w))
    assert out.shape == (1, 5, (h // STRIDE) * (w // STRIDE))
    assert torch.all(out[:, 2:4] > 0) and torch.all((out[:, 4] >= 0) & (out[:, 4] <= 1))


@pytest.fixture(scope="module")
def exported():
    return {"pose": export_pose(DEMO_POSE), "detector": export_detector(DEMO_DETECTOR)}


@pytest.mark.parametrize("which", ["pose", "detector"])
def test_committed_calibration_belongs_to_the_shipped_weights(exported, which):
    model = exported[which]
    calib = load_calibration(calib_dir() / model.record.calib_folder, model.key, digest(model.record.preprocessing()))
    assert calib.manifest.count >= 256 and calib.manifest.source == "synthetic"


@pytest.mark.slow
@pytest.mark.parametrize("precision, allowed", [("int8", 0.01), ("fp16", 0.005)])
def test_lower_precisions_keep_the_accuracy(fresh, precision, allowed):
    pose = {p: pose_ap(build_estimator(on_ort(p)), *fresh)["AP"] for p in ("fp32", precision)}
    det = {p: detector_ap(build_detector(on_ort(p)), *fresh)["AP50"] for p in ("fp32", precision)}
    assert abs(pose[precision] - pose["fp32"]) <= allowed, pose
    assert abs(det[precision] - det["fp32"]) <= allowed, det
