"""Detector outputs in every common export layout → person boxes in network-input pixels.

The layouts and how they are recognised from the outputs are ``models.layouts``'s (a user's file is read by what it
is when its record is made); here they are decoded. Every layout ends in the same rule: the person class, a score
floor, greedy NMS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posetrack.errors import PosetrackError
from posetrack.models.layouts import YOLOX_STRIDES, infer_layout

Boxes = tuple[np.ndarray, np.ndarray]  # (M, 4) float32 x1, y1, x2, y2 input pixels; (M,) float32 scores


def decode(outputs: Sequence[np.ndarray], layout: str, conf: float, iou: float, person_class: int = 0,
           max_detections: int = 100, input_size: tuple[int, int] | None = None) -> list[Boxes]:
    """Per image of the batch: the person boxes scoring at least ``conf``, after NMS at ``iou``, best first.
    ``input_size`` (width, height) is needed by ``yolox-raw`` only (its grids)."""
    if layout == "auto":
        layout = infer_layout(outputs, input_size)
    if layout == "ultralytics":
        per_image = [_class_scores(out[:4].T, out[4:].T) for out in outputs[0]]
    elif layout == "yolov5":
        per_image = [_class_scores(out[:, :4], out[:, 4:5] * out[:, 5:]) for out in outputs[0]]
    elif layout == "yolox-raw":
        if input_size is None:
            raise ValueError("yolox-raw needs the network's input size")
        grids, strides = _yolox_grids(input_size)
        per_image = []
        for out in outputs[0]:
            xy = (out[:, :2] + grids) * strides
            wh = np.exp(out[:, 2:4]) * strides
            per_image.append(_class_scores(np.concatenate([xy, wh], 1), out[:, 4:5] * out[:, 5:]))
    elif layout == "post-nms":
        per_image = [(out[:, :4], out[:, 4], out[:, 5].astype(np.int64)) for out in outputs[0]]
    elif layout == "mmdeploy":
        dets, labels = (outputs[0], outputs[1]) if outputs[0].ndim == 3 else (outputs[1], outputs[0])
        per_image = [(d[:, :4], d[:, 4], lab.astype(np.int64)) for d, lab in zip(dets, labels)]
    else:
        raise PosetrackError(f"unknown detector layout {layout!r}")
    return [_keep(boxes, scores, classes, conf, iou, person_class, max_detections)
            for boxes, scores, classes in per_image]


def _class_scores(cxcywh: np.ndarray, class_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre-size boxes and per-class scores → corner boxes, best class score, best class."""
    best = class_scores.argmax(1)
    score = class_scores[np.arange(len(best)), best]
    cx, cy, w, h = cxcywh.T
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1), score, best


def _yolox_grids(input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    w, h = input_size
    grids, strides = [], []
    for s in YOLOX_STRIDES:
        ys, xs = np.mgrid[: h // s, : w // s]
        grids.append(np.stack([xs.ravel(), ys.ravel()], 1))
        strides.append(np.full((xs.size, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def _keep(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, conf: float, iou: float, person_class: int,
          max_detections: int) -> Boxes:
    keep = (scores >= conf) & (classes == person_class) & np.isfinite(boxes).all(1)
    boxes, scores = boxes[keep].astype(np.float32), scores[keep].astype(np.float32)
    kept = nms(boxes, scores, iou)[:max_detections]
    return boxes[kept], scores[kept]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression. boxes (N, 4) x1, y1, x2, y2; returns kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order]
    areas = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    overlap = inter / np.maximum(areas[:, None] + areas[None, :] - inter, 1e-9)
    keep = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        if keep[i]:
            keep[i + 1:] &= overlap[i, i + 1:] <= iou_threshold
    return order[keep]
