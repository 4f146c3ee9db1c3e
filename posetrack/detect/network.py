"""A person detector network behind the ``Detector`` protocol: letterbox and normalise a frame as its record says,
run it, decode its outputs in their layout (``detect.layouts``) and undo the letterbox."""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

import numpy as np

from posetrack.backends import Backend
from posetrack.backends.base import device_path
from posetrack.detect.layouts import decode, infer_layout
from posetrack.device.crops import upload
from posetrack.device.frames import frame_on_device, letterbox_input
from posetrack.models.records import DetectorRecord
from posetrack.transforms import IMAGENET, Preprocess, letterbox
from posetrack.types import Detections, Frame


@runtime_checkable
class Detector(Protocol):
    """A source of person boxes: the networks below, precomputed files, ground truth, or a user's own."""

    def detect(self, frame: Frame) -> Detections:
        """The persons of ``frame``: boxes (N, 4) x1, y1, x2, y2 in image pixels, scores (N,)."""
        ...


def prepare_frame(image: np.ndarray, input_size: tuple[int, int],
                  preprocess: Preprocess = IMAGENET) -> tuple[np.ndarray, float, np.ndarray]:
    """A BGR image → (1, 3, H, W) float32 network input (letterboxed to ``input_size`` and normalised as
    ``preprocess`` says), with the scale and pad of ``transforms.letterbox``."""
    boxed, scale, pad = letterbox(image, input_size, preprocess.fill, preprocess.placement)
    return preprocess(boxed[None]), scale, pad


class NetworkDetector:
    """Person detection with a network of any layout ``detect.layouts`` reads.

    Args:
        backend: runs the network ((1, 3, H, W) → its outputs).
        record: the model: input size, preprocessing, layout, person class, default thresholds.
        conf / iou: score floor and NMS overlap (None: the record's); for networks with NMS inside, a lower
            ``iou`` than theirs removes more boxes, a higher one cannot bring any back.
        max_detections: boxes per frame at most.
        device_path: letterbox and normalise as device tensors (a ``DeviceBackend``); None: when it runs on a GPU.
    """

    def __init__(self, backend: Backend, record: DetectorRecord, conf: float | None = None, iou: float | None = None,
                 max_detections: int = 100, device_path: bool | None = None):
        self.backend, self.record = backend, record
        self.input_size = record.input_size
        self.conf = record.conf_threshold if conf is None else conf
        self.iou = record.iou_threshold if iou is None else iou
        self.max_detections, self.device_path = max_detections, device_path
        self.layout = record.layout
        self._lock = threading.Lock()  # the detect stage and on-demand detection share the network

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """Image → (1, 3, H, W) network input, scale and pad (see ``prepare_frame``)."""
        return prepare_frame(image, self.input_size, self.record.preprocess)

    def detect(self, frame: Frame | np.ndarray) -> Detections:
        image = frame.image if isinstance(frame, Frame) else frame
        device = device_path(self.backend, self.device_path)
        with self._lock:
            if device is not None:  # letterbox + normalise where the network runs; only its output comes back
                on_device = frame_on_device(frame, device.device) if isinstance(frame, Frame) else upload(
                    image, device.device)
                x_dev, scale, pad_xy = letterbox_input(on_device, self.input_size, self.record.preprocess)
                outs = device.run_torch({device.input_names[0]: x_dev})
                outputs = [o.float().cpu().numpy() for o in outs.values()]
                pad = np.array(pad_xy)
            else:
                x, scale, pad = self.prepare(image)
                outputs = list(self.backend.run({self.backend.input_names[0]: x}).values())
        if self.layout == "auto":
            self.layout = infer_layout(outputs, self.input_size)  # once: the layout of a network does not change
        (boxes, scores), = decode(outputs, self.layout, self.conf, self.iou, self.record.person_class,
                                  self.max_detections, self.input_size)
        boxes = (boxes - np.tile(pad, 2)) / scale
        h, w = image.shape[:2]
        return Detections(np.clip(boxes, 0, [w, h, w, h]).astype(np.float32), scores)
