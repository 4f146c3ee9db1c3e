"""Person detection: a YOLO-layout network (the shipped detector or a user's exported Ultralytics model),
precomputed detections from a COCO results file, or ground-truth boxes.

Every source implements the ``Detector`` protocol: ``detect(frame) -> Detections`` with boxes in image pixels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from posetrack.backends import Backend
from posetrack.device.crops import upload
from posetrack.device.frames import frame_on_device, letterbox_input
from posetrack.errors import PosetrackError
from posetrack.io.files import read_json
from posetrack.models.zoo import DetectorRecord, Normalise
from posetrack.transforms import preprocess
from posetrack.types import Detections, Frame

log = logging.getLogger("posetrack")


@runtime_checkable
class Detector(Protocol):
    """A source of person boxes: the networks below, precomputed files, ground truth, or a user's own."""

    def detect(self, frame: Frame) -> Detections:
        """The persons of ``frame``: boxes (N, 4) x1, y1, x2, y2 in image pixels, scores (N,)."""
        ...


def letterbox(image: np.ndarray, size: tuple[int, int], fill: int = 114) -> tuple[np.ndarray, float, np.ndarray]:
    """Resize keeping the aspect ratio and pad to ``size`` (width, height), centred (the YOLO convention).

    Returns:
        (h, w, 3) uint8 image, scale (input px per image px), pad (2,) (x, y) in input pixels.
    """
    w, h = size
    scale = min(w / image.shape[1], h / image.shape[0])
    nw, nh = round(image.shape[1] * scale), round(image.shape[0] * scale)
    pad = np.array([(w - nw) / 2, (h - nh) / 2])
    out = np.full((h, w, 3), fill, np.uint8)
    x0, y0 = int(round(pad[0] - 0.1)), int(round(pad[1] - 0.1))
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, scale, np.array([x0, y0], np.float64)


def prepare_frame(image: np.ndarray, input_size: tuple[int, int], normalise: Normalise = "imagenet",
                  fill: int = 114) -> tuple[np.ndarray, float, np.ndarray]:
    """A BGR image → (1, 3, H, W) float32 detector input (letterboxed to ``input_size``, RGB, normalised), with
    the scale and pad of ``letterbox``."""
    boxed, scale, pad = letterbox(image, input_size, fill)
    if normalise == "unit":
        x = np.ascontiguousarray(boxed[None, ..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
    else:
        x = preprocess(boxed[None])
    return x, scale, pad


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression. boxes (N, 4) x1, y1, x2, y2; returns kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order]
    areas = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    iou = inter / np.maximum(areas[:, None] + areas[None, :] - inter, 1e-9)
    keep = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        if keep[i]:
            keep[i + 1:] &= iou[i, i + 1:] <= iou_threshold
    return order[keep]


def decode_yolo(output: np.ndarray, conf_threshold: float, iou_threshold: float, classes: Sequence[int] = (0,),
                max_detections: int = 100) -> list[tuple[np.ndarray, np.ndarray]]:
    """Decode a YOLO detection output ``[batch, 4 + num_classes, candidates]``.

    Returns, per image, boxes (M, 4) x1, y1, x2, y2 in input pixels and scores (M,), for candidates whose best
    class is in ``classes`` and scores at least ``conf_threshold``, after NMS.
    """
    if output.ndim != 3 or output.shape[1] < 5 or output.shape[1] >= output.shape[2]:
        hint = " (it looks transposed)" if output.ndim == 3 and output.shape[2] >= 5 else ""
        raise PosetrackError(f"detector output has shape {tuple(output.shape)}{hint}; expected the YOLO layout "
                             "[batch, 4 + classes, candidates] with more candidates than channels")
    results = []
    for out in output:
        cls_scores = out[4:]
        best = cls_scores.argmax(0)
        score = cls_scores[best, np.arange(out.shape[1])]
        keep = (score >= conf_threshold) & np.isin(best, classes)
        cx, cy, w, h = out[:4, keep]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
        score = score[keep].astype(np.float32)
        kept = nms(boxes, score, iou_threshold)[:max_detections]
        results.append((boxes[kept], score[kept]))
    return results


class YoloDetector:
    """Person detection with a YOLO-layout network.

    Args:
        backend: runs the network ((N, 3, H, W) normalised RGB → [N, 4 + C, candidates]).
        input_size: network input (width, height).
        conf_threshold / iou_threshold: score floor and NMS overlap.
        person_class: class index of "person" (0 in COCO-trained YOLO models and the shipped detector).
        normalise: ``"imagenet"`` (the shipped detector) or ``"unit"`` (Ultralytics: RGB / 255).
        fill: letterbox padding value.
        device_path: letterbox and normalise as device tensors (needs a backend with ``run_torch``); None: when
            the backend's device is a GPU.
    """

    def __init__(self, backend: Backend, input_size: tuple[int, int], conf_threshold: float = 0.3,
                 iou_threshold: float = 0.5, person_class: int = 0, normalise: Normalise = "imagenet",
                 max_detections: int = 100, fill: int = 114, device_path: bool | None = None):
        self.backend, self.input_size = backend, (int(input_size[0]), int(input_size[1]))
        self.device_path = device_path
        self.conf_threshold, self.iou_threshold = conf_threshold, iou_threshold
        self.person_class, self.normalise, self.max_detections = person_class, normalise, max_detections
        self.fill = fill

    @classmethod
    def from_record(cls, backend: Backend, record: DetectorRecord, conf_threshold: float | None = None) -> YoloDetector:
        """A detector with the input, normalisation and thresholds of ``record`` (``conf_threshold`` overrides)."""
        return cls(backend, record.input_size, record.conf_threshold if conf_threshold is None else conf_threshold,
                   record.iou_threshold, normalise=record.normalise, fill=record.fill)

    def _on_device(self) -> bool:
        if self.device_path is not None:
            return self.device_path and hasattr(self.backend, "run_torch")
        device = getattr(self.backend, "device", None)
        return hasattr(self.backend, "run_torch") and getattr(device, "type", "cpu") == "cuda"

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """Image → (1, 3, H, W) network input, scale and pad (see ``prepare_frame``)."""
        return prepare_frame(image, self.input_size, self.normalise, self.fill)

    def detect(self, frame: Frame | np.ndarray) -> Detections:
        image = frame.image if isinstance(frame, Frame) else frame
        if self._on_device():  # letterbox + normalise where the network runs; only its output comes back
            device = self.backend.device  # type: ignore[attr-defined]
            on_device = frame_on_device(frame, device) if isinstance(frame, Frame) else upload(image, device)
            x_dev, scale, pad_xy = letterbox_input(on_device, self.input_size, self.normalise, self.fill)
            outs = self.backend.run_torch({self.backend.input_names[0]: x_dev})  # type: ignore[attr-defined]
            out, pad = next(iter(outs.values())).float().cpu().numpy(), np.array(pad_xy)
        else:
            x, scale, pad = self.prepare(image)
            out = next(iter(self.backend.run({self.backend.input_names[0]: x}).values()))
        (boxes, scores), = decode_yolo(out, self.conf_threshold, self.iou_threshold, (self.person_class,),
                                       self.max_detections)
        boxes = (boxes - np.tile(pad, 2)) / scale
        h, w = image.shape[:2]
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        return Detections(boxes, scores)


class PrecomputedDetections:
    """Boxes from a COCO detection-results JSON (``[{"image_id", "bbox": [x, y, w, h], "score", "category_id"}]``),
    ``image_id`` being the 0-based frame index.

    Every entry is checked when the file is read (a missing field, a non-finite number, a non-positive size or a
    negative frame index is a ``PosetrackError`` naming the file and the entry). Boxes reaching outside a frame
    are clipped to it, and dropped if nothing is left, with one warning per file.
    """

    def __init__(self, path: str | Path, min_score: float = 0.0, category_id: int | None = 1):
        self.path = path = Path(path)
        rows = read_json(path)
        if not isinstance(rows, list):
            raise PosetrackError(f"{path}: expected a COCO detection-results list")
        self._by_frame: dict[int, list[tuple[list[float], float]]] = {}
        self._warned = False
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
