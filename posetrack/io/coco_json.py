"""COCO keypoint results (``[{"image_id", "category_id", "keypoints": [x, y, v] * K, "score"}]``), the format
pycocotools' COCOeval and most pose tools read.

A video's results name their frames by ``video_image_id``: ``crc32(video stem) * 1_000_000 + frame index``, so the
results of the videos of one output folder can be concatenated (ids stay unique while stems' CRC-32s differ,
which two of a thousand stems share with a chance of about 1 in 10,000) and stay below 2**53 (exact in
JavaScript's numbers).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from posetrack.io.files import atomic_path

FRAMES_PER_VIDEO_ID = 1_000_000  # frame indices below this (11 hours at 25 fps) keep ids unique


def video_image_id(stem: str, index: int) -> int:
    """The COCO image id of frame ``index`` of the video called ``stem`` (module docstring)."""
    if not 0 <= index < FRAMES_PER_VIDEO_ID:
        raise ValueError(f"frame index {index} outside 0..{FRAMES_PER_VIDEO_ID - 1}")
    return zlib.crc32(stem.encode()) * FRAMES_PER_VIDEO_ID + index


def keypoint_result(image_id: int, keypoints: np.ndarray, scores: np.ndarray, predicted: np.ndarray | None = None,
                    **extra: object) -> dict:
    """One person as a COCO keypoint result.

    Args:
        keypoints: (K, 2) float, x/y in image pixels. scores: (K,) keypoint scores.
        predicted: (K,) bool, the joints the model predicts (None: all). The others are written as ``0, 0, 0``
            (v = 0: not labelled) and left out of the person's score.
        extra: fields added as given (e.g. ``track_id``).
    Returns:
        ``score`` = the mean score of the predicted joints; each predicted joint flagged v = 1 (COCOeval ignores
        the flags of results; v = 0 marks what was never predicted).
    """
    known = np.ones(len(keypoints), bool) if predicted is None else np.asarray(predicted, bool)
    triples = np.zeros((len(keypoints), 3))
    triples[known, :2], triples[known, 2] = keypoints[known], 1
    score = float(np.mean(scores[known])) if known.any() else 0.0
    return {"image_id": int(image_id), "category_id": 1, "score": score, "keypoints": triples.round(2).ravel().tolist(),
            **extra}


def write_results(results: Iterable[dict], path: str | Path) -> Path:
    """Write COCO results as a JSON list, streamed (``results`` may be a generator), to a temporary file renamed
    into place: a half-written file never has the name."""
    path = Path(path)
    with atomic_path(path) as draft, draft.open("w", encoding="utf-8") as f:
        f.write("[")
        for i, result in enumerate(results):
            f.write(("," if i else "") + json.dumps(result, separators=(",", ":"), allow_nan=False))
        f.write("]")
    return path
