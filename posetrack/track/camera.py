"""How the camera moved between two frames, from the background: corners outside the people's boxes followed by
Lucas–Kanade flow, and a similarity transform (rotation, scale, translation) fitted to them with RANSAC (what
BoT-SORT's sparse-flow camera motion compensation does). People are masked out, so a crowd walking one way past a
still camera is no camera motion; too few points, or no fit, is no motion."""

from __future__ import annotations

import cv2
import numpy as np

from posetrack.options import FlowConfig
from posetrack.track.flow import track_points

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
MAX_CORNERS = 120
MIN_POINTS = 10
MIN_SIDE = 180  # pixels of the flow image's shorter side from which the camera is measured at half resolution


def camera_motion(prev_gray: np.ndarray, gray: np.ndarray, people: np.ndarray, config: FlowConfig,
                  scale: float = 1.0) -> np.ndarray:
    """(2, 3) affine map of the previous frame's pixels onto the current frame's.

    Args:
        prev_gray, gray: the two frames as ``flow.to_gray`` made them, ``scale`` times the frame's size.
        people: (N, 4) x1, y1, x2, y2 boxes of the people in the previous frame, pixels of the frame (masked out).
    """
    if min(prev_gray.shape) >= 2 * MIN_SIDE:  # the whole picture moves: half the resolution measures it as well,
        prev_gray, gray, scale = cv2.pyrDown(prev_gray), cv2.pyrDown(gray), scale / 2  # at a quarter of the cost
    mask = np.full(prev_gray.shape, 255, np.uint8)
    h, w = prev_gray.shape
    for x1, y1, x2, y2 in np.round(np.asarray(people, np.float64).reshape(-1, 4) * scale).astype(int):
        mask[max(y1, 0):max(min(y2, h), 0), max(x1, 0):max(min(x2, w), 0)] = 0
    corners = cv2.goodFeaturesToTrack(prev_gray, MAX_CORNERS, 0.01, 4, mask=mask, blockSize=3)
    if corners is None or len(corners) < MIN_POINTS:
        return IDENTITY.copy()
    points = corners.reshape(-1, 2)
    moved, ok = track_points(prev_gray, gray, points, config)
    if ok.sum() < MIN_POINTS:
        return IDENTITY.copy()
    warp, inliers = cv2.estimateAffinePartial2D(points[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if warp is None or inliers is None or inliers.sum() < MIN_POINTS:
        return IDENTITY.copy()
    warp = warp.astype(np.float64)
    warp[:, 2] /= scale  # the scaled image's translation, in pixels of the frame
    return warp
