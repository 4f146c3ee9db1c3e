"""Joint layouts: names, OKS sigmas, left/right flip pairs, limbs, and layout conversions.

Two layouts matter to posetrack:

* ``COCO17`` — what COCO-trained checkpoints (official HRNet, MMPose) predict.
* ``POSETRACK17`` — what PoseTrack 2018 files and the official evaluator (poseval) use: the eye slots
  of COCO hold ``head_bottom`` and ``head_top`` instead; every other slot is the same joint.

The OKS sigmas of PoseTrack-17 are COCO's, slot for slot (as MMPose's PoseTrack18 metadata does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """A joint layout.

    Attributes:
        name: short identifier, e.g. ``"coco17"``.
        joints: joint names in channel order.
        sigmas: (K,) float32 per-joint OKS sigmas (COCO convention, fraction of object scale).
        flip_pairs: index pairs (left, right) swapped when an image is mirrored.
        limbs: index pairs drawn as bones.
    """

    name: str
    joints: tuple[str, ...]
    sigmas: np.ndarray = field(repr=False)
    flip_pairs: tuple[tuple[int, int], ...]
    limbs: tuple[tuple[int, int], ...]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    def flip_permutation(self) -> np.ndarray:
        """(K,) int: channel ``i`` of a mirrored prediction belongs to joint ``perm[i]``."""
        perm = np.arange(self.num_joints)
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return perm


_BODY = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_COCO_SIGMAS = np.array(
    [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89],
    dtype=np.float32,
) / 10.0
_BODY_FLIPS = tuple((i, i + 1) for i in range(5, 17, 2))
_BODY_LIMBS = (
    (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),  # shoulders and arms
    (5, 11), (6, 12), (11, 12),  # torso
    (11, 13), (13, 15), (12, 14), (14, 16),  # legs
)

COCO17 = Skeleton(
    name="coco17",
    joints=("nose", "left_eye", "right_eye", "left_ear", "right_ear", *_BODY),
    sigmas=_COCO_SIGMAS,
    flip_pairs=((1, 2), (3, 4), *_BODY_FLIPS),
    limbs=((0, 1), (0, 2), (1, 3), (2, 4), *_BODY_LIMBS),
)

POSETRACK17 = Skeleton(
    name="posetrack17",
    joints=("nose", "head_bottom", "head_top", "left_ear", "right_ear", *_BODY),
    sigmas=_COCO_SIGMAS,
    flip_pairs=((3, 4), *_BODY_FLIPS),
    limbs=((2, 0), (0, 1), (1, 5), (1, 6), *_BODY_LIMBS),
)

SKELETONS = {s.name: s for s in (COCO17, POSETRACK17)}


def joint_slots(source: Skeleton, target: Skeleton) -> np.ndarray:
    """For each joint of ``target``, its channel in ``source`` (matched by name), or -1 where ``source`` does not
    predict it (PoseTrack-17 → COCO-17: the eyes). (K_target,) int64."""
    where = {name: i for i, name in enumerate(source.joints)}
    return np.array([where.get(name, -1) for name in target.joints], np.int64)

def coco_to_posetrack(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert COCO-17 predictions to the PoseTrack-17 layout, by the published rule of PoseWarper's
    ``coco2posetrack`` (Bertasius et al., NeurIPS 2019), which the PoseTrack trackers built on it share:
    ``head_bottom`` (the neck) is the shoulder midpoint, and ``head_top`` mirrors it through the nose
    (nose - (neck - nose)). Each derived joint scores the least of the joints it comes from. poseval scores these two
    joints in its "Head" AP.

    Args:
        keypoints: (N, 17, 2) float32, x/y in image pixels, COCO order.
        scores: (N, 17) float32 keypoint scores.
    Returns:
        keypoints (N, 17, 2) and scores (N, 17) in PoseTrack order.
    """
    kp = keypoints.astype(np.float32, copy=True)
    sc = scores.astype(np.float32, copy=True)
    neck = 0.5 * (keypoints[:, 5] + keypoints[:, 6])
    nose = keypoints[:, 0]
    kp[:, 1] = neck
    kp[:, 2] = 2 * nose - neck
    sc[:, 1] = np.minimum(scores[:, 5], scores[:, 6])
    sc[:, 2] = np.minimum(sc[:, 1], scores[:, 0])
    return kp, sc
