"""How alike each track is to each new pose: the functions a ``TrackerConfig`` names or is given.

A similarity is any ``fn(tracks, poses) -> (T, N) float`` (higher = more alike; pairs below the tracker's gate are
never matched), comparing the tracks as predicted into the current frame (``Tracks``) with the frame's poses.
``"oks"`` and ``"iou"`` are the named defaults; pass your own function to ``TrackerConfig(similarity=...)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from posetrack.track.oks import box_areas, box_iou, oks
from posetrack.track.state import Tracks
from posetrack.types import Poses

Similarity = Callable[[Tracks, Poses], np.ndarray]


def iou_similarity(tracks: Tracks, poses: Poses) -> np.ndarray:
    """(T, N) box IoU of the predicted track boxes with the poses' boxes."""
    return box_iou(tracks.boxes, poses.boxes.astype(np.float32))


def oks_similarity(tracks: Tracks, poses: Poses, min_keypoint_score: float = 0.3,
                   min_shared_keypoints: int = 4) -> np.ndarray:
    """(T, N) OKS of the predicted track poses with the new poses over the joints both hold with at least
    ``min_keypoint_score``; box IoU for the pairs sharing fewer than ``min_shared_keypoints`` such joints."""
    iou = iou_similarity(tracks, poses)
    if len(tracks) == 0 or len(poses) == 0:
        return iou
    valid = (tracks.scores[:, None] >= min_keypoint_score) & (poses.scores[None] >= min_keypoint_score)
    areas = 0.5 * (box_areas(tracks.boxes)[:, None] + box_areas(poses.boxes)[None, :])
    sim, shared = oks(tracks.keypoints, poses.keypoints, poses.skeleton.sigmas, areas, valid)
    return np.where(shared >= min_shared_keypoints, sim, iou)


SIMILARITIES: dict[str, Callable[..., np.ndarray]] = {"oks": oks_similarity, "iou": iou_similarity}
