"""Detection: YOLO-layout decoding, NMS, letterbox geometry, precomputed and ground-truth sources."""

import json

import numpy as np
import pytest

from posetrack.detect import (
    GroundTruthDetections,
    PrecomputedDetections,
    YoloDetector,
    decode_yolo,
    letterbox,
    nms,
)
from posetrack.errors import PosetrackError
from posetrack.types import Frame


def yolo_output(candidates, total=64):
    """candidates: (cx, cy, w, h, class scores...) rows → (1, 4 + C, total), padded with empty candidates
    (real outputs have hundreds or thousands)."""
    rows = np.array(candidates, np.float32)
    padded = np.zeros((total, rows.shape[1]), np.float32)
    padded[: len(rows)] = rows
    return padded.T[None]


def test_decode_thresholds_classes_and_suppresses_duplicates():
    out = yolo_output([
        (100, 100, 40, 80, 0.9, 0.1),   # person
        (102, 101, 42, 78, 0.8, 0.1),   # the same person again: suppressed
        (300, 100, 40, 80, 0.2, 0.1),   # below the threshold
        (500, 200, 40, 80, 0.1, 0.95),  # another class
        (200, 300, 20, 40, 0.6, 0.0),   # a second person
    ])
    (boxes, scores), = decode_yolo(out, conf_threshold=0.3, iou_threshold=0.5, classes=(0,))
    np.testing.assert_allclose(scores, [0.9, 0.6])
    np.testing.assert_allclose(boxes, [[80, 60, 120, 140], [190, 280, 210, 320]])


def test_nms_keeps_separated_boxes_and_orders_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]], np.float32)
    keep = nms(boxes, np.array([0.5, 0.9, 0.7, 0.4]), 0.5)
    assert keep.tolist() == [1, 2]
    assert nms(boxes, np.array([0.5, 0.9, 0.7, 0.4]), 1.0).tolist() == [1, 2, 0, 3]


def test_wrong_layout_is_refused():
    with pytest.raises(PosetrackError, match="YOLO layout"):
        decode_yolo(np.zeros((1, 8400, 84), np.float32), 0.3, 0.5)  # transposed
    with pytest.raises(PosetrackError, match="YOLO layout"):
        decode_yolo(np.zeros((1, 4, 8400), np.float32), 0.3, 0.5)  # no class scores


def test_letterbox_geometry_round_trips():
    image = np.zeros((360, 640, 3), np.uint8)
    boxed, scale, pad = letterbox(image, (320, 192))
    assert boxed.shape == (192, 320, 3) and scale == 0.5 and pad.tolist() == [0, 6]
    assert (boxed[:6] == 114).all() and (boxed[6:186] == 0).all()


class _FixedBackend:
    """Answers every call with one YOLO output, in input pixels of a 320x192 letterboxed frame."""

    name, input_names, output_names = "fixed", ("images",), ("output0",)

    def __init__(self, output):
        self.output = output

    def run(self, inputs):
        assert inputs["images"].shape == (1, 3, 192, 320)
        return {"output0": self.output}


def test_detector_maps_boxes_back_to_the_image():
    # a box centred at (160, 96) in input pixels, 40x80: in the 640x360 image that is centre (320, 180), 80x160
    det = YoloDetector(_FixedBackend(yolo_output([(160, 96, 40, 80, 0.9)])), (320, 192))
    found = det.detect(Frame(0, 0.0, np.zeros((360, 640, 3), np.uint8)))
    np.testing.assert_allclose(found.boxes, [[280, 100, 360, 260]])


def test_precomputed_detections(tmp_path):
    path = tmp_path / "dets.json"
    path.write_text(json.dumps([
        {"image_id": 0, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.9},
        {"image_id": 0, "category_id": 3, "bbox": [0, 0, 5, 5], "score": 0.9},  # not a person
        {"image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5},
    ]))
    source = PrecomputedDetections(path)
    frame = lambda i: Frame(i, 0.0, np.zeros((80, 80, 3), np.uint8))  # noqa: E731
    np.testing.assert_allclose(source.detect(frame(0)).boxes, [[10, 20, 40, 60]])
    assert len(source.detect(frame(1))) == 0
    np.testing.assert_allclose(source.detect(frame(2)).scores, [0.5])
    path.write_text("{not json")
    with pytest.raises(PosetrackError, match=r"dets\.json"):
        PrecomputedDetections(path)


def test_ground_truth_boxes():
    source = GroundTruthDetections([np.array([[1, 2, 3, 4]], np.float32)])
    assert source.detect(Frame(0, 0.0, np.zeros((8, 8, 3), np.uint8))).scores.tolist() == [1.0]
    assert len(source.detect(Frame(5, 0.0, np.zeros((8, 8, 3), np.uint8)))) == 0
