"""Heatmaps → keypoints, vectorised over the batch.

* ``argmax``: integer peak plus the official quarter-pixel shift towards the higher neighbour.
* ``dark``: distribution-aware refinement (Zhang et al., CVPR 2020): blur the heatmap, take its log
  (a Gaussian becomes a quadratic), and solve the second-order Taylor expansion at the integer peak.
* ``flip_back``: undo a horizontal flip of the input (mirror, swap left/right channels, optional
  one-column shift), to average with the unflipped heatmaps.

Coordinates are heatmap pixels, x right and y down, pixel ``i`` at coordinate ``i``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from scipy.ndimage import gaussian_filter1d

Refine = Literal["argmax", "dark"]


def peaks(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer argmax of each channel.

    Args:
        heatmaps: (N, K, H, W) float.
    Returns:
        coords (N, K, 2) int64 (x, y) and maxvals (N, K) float32.
    """
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    idx = flat.argmax(axis=2)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0]
    return np.stack([idx % w, idx // w], axis=-1), maxvals.astype(np.float32)


def _at(heatmaps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """heatmaps[n, k, y[n, k], x[n, k]] for all n, k."""
    n, k = x.shape
    return heatmaps[np.arange(n)[:, None], np.arange(k)[None, :], y, x]


def quarter_offset(heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Official sub-pixel step: move 0.25 px towards the higher neighbour, in x and y separately.

    Only peaks strictly inside the border band (1 < x < W-1, 1 < y < H-1) move, as officially.
    Returns (N, K, 2) float32 offsets.
    """
    h, w = heatmaps.shape[2:]
    x, y = coords[..., 0], coords[..., 1]
    inside = (x > 1) & (x < w - 1) & (y > 1) & (y < h - 1)
    xc, yc = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)
    dx = _at(heatmaps, xc + 1, yc) - _at(heatmaps, xc - 1, yc)
    dy = _at(heatmaps, xc, yc + 1) - _at(heatmaps, xc, yc - 1)
    return (0.25 * np.sign(np.stack([dx, dy], axis=-1)) * inside[..., None]).astype(np.float32)


def dark_offset(heatmaps: np.ndarray, coords: np.ndarray, blur_sigma: float = 2.0) -> np.ndarray:
    """DARK sub-pixel offset: Newton step on log(blurred heatmap) at the integer peak.

    The blur (``blur_sigma`` in heatmap pixels, the training sigma) smooths the network's output into a
    Gaussian shape; its peak is rescaled to the original one so the log-domain stays comparable.
    The blur pads with zeros (as the reference DARK does), which pulls peaks that lie within about two
    ``blur_sigma`` of the heatmap border slightly inwards (≤ 0.06 px at 1.5 sigma, 0.26 px at 1 sigma).
    Peaks on the border ring, or where the Hessian is not negative definite, get no offset.
    Returns (N, K, 2) float32 offsets.
    """
    h, w = heatmaps.shape[2:]
    hm = heatmaps.astype(np.float64)
    if blur_sigma > 0:
        peak = hm.max(axis=(2, 3), keepdims=True)
        hm = gaussian_filter1d(gaussian_filter1d(hm, blur_sigma, axis=2, mode="constant"),
                               blur_sigma, axis=3, mode="constant")
        hm *= peak / np.maximum(hm.max(axis=(2, 3), keepdims=True), 1e-12)
    logh = np.log(np.maximum(hm, 1e-10))
    x, y = coords[..., 0], coords[..., 1]
    inside = (x >= 1) & (x <= w - 2) & (y >= 1) & (y <= h - 2)
    x, y = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)

    ox, oy, usable = newton_step(lambda dx, dy: _at(logh, x + dx, y + dy))
    ok = inside & usable
    offset = np.stack([ox, oy], axis=-1) * ok[..., None]
    return np.clip(offset, -1.0, 1.0).astype(np.float32)


def newton_step(f: Callable[[int, int], Any]) -> tuple[Any, Any, Any]:
    """DARK's step -H⁻¹g at the integer peak, from ``f(dx, dy)``: the log heatmap at peak + (dx, dy). Arithmetic
    only, so NumPy arrays and torch tensors both go through it. Returns (ox, oy, usable): zero offsets where the
    Hessian is not negative definite, and that mask."""
    center = f(0, 0)
    gx, gy = 0.5 * (f(1, 0) - f(-1, 0)), 0.5 * (f(0, 1) - f(0, -1))
    hxx = f(1, 0) - 2 * center + f(-1, 0)
    hyy = f(0, 1) - 2 * center + f(0, -1)
    hxy = 0.25 * (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1))
    det = hxx * hyy - hxy * hxy
    usable = (det > 1e-12) & (hxx < 0)
    safe = det * usable + (1 - 1 * usable)  # det where usable, else 1: no division by zero
    # offset = -H^-1 g, with the 2x2 inverse written out
    return -(hyy * gx - hxy * gy) / safe * usable, -(hxx * gy - hxy * gx) / safe * usable, usable


def decode(heatmaps: np.ndarray, refine: Refine = "argmax", blur_sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps → keypoints in heatmap pixels.

    Args:
        heatmaps: (N, K, H, W) float32.
        refine: ``"argmax"`` (official quarter-pixel shift) or ``"dark"``.
        blur_sigma: DARK's modulation blur, heatmap pixels.
    Returns:
        coords (N, K, 2) float32 (x, y) heatmap pixels, scores (N, K) float32 peak values.
        Channels whose peak is ≤ 0 keep their raw argmax.
    """
    coords, maxvals = peaks(heatmaps)
    if refine == "argmax":
        offset = quarter_offset(heatmaps, coords)
    elif refine == "dark":
        offset = dark_offset(heatmaps, coords, blur_sigma)
    else:
        raise ValueError(f"unknown refinement {refine!r}; use 'argmax' or 'dark'")
    offset *= (maxvals > 0)[..., None]
    return coords.astype(np.float32) + offset, maxvals


def flip_back(heatmaps: np.ndarray, flip_permutation: np.ndarray, shift: bool = True) -> np.ndarray:
    """Heatmaps of horizontally flipped inputs → heatmaps in the unflipped frame.

    Args:
        heatmaps: (N, K, H, W) output for mirrored crops.
        flip_permutation: (K,) channel permutation that swaps left/right joints.
        shift: move one column right (column x takes column x-1; column 0 keeps its value), the
            official ``SHIFT_HEATMAP`` fix for the flip's half-pixel misalignment.
    Returns:
        (N, K, H, W) new array.
    """
    out = heatmaps[:, flip_permutation, :, ::-1].copy()
    if shift:
        out[..., 1:] = out[..., :-1].copy()
    return out
