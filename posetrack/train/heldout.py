"""Held-out evaluation of pose models and detectors on synthetic clips generated with seeds no training stream
uses (training streams derive their clip seeds from ``seed * 1_000_003 + i``; these use 91_000 + k)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from posetrack.eval.coco import evaluate_boxes, evaluate_keypoints
from posetrack.io.coco_json import keypoint_result
from posetrack.pose import TopDownEstimator
from posetrack.skeleton import POSETRACK17, Skeleton
from posetrack.synth import PRESETS
from posetrack.synth.files import coco_keypoints

HELDOUT_SEED = 91_000
HELDOUT_PRESETS = ("easy", "crossing", "crowd")


def heldout_set(frames: int = 60, stride: int = 3, presets: tuple[str, ...] = HELDOUT_PRESETS,
                skeleton: Skeleton = POSETRACK17) -> tuple[list[np.ndarray], dict]:
    """Frames and COCO ground truth of one clip per preset, seeds ``HELDOUT_SEED + k``."""
    return clips_with_truth([(name, HELDOUT_SEED + k) for k, name in enumerate(presets)], frames, stride, skeleton)


def clips_with_truth(clips: list[tuple[str, int]], frames: int, stride: int,
                     skeleton: Skeleton = POSETRACK17) -> tuple[list[np.ndarray], dict]:
    """Every ``stride``-th frame of the (preset, seed) clips and their COCO keypoint ground truth in one set
    (image ids made unique across clips, annotation ids renumbered from 1)."""
    images: list[np.ndarray] = []
    merged: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    for k, (name, seed) in enumerate(clips):
        clip_images, gt = coco_keypoints(replace(PRESETS[name], frames=frames), seed, skeleton, stride=stride)
        for img in gt["images"]:
            img["id"] += 100_000 * k
        for ann in gt["annotations"]:
            ann["image_id"] += 100_000 * k
            ann["id"] = len(merged["annotations"]) + 1
            merged["annotations"].append(ann)
        merged["images"] += gt["images"]
        images += clip_images
    return images, merged


def pose_detections(estimator: TopDownEstimator, images: list[np.ndarray], gt: dict) -> list[dict]:
    """COCO keypoint results of ``estimator`` on the ground-truth boxes (score: mean keypoint score)."""
    by_image: dict[int, list[dict]] = {}
    for ann in gt["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    results = []
    for info, image in zip(gt["images"], images):
        anns = by_image.get(info["id"], [])
        if not anns:
            continue
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                          for a in anns], np.float32)
        poses = estimator.estimate(image, boxes)
        results += [keypoint_result(info["id"], kp, sc) for kp, sc in zip(poses.keypoints, poses.scores)]
    return results


def pose_ap(estimator: TopDownEstimator, images: list[np.ndarray], gt: dict) -> dict[str, float]:
    """OKS AP with ground-truth boxes."""
    sigmas = estimator.config.skeleton.sigmas.astype(np.float64)
    return evaluate_keypoints(gt, pose_detections(estimator, images, gt), sigmas)


def detector_ap(detector, images: list[np.ndarray], gt: dict) -> dict[str, float]:
    """Box AP (AP50 = IoU 0.5) of a ``detect(image) -> Detections`` source on the person boxes of ``gt``."""
    results = []
    for info, image in zip(gt["images"], images):
        found = detector.detect(image)
        for (x1, y1, x2, y2), score in zip(found.boxes, found.scores):
            results.append({"image_id": info["id"], "category_id": 1, "score": float(score),
                            "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]})
    return evaluate_boxes(gt, results)


VALIDATION_SEEDS = (90001, 90002)  # held out: training streams never use these seeds


def validation_set(skeleton: Skeleton = POSETRACK17, frames: int = 60, stride: int = 4) -> tuple[list, dict]:
    """The validation clips training reports on (``crossing`` seed 90001, ``crowd`` seed 90002; also the clips the
    shipped detector threshold was tuned on): every ``stride``-th frame, with COCO keypoint ground truth."""
    return clips_with_truth(list(zip(("crossing", "crowd"), VALIDATION_SEEDS)), frames, stride, skeleton)
