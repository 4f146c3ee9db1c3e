"""How alike each track is to each new pose: the functions a ``TrackerConfig`` names or is given.

A similarity is any ``fn(tracks, poses) -> (T, N) float`` (higher = more alike; pairs below the tracker's gate are
never matched), comparing the tracks as predicted into the current frame (``Tracks``) with the frame's poses.
The named ones (``SIMILARITIES``; pass your own function to ``TrackerConfig(similarity=...)``):

- ``"oks"``: OKS of the flow-propagated track poses with the new poses (box IoU where too few joints are shared);
- ``"iou"``: box IoU of the flow-moved track boxes;
- ``"motion"``: box IoU of each track's motion-predicted box (its last box, moved by its own velocity and the
  camera's motion since) — the cue that still tells two people apart when their estimated poses collapse onto the
  one in front;
- ``"pose+motion"`` (the default): a weighted mean of ``"oks"`` and ``"motion"``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from posetrack.track.oks import box_iou, confident_oks
from posetrack.track.state import Tracks
from posetrack.types import Poses

Similarity = Callable[[Tracks, Poses], np.ndarray]


def iou_similarity(tracks: Tracks, poses: Poses) -> np.ndarray:
    """(T, N) box IoU of the flow-moved track boxes with the poses' boxes."""
    return box_iou(tracks.boxes, poses.boxes.astype(np.float32))


def motion_similarity(tracks: Tracks, poses: Poses) -> np.ndarray:
    """(T, N) box IoU of the tracks' motion-predicted boxes (``Tracks.motion_boxes``) with the poses' boxes."""
    return box_iou(tracks.motion_boxes(), poses.boxes.astype(np.float32))


def oks_similarity(tracks: Tracks, poses: Poses, min_keypoint_score: float = 0.3,
                   min_shared_keypoints: int = 4) -> np.ndarray:
    """(T, N) OKS of the predicted track poses with the new poses over the joints both hold with at least
    ``min_keypoint_score``; box IoU for the pairs sharing fewer than ``min_shared_keypoints`` such joints."""
    iou = iou_similarity(tracks, poses)
    if len(tracks) == 0 or len(poses) == 0:
        return iou
    sim, shared = confident_oks(tracks.keypoints, tracks.scores, tracks.boxes, poses.keypoints, poses.scores,
                                poses.boxes, poses.skeleton.sigmas, min_keypoint_score)
    return np.where(shared >= min_shared_keypoints, sim, iou)


def pose_motion_similarity(tracks: Tracks, poses: Poses, motion_weight: float = 0.3, min_keypoint_score: float = 0.3,
                           min_shared_keypoints: int = 4) -> np.ndarray:
    """(T, N) ``(1 - motion_weight) * oks_similarity + motion_weight * motion_similarity``."""
    pose = oks_similarity(tracks, poses, min_keypoint_score, min_shared_keypoints)
    return (1.0 - motion_weight) * pose + motion_weight * motion_similarity(tracks, poses)


SIMILARITIES: dict[str, Callable[..., np.ndarray]] = {"oks": oks_similarity, "iou": iou_similarity,
                                                      "motion": motion_similarity,
                                                      "pose+motion": pose_motion_similarity}
