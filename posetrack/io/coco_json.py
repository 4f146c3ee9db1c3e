"""COCO keypoint results (``[{"image_id", "category_id", "keypoints": [x, y, v] * K, "score"}]``), the format
pycocotools' COCOeval and most pose tools read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def keypoint_result(image_id: int, keypoints: np.ndarray, scores: np.ndarray, **extra: object) -> dict:
    """One person as a COCO keypoint result: (K, 2) image pixels and (K,) scores; score = mean keypoint score, every
    keypoint flagged 1 (COCOeval ignores result flags). ``extra`` fields (e.g. ``track_id``) are added as given."""
    flat = np.concatenate([keypoints, np.ones((len(keypoints), 1))], 1).round(2).ravel().tolist()
    return {"image_id": int(image_id), "category_id": 1, "score": float(np.mean(scores)), "keypoints": flat, **extra}


def write_results(results: Iterable[dict], path: str | Path) -> Path:
    """Write COCO results as a JSON list, streamed (``results`` may be a generator), to a temporary file renamed
    into place: a half-written file never has the name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as f:
        f.write("[")
        for i, result in enumerate(results):
            f.write(("," if i else "") + json.dumps(result, separators=(",", ":"), allow_nan=False))
        f.write("]")
    tmp.replace(path)
    return path
