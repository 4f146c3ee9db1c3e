"""An appearance cue: the colours a person wears, as a hue-saturation histogram of the middle of their box.

Cheap (one small histogram per person, no network), and it tells apart two people whose poses and boxes are
alike, e.g. when one reappears after walking behind another.
"""

from __future__ import annotations

import cv2
import numpy as np

HUE_BINS, SATURATION_BINS = 12, 4
SIGNATURE = HUE_BINS * SATURATION_BINS
# The part of a box that is the person's clothes rather than background: the middle half in x, and from the
# shoulders to the thighs in y (fractions of the box).
_REGION = (0.25, 0.2, 0.75, 0.65)


def colour_signatures(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, SIGNATURE) float32 L1-normalised hue x saturation histograms of each box's clothes region.

    Args:
        image: (H, W, 3) uint8 BGR frame.
        boxes: (N, 4) x1, y1, x2, y2 in image pixels.
    """
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), SIGNATURE), np.float32)
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    size = b[:, 2:] - b[:, :2]
    lo = np.clip(b[:, :2] + np.array(_REGION[:2]) * size, 0, [w, h]).astype(int)
    hi = np.clip(b[:, :2] + np.array(_REGION[2:]) * size, 0, [w, h]).astype(int)
    for i in np.flatnonzero(((hi - lo) >= 2).all(1)).tolist():
        hsv = cv2.cvtColor(image[lo[i, 1]:hi[i, 1], lo[i, 0]:hi[i, 0]], cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256]).ravel()
        out[i] = hist / max(float(hist.sum()), 1.0)
    return out


def appearance_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, N) histogram intersection in [0, 1] of signatures (M, D) and (N, D); 0 where either is empty."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return np.minimum(a[:, None, :], b[None, :, :]).sum(-1)


DISTINCT = 0.2  # a colour match this much better than the next best is fully telling


def distinctness(similarity: np.ndarray) -> np.ndarray:
    """(M, 1) in [0, 1]: how far each row's best colour match stands out from its second best (``DISTINCT`` or more:
    1; a row with one candidate: its similarity itself), so colours weigh only where they tell people apart."""
    if similarity.shape[1] == 0:
        return np.zeros((len(similarity), 1))
    ordered = -np.sort(-similarity, axis=1)
    second = ordered[:, 1] if similarity.shape[1] > 1 else np.zeros(len(similarity))
    return np.clip((ordered[:, 0] - second) / DISTINCT, 0.0, 1.0)[:, None]
