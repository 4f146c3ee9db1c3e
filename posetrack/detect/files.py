"""Person boxes that come from files or from ground truth instead of a network."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from posetrack.errors import PosetrackError
from posetrack.io.files import read_json
from posetrack.io.mot import is_mot_file, read_mot
from posetrack.types import Detections, Frame

log = logging.getLogger("posetrack")


class PrecomputedDetections:
    """Boxes from a file, recognised by its content: COCO detection results (a JSON list of ``{"image_id", "bbox":
    [x, y, w, h], "score", "category_id"}``, ``image_id`` the 0-based frame index), or a MOTChallenge ``det.txt``
    (``frame,id,x,y,w,h,score,...`` lines, frames 1-based: MOT frame k is the source's frame k - 1).

    Every entry is checked when the file is read (a missing field, a non-finite number, a non-positive size or a
    negative frame index is a ``PosetrackError`` naming the file and the entry). Boxes reaching outside a frame
    are clipped to it, and dropped if nothing is left, with one warning per file.
    """

    def __init__(self, path: str | Path, min_score: float = 0.0, category_id: int | None = 1):
        self.path = path = Path(path)
        self._by_frame: dict[int, list[tuple[list[float], float]]] = {}
        self._warned = False
        if is_mot_file(path):
            mot = read_mot(path)
            for frame, box, score in zip(mot.frames.tolist(), mot.boxes.tolist(), mot.scores.tolist()):
                if box[2] > 0 and box[3] > 0 and score >= min_score:
                    self._by_frame.setdefault(frame - 1, []).append((box, score))
            return
        rows = read_json(path)
        if not isinstance(rows, list):
            raise PosetrackError(f"{path}: expected a COCO detection-results list or MOTChallenge det.txt lines")
        for k, r in enumerate(rows):
            try:
                index, box, score = _detection(r)
            except KeyError as exc:
                raise PosetrackError(f"{path}: detection entry {k}: no {exc} field") from None
            except (TypeError, ValueError) as exc:
                raise PosetrackError(f"{path}: detection entry {k}: {exc}") from None
            if (category_id is None or r.get("category_id", category_id) == category_id) and score >= min_score:
                self._by_frame.setdefault(index, []).append((box, score))

    def detect(self, frame: Frame) -> Detections:
        rows = self._by_frame.get(frame.index, [])
        if not rows:
            return Detections.empty()
        xywh = np.array([b for b, _ in rows], np.float32).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
        h, w = frame.image.shape[:2]
        clipped = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        scores = np.array([s for _, s in rows], np.float32)
        if not self._warned and not np.array_equal(clipped, boxes):
            log.warning("%s: boxes reach outside the %dx%d frame (first in frame %d); clipped to it", self.path, w,
                        h, frame.index)
            self._warned = True
        keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
        return Detections(clipped[keep], scores[keep])


def _detection(row: object) -> tuple[int, list[float], float]:
    """(frame index, [x, y, w, h], score) of a detection entry; ValueError/KeyError/TypeError saying what is wrong."""
    if not isinstance(row, dict):
        raise TypeError(f"expected an object, got {type(row).__name__}")
    index, box, score = row["image_id"], row["bbox"], row["score"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"image_id {index!r} is not a frame index (an integer from 0)")
    if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
        raise ValueError(f"bbox {box!r} is not [x, y, width, height] numbers")
    if not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"bbox {box!r} has a non-finite number or a size that is not positive")
    if not _is_number(score) or not math.isfinite(score):
        raise ValueError(f"score {score!r} is not a finite number")
    return index, [float(v) for v in box], float(score)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class GroundTruthDetections:
    """Ground-truth boxes per frame index (e.g. from a synthetic clip), score 1: pose quality apart from detection."""

    def __init__(self, boxes_per_frame: Sequence[np.ndarray]):
        self._boxes = list(boxes_per_frame)

    def detect(self, frame: Frame) -> Detections:
        boxes = self._boxes[frame.index] if frame.index < len(self._boxes) else np.zeros((0, 4), np.float32)
        return Detections(boxes, np.ones(len(boxes), np.float32))
