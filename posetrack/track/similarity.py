"""How alike each track is to each new pose: the functions a ``TrackerConfig`` names or is given.

A similarity is any ``fn(tracks, poses) -> (T, N) float`` (higher = more alike; pairs below the tracker's gate are
never matched), comparing the tracks as predicted into the current frame (``Tracks``) with the frame's poses.
The named ones (``SIMILARITIES``; pass your own function to ``TrackerConfig(similarity=...)``):

- ``"oks"``: OKS of the flow-propagated track poses with the new poses (box IoU where too few joints are shared);
- ``"iou"`` (also ``"motion"``): box IoU of each track's predicted box (its Kalman filter, the camera's motion taken
  out) — boxes only; the cue that still tells two people apart when their estimated poses collapse onto the one in
  front;
- ``"pose+motion"`` (the default): ``"iou"`` and ``"oks"`` blended by how far the poses can be trusted
  (``pose_trust``: joints held confidently by both, and lying on their boxes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from posetrack.options import SIMILARITY_NAMES
from posetrack.track.oks import box_iou, confident_oks
from posetrack.track.state import Tracks
from posetrack.types import Poses

Similarity = Callable[[Tracks, Poses], np.ndarray]


def iou_similarity(tracks: Tracks, poses: Poses) -> np.ndarray:
    """(T, N) box IoU of the tracks' predicted boxes (``Tracks.boxes``: their Kalman filters, camera motion taken
    out) with the poses' boxes: the box-only association."""
    return box_iou(tracks.boxes, poses.boxes.astype(np.float32))


motion_similarity = iou_similarity  # "motion": the name this cue had when it was a separate velocity model


def oks_similarity(tracks: Tracks, poses: Poses, min_keypoint_score: float = 0.3,
                   min_shared_keypoints: int = 4) -> np.ndarray:
    """(T, N) OKS of the flow-propagated track poses with the new poses over the joints both hold with at least
    ``min_keypoint_score``; box IoU for the pairs sharing fewer than ``min_shared_keypoints`` such joints."""
    iou = iou_similarity(tracks, poses)
    if len(tracks) == 0 or len(poses) == 0:
        return iou
    sim, shared = confident_oks(tracks.keypoints, tracks.scores, tracks.boxes, poses.keypoints, poses.scores,
                                poses.boxes, poses.skeleton.sigmas, min_keypoint_score)
    return np.where(shared >= min_shared_keypoints, sim, iou)


def on_box(keypoints: np.ndarray, scores: np.ndarray, boxes: np.ndarray, min_keypoint_score: float) -> np.ndarray:
    """(N,) the share of each pose's confident joints that lie on its box (grown by a tenth): a pose mostly off its
    box is another person's (an occluder, the person in front), whatever its scores say."""
    margin = 0.1 * (boxes[:, 2:] - boxes[:, :2])[:, None, :]
    lo, hi = boxes[:, None, :2] - margin, boxes[:, None, 2:] + margin
    inside = ((keypoints >= lo) & (keypoints <= hi)).all(-1)
    confident = scores >= min_keypoint_score
    return (inside & confident).sum(1) / np.maximum(confident.sum(1), 1)


def pose_trust(tracks: Tracks, poses: Poses, shared: np.ndarray, min_keypoint_score: float) -> np.ndarray:
    """(T, N) in [0, 1]: how far the two poses of each pair can tell who is who: the share of all joints both hold
    confidently, times how well the less convincing of the two lies on its box (``on_box``). A track the previous
    frame did not see has a pose only moved along with its box, not seen, and a pose found only by the pose model
    (recovered at the track's box, no detector agreeing) may be anything: either tells nothing (0)."""
    k = poses.skeleton.num_joints
    fresh = (tracks.since_seen == 0) & tracks.detected
    track_on = on_box(tracks.keypoints, tracks.scores, tracks.boxes, min_keypoint_score) * fresh
    pose_on = on_box(poses.keypoints, poses.scores, poses.boxes.astype(np.float32), min_keypoint_score)
    return (shared / k) * np.minimum(track_on[:, None], pose_on[None, :])


def pose_motion_similarity(tracks: Tracks, poses: Poses, motion_weight: float = 0.3, min_keypoint_score: float = 0.3,
                           min_shared_keypoints: int = 4) -> np.ndarray:
    """(T, N) ``(1 - w) * iou_similarity + w * oks_similarity`` with ``w = (1 - motion_weight) * pose_trust``: the
    poses weigh as far as they can be trusted (all joints confident and on their boxes: ``1 - motion_weight``),
    the boxes the rest."""
    iou = iou_similarity(tracks, poses)
    if len(tracks) == 0 or len(poses) == 0:
        return iou
    sim, shared = confident_oks(tracks.keypoints, tracks.scores, tracks.boxes, poses.keypoints, poses.scores,
                                poses.boxes, poses.skeleton.sigmas, min_keypoint_score)
    trust = np.where(shared >= min_shared_keypoints, pose_trust(tracks, poses, shared, min_keypoint_score), 0.0)
    w = (1.0 - motion_weight) * trust
    return (1.0 - w) * iou + w * sim


SIMILARITIES: dict[str, Callable[..., np.ndarray]] = {"pose+motion": pose_motion_similarity, "oks": oks_similarity,
                                                      "iou": iou_similarity, "motion": motion_similarity}
assert tuple(SIMILARITIES) == SIMILARITY_NAMES, "options.SIMILARITY_NAMES names these functions"
