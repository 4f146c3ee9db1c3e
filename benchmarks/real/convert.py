"""The real poses of ``../shared/real`` (``poses-*.npz``: a real pose model's COCO-17 keypoints for every box of a
sequence's ground truth, public detections or YOLOX boxes) as COCO keypoint results, what ``posetrack run --poses``
reads: ``image_id`` = the 0-based frame index, ``keypoints`` = x, y, score per joint, ``score`` = the box's score,
``bbox`` = the box the pose was estimated in (x, y, w, h).

    python benchmarks/real/convert.py ../shared/real/TUD-Campus/poses-gt.npz out.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def coco_results(npz: Path) -> list[dict]:
    """One COCO keypoint result per pose of the recording, in its order."""
    rec = np.load(npz)
    rows = []
    for frame, box, score, kp, kp_scores in zip(rec["frame"], rec["boxes"], rec["box_scores"], rec["kp"],
                                                rec["kp_scores"]):
        x1, y1, x2, y2 = (float(v) for v in box)
        joints = np.concatenate([kp, kp_scores[:, None]], 1).astype(np.float64)
        rows.append({"image_id": int(frame), "category_id": 1, "score": round(float(score), 5),
                     "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                     "keypoints": [round(float(v), 3) for v in joints.ravel()]})
    return rows


def convert(npz: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(coco_results(npz), separators=(",", ":")))
    return out


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
