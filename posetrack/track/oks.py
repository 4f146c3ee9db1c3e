"""Pose and box similarity for association, vectorised over all pairs."""

from __future__ import annotations

import numpy as np


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 → (N,) areas (zero for degenerate boxes)."""
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, 4), (N, 4) x1, y1, x2, y2 → (M, N) intersection over union."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    union = box_areas(a)[:, None] + box_areas(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def oks(a: np.ndarray, b: np.ndarray, sigmas: np.ndarray, areas: np.ndarray,
        valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Object keypoint similarity (COCO) of every pose in ``a`` with every pose in ``b``.

    OKS = mean over the shared valid joints of exp(-d² / (2 · area · (2σ)²)).

    Args:
        a: (M, K, 2) and b: (N, K, 2) keypoints, pixels.
        sigmas: (K,) per-joint COCO sigmas.
        areas: (M, N) object scale s² in square pixels (e.g. the mean box area of the pair).
        valid: (M, N, K) bool, which joints to compare (default all).
    Returns:
        similarity (M, N) in [0, 1] (0 where no joint is shared) and the shared-joint counts (M, N).
    """
    d2 = ((a[:, None] - b[None]) ** 2).sum(-1)
    e = d2 / (2.0 * np.maximum(areas, 1.0)[..., None] * (2.0 * sigmas) ** 2)
    per_joint = np.exp(-e)
    if valid is None:
        valid = np.ones(per_joint.shape, bool)
    count = valid.sum(-1)
    return np.where(count > 0, (per_joint * valid).sum(-1) / np.maximum(count, 1), 0.0), count


def confident_oks(keypoints_a: np.ndarray, scores_a: np.ndarray, boxes_a: np.ndarray, keypoints_b: np.ndarray,
                  scores_b: np.ndarray, boxes_b: np.ndarray, sigmas: np.ndarray,
                  min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """``oks`` of poses A (M, K, 2) with poses B (N, K, 2) over the joints both hold with at least ``min_score``,
    on the mean box area of each pair: similarity (M, N) and shared-joint counts (M, N)."""
    valid = (scores_a[:, None] >= min_score) & (scores_b[None] >= min_score)
    areas = 0.5 * (box_areas(boxes_a)[:, None] + box_areas(boxes_b)[None, :])
    return oks(keypoints_a, keypoints_b, sigmas, areas, valid)
