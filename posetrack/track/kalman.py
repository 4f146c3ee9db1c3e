"""A constant-velocity Kalman filter of person boxes, vectorised over tracks: the motion model of SORT (Bewley et
al. 2016) in the box parametrisation of BoT-SORT (Aharon et al. 2022): the state is the box centre, width and
height and their velocities, ``(cx, cy, w, h, vcx, vcy, vw, vh)``, and every noise is proportional to the box's size
(a person far away moves fewer pixels), with SORT's and BoT-SORT's weights.

Where the tracker could not see a person for a while, the filter's prediction carries them on at their last
velocity, with an uncertainty that grows every frame.
"""

from __future__ import annotations

import numpy as np

WEIGHT_POSITION = 1.0 / 20  # standard deviation of a box side's position noise, per unit of box size
WEIGHT_VELOCITY = 1.0 / 160  # ... and of its velocity noise (pixels per frame)

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)  # position += velocity, once a frame
_H = np.eye(4, 8)  # a measurement is the box itself


def xyxy_to_state(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 → (N, 4) cx, cy, w, h."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.concatenate([0.5 * (boxes[:, :2] + boxes[:, 2:]), boxes[:, 2:] - boxes[:, :2]], 1)


def state_to_xyxy(state: np.ndarray) -> np.ndarray:
    """(N, >=4) cx, cy, w, h, ... → (N, 4) float32 x1, y1, x2, y2."""
    half = 0.5 * state[:, 2:4]
    return np.concatenate([state[:, :2] - half, state[:, :2] + half], 1).astype(np.float32)


def _sizes(mean: np.ndarray) -> np.ndarray:
    """(N, 4) w, h, w, h of each state (the scale of its noises), at least a pixel."""
    wh = np.maximum(mean[:, 2:4], 1.0)
    return np.concatenate([wh, wh], 1)


def initiate(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks at ``boxes`` (N, 4) x1, y1, x2, y2, at rest: mean (N, 8) and covariance (N, 8, 8)."""
    measured = xyxy_to_state(boxes)
    mean = np.concatenate([measured, np.zeros_like(measured)], 1)
    size = _sizes(mean)
    std = np.concatenate([2 * WEIGHT_POSITION * size, 10 * WEIGHT_VELOCITY * size], 1)
    return mean, np.einsum("ni,ij->nij", std ** 2, np.eye(8))


def predict(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame ahead: (N, 8), (N, 8, 8) → the same, moved by the velocities, more uncertain."""
    size = _sizes(mean)
    q = np.concatenate([WEIGHT_POSITION * size, WEIGHT_VELOCITY * size], 1) ** 2
    mean = mean @ _F.T
    cov = _F @ cov @ _F.T + np.einsum("ni,ij->nij", q, np.eye(8))
    return mean, cov


def update(mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The states corrected by measured ``boxes`` (N, 4) x1, y1, x2, y2 (one per state)."""
    if len(mean) == 0:
        return mean, cov
    r = (WEIGHT_POSITION * _sizes(mean)) ** 2
    projected = cov[:, :4, :4] + np.einsum("ni,ij->nij", r, np.eye(4))  # H P Hᵀ + R
    cross = cov[:, :, :4]  # P Hᵀ
    gain = np.linalg.solve(projected, cross.transpose(0, 2, 1)).transpose(0, 2, 1)  # P Hᵀ (H P Hᵀ + R)⁻¹
    innovation = xyxy_to_state(boxes) - mean[:, :4]
    mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    cov = cov - gain @ projected @ gain.transpose(0, 2, 1)
    return mean, cov


def shifted(mean: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """The states seen through a camera motion ``warp`` (2, 3) (an affine map of the previous frame's pixels onto
    this frame's): centres mapped, sizes and velocities scaled and rotated with it."""
    if len(mean) == 0:
        return mean
    linear, scale = warp[:, :2], float(np.sqrt(abs(np.linalg.det(warp[:, :2]))))
    out = mean.copy()
    out[:, :2] = mean[:, :2] @ linear.T + warp[:, 2]
    out[:, 2:4] = mean[:, 2:4] * scale
    out[:, 4:6] = mean[:, 4:6] @ linear.T
    out[:, 6:8] = mean[:, 6:8] * scale
    return out
