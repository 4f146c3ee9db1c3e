"""Drawing tracked skeletons: one stable colour per track id, joints by confidence, id labels, an FPS overlay."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from posetrack.io.posetrack_json import KEYPOINT_THRESHOLD
from posetrack.types import Poses, TrackedPoses

_GOLDEN = 0.618033988749895


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A vivid BGR colour per id; neighbouring ids get far-apart hues (golden-ratio steps)."""
    r, g, b = colorsys.hsv_to_rgb((track_id * _GOLDEN) % 1.0, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_poses(image: np.ndarray, poses: Poses | TrackedPoses, min_score: float = KEYPOINT_THRESHOLD,
               fps: float | None = None) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) BGR with the skeletons drawn (keypoints below ``min_score`` left out)."""
    out = image.copy()
    scale = max(1, round(min(out.shape[:2]) / 360))
    ids = getattr(poses, "track_ids", None)
    for n in range(len(poses)):
        colour = track_colour(int(ids[n])) if ids is not None else (0, 255, 0)
        kp, ok = poses.keypoints[n], poses.scores[n] >= min_score
        for a, b in poses.skeleton.limbs:
            if ok[a] and ok[b]:
                cv2.line(out, _pt(kp[a]), _pt(kp[b]), colour, 2 * scale, cv2.LINE_AA)
        for j in np.flatnonzero(ok):
            cv2.circle(out, _pt(kp[j]), 2 * scale + 1, colour, -1, cv2.LINE_AA)
        if ids is not None:
            x1, y1 = poses.boxes[n, :2]
            _label(out, f"{int(ids[n])}", (int(x1), max(int(y1) - 4 * scale, 12 * scale)), colour, scale)
    if fps is not None:
        _label(out, f"{fps:5.1f} FPS", (8 * scale, 22 * scale), (255, 255, 255), scale)
    return out


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _label(image: np.ndarray, text: str, origin: tuple[int, int], colour: tuple[int, int, int], scale: int) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 0, 0), 3 * scale, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, colour, scale, cv2.LINE_AA)
