"""Training targets for heatmap regression (the official HRNet recipe, with sub-pixel centres)."""

from __future__ import annotations

import numpy as np


def gaussian_heatmaps(keypoints: np.ndarray, weights: np.ndarray, size: tuple[int, int], stride: float,
                      sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian targets centred on the joints, and per-joint target weights.

    Heatmap pixel i stands for input pixel ``stride * i`` (the decoding convention of ``posetrack.heatmaps``).
    Centres are sub-pixel (the official code rounds them to whole heatmap pixels, a bias DARK removes).

    Args:
        keypoints: (N, K, 2) input-image pixels. weights: (N, K) 1 for joints to learn, 0 otherwise.
        size: heatmap (width, height). stride: input pixels per heatmap pixel. sigma: heatmap pixels.
    Returns:
        heatmaps (N, K, H, W) float32 with peak 1, and weights (N, K) float32, zeroed where a joint's
        Gaussian would lie entirely outside the heatmap (the official 3-sigma rule).
    """
    w, h = size
    mu = keypoints / stride
    margin = 3 * sigma
    inside = (mu[..., 0] >= -margin) & (mu[..., 0] < w + margin) & (mu[..., 1] >= -margin) & (mu[..., 1] < h + margin)
    weights = (weights * inside).astype(np.float32)
    gx = np.exp(-((np.arange(w, dtype=np.float32) - mu[..., 0:1]) ** 2) / (2 * sigma**2))  # (N, K, W)
    gy = np.exp(-((np.arange(h, dtype=np.float32) - mu[..., 1:2]) ** 2) / (2 * sigma**2))  # (N, K, H)
    heatmaps = gy[..., :, None] * gx[..., None, :] * weights[..., None, None]
    return heatmaps.astype(np.float32), weights
