"""Moving keypoints from the previous frame into the current one with optical flow.

This is the flow-based propagation of Simple Baselines (Xiao et al., ECCV 2018), done sparsely: pyramidal
Lucas–Kanade on the keypoints themselves, kept only where the backward flow returns to the start
(forward–backward check). Points whose flow fails move with the median of their person's good points, or
with the frame's median motion (the camera) when the person has none.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from posetrack.options import FlowConfig


def to_gray(image: np.ndarray, max_side: int | None = None) -> np.ndarray:
    """(H, W, 3) BGR or (H, W) → uint8 grayscale, scaled down (area averaging) so that its longer side is at most
    ``max_side`` (None: full size)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = flow_scale(gray.shape, max_side)
    if scale == 1.0:
        return gray
    size = (round(gray.shape[1] * scale), round(gray.shape[0] * scale))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def flow_scale(shape: tuple[int, ...], max_side: int | None) -> float:
    """The factor ``to_gray`` scales a frame of ``shape`` (H, W, ...) by: at most 1."""
    return 1.0 if max_side is None else min(1.0, max_side / max(shape[:2]))


def track_points(prev_gray: np.ndarray, gray: np.ndarray, points: np.ndarray,
                 config: FlowConfig = FlowConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Lucas–Kanade flow of (N, 2) points with a forward–backward check.

    Returns:
        moved (N, 2) float32 positions in ``gray`` and ok (N,) bool (flow found and round trip within
        ``fb_threshold``).
    """
    if len(points) == 0:
        return np.zeros((0, 2), np.float32), np.zeros(0, bool)
    p0 = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 1, 2)
    params = {"winSize": (config.win_size, config.win_size), "maxLevel": config.max_level,
                  "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev_gray, gray, p0, None, **params)  # type: ignore[call-overload]
    back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, prev_gray, p1, None, **params)  # type: ignore[call-overload]
    fb = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb < config.fb_threshold)
    return p1.reshape(-1, 2), ok


def propagate(prev_gray: np.ndarray, gray: np.ndarray, keypoints: np.ndarray, use: np.ndarray,
              config: FlowConfig = FlowConfig(), scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Move the poses of the previous frame into the current one.

    Args:
        prev_gray, gray: the two frames as ``to_gray`` made them, ``scale`` times the frame's size.
        keypoints: (M, K, 2) previous-frame keypoints, pixels of the frame.
        use: (M, K) bool, the keypoints worth tracking (confident ones).
    Returns:
        moved (M, K, 2) float32 keypoints, and the frame's median motion (2,) (zero when nothing tracked), pixels
        of the frame.
    """
    moved = keypoints.astype(np.float32, copy=True)
    idx = np.nonzero(use)
    flow = config if scale == 1.0 else replace(config, fb_threshold=config.fb_threshold * scale)
    new, ok = track_points(prev_gray, gray, keypoints[idx] * scale, flow)
    new = new / scale if scale != 1.0 else new
    shift = new - keypoints[idx]
    global_shift = np.median(shift[ok], axis=0) if ok.any() else np.zeros(2, np.float32)
    person_shift = np.tile(global_shift, (len(keypoints), 1)).astype(np.float32)
    for m in np.unique(idx[0][ok]):
        person_shift[m] = np.median(shift[ok & (idx[0] == m)], axis=0)
    moved += person_shift[:, None, :]  # every point moves with its person first ...
    good = (idx[0][ok], idx[1][ok])
    moved[good] = new[ok]  # ... and points with trusted flow take their own
    return moved, global_shift.astype(np.float32)
