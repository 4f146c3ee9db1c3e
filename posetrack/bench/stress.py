"""Tracker stress tests on synthetic scenes: ground-truth poses, corrupted like a detector's output, are
tracked and scored with the PoseTrack metrics, so trackers are compared apart from pose accuracy."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from posetrack.eval.poseval import PoseTrackMetrics
from posetrack.eval.tracking import METRICS, TrackingReport, evaluate_pairs
from posetrack.io.posetrack_json import PoseTrackSequence, poses_to_frame
from posetrack.options import KEYPOINT_THRESHOLD, TrackerConfig
from posetrack.synth import FrameTruth, SceneConfig, SyntheticVideo
from posetrack.synth.files import truth_to_posetrack
from posetrack.track.tracker import PoseTracker
from posetrack.types import Poses


@dataclass(frozen=True)
class DetectionNoise:
    """How ground truth is corrupted into detector-like input.

    Attributes:
        keypoint_sigma: Gaussian keypoint noise of visible joints, as a fraction of the box height; occluded
            joints get ``occluded_noise`` times as much.
        drop_rate: chance that a person is not detected in a frame.
        visible_score / occluded_score: keypoint scores given to visible and occluded joints (pose models
            do predict occluded joints, less confidently).
        keep_score: keypoints scoring below this are not written to the predictions.
    """

    keypoint_sigma: float = 0.02
    occluded_noise: float = 2.0
    drop_rate: float = 0.1
    visible_score: float = 0.9
    occluded_score: float = 0.5
    keep_score: float = KEYPOINT_THRESHOLD


def noisy_poses(truth: FrameTruth, noise: DetectionNoise, rng: np.random.Generator) -> Poses:
    """Ground truth → ``Poses`` with noise, dropped persons and visibility-based scores."""
    keep = rng.random(len(truth)) >= noise.drop_rate
    heights = (truth.boxes[keep, 3] - truth.boxes[keep, 1])[:, None, None]
    vis = truth.visibility[keep]
    sigma = noise.keypoint_sigma * heights * np.where(vis == 1, noise.occluded_noise, 1.0)[..., None]
    keypoints = truth.keypoints[keep] + rng.normal(0, 1, truth.keypoints[keep].shape) * sigma
    scores = np.where(vis == 2, noise.visible_score, np.where(vis == 1, noise.occluded_score, 0.0))
    return Poses(keypoints.astype(np.float32), scores.astype(np.float32), truth.boxes[keep],
                 np.ones(int(keep.sum()), np.float32), truth.skeleton)


@dataclass(frozen=True)
class StressResult:
    """report: the run's metrics (poseval, IDF1, HOTA). switches: identity switches summed over the 15 joints,
    divided by 15 (per-person-ish). ms_per_frame: mean ``PoseTracker.update`` time, flow included."""

    report: TrackingReport
    switches: float
    ms_per_frame: float

    @property
    def metrics(self) -> PoseTrackMetrics:
        return self.report.asked_poseval


def stress(scene: SceneConfig, seed: int, tracker: TrackerConfig, noise: DetectionNoise = DetectionNoise()) -> StressResult:
    """Track a synthetic clip from corrupted ground truth and score it."""
    rng = np.random.default_rng(seed + 7919)
    tracker_ = PoseTracker(tracker)
    gt_frames, pr_frames, elapsed = [], [], 0.0
    for frame, truth in SyntheticVideo(scene, seed):
        poses = noisy_poses(truth, noise, rng)
        start = time.perf_counter()
        tracked = tracker_.update(poses, frame.image).tracked
        elapsed += time.perf_counter() - start
        gt_frames.append(truth_to_posetrack(truth))
        pr_frames.append(poses_to_frame(tracked, noise.keep_score))
    name = "900000_mpii_test"
    w, h = scene.size
    report = evaluate_pairs([(PoseTrackSequence(name, w, h, gt_frames), PoseTrackSequence(name, w, h, pr_frames))],
                            METRICS)
    assert report.poseval is not None
    return StressResult(report, float(report.poseval.counts["switches"].mean()), elapsed / scene.frames * 1e3)
