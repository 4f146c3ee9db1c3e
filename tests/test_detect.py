"""Detection: every export layout decoded, NMS, letterbox geometry, ONNX detectors of each layout end to end (a tiny
network with baked outputs, through the ONNX Runtime backend), precomputed and ground-truth sources."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from posetrack.assemble import build_detector
from posetrack.detect import GroundTruthDetections, PrecomputedDetections, decode, infer_layout, nms
from posetrack.errors import PosetrackError
from posetrack.models.preprocess import RTMDET, ULTRALYTICS, YOLOX
from posetrack.options import Options
from posetrack.transforms import letterbox
from posetrack.types import Frame

# Two persons and a car, in the input pixels of a 320x320 network: (x1, y1, x2, y2, score, class)
PEOPLE = [(40.0, 60.0, 120.0, 260.0, 0.9, 0), (200.0, 100.0, 260.0, 220.0, 0.6, 0), (10.0, 10.0, 50.0, 40.0, 0.8, 2)]
CLASSES = 3


def ultralytics(rows, anchors=64):
    """(1, 4 + C, A): cx, cy, w, h, class scores; padded with empty anchors."""
    out = np.zeros((anchors, 4 + CLASSES), np.float32)
    for i, (x1, y1, x2, y2, s, c) in enumerate(rows):
        out[i, :4] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
        out[i, 4 + c] = s
    return [out.T[None]]


def yolov5(rows, anchors=1200):
    """(1, A, 5 + C): cx, cy, w, h, objectness, class scores (objectness x class = the score)."""
    out = np.zeros((anchors, 5 + CLASSES), np.float32)
    for i, (x1, y1, x2, y2, s, c) in enumerate(rows):
        out[i, :5] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, 1.0)
        out[i, 5 + c] = s
    return [out[None]]


def post_nms(rows):
    return [np.array(rows, np.float32)[None]]


def mmdeploy(rows):
    dets = np.array([r[:5] for r in rows], np.float32)[None]
    labels = np.array([r[5] for r in rows], np.int64)[None]
    return [dets, labels]


LAYOUTS = {"ultralytics": ultralytics, "yolov5": yolov5, "post-nms": post_nms, "mmdeploy": mmdeploy}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_is_recognised_and_decoded_to_the_persons(layout):
    outputs = LAYOUTS[layout](PEOPLE)
    assert infer_layout(outputs) == layout
    (boxes, scores), = decode(outputs, "auto", conf=0.3, iou=0.5)
    np.testing.assert_allclose(boxes, [p[:4] for p in PEOPLE[:2]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9, 0.6], atol=1e-6)


def test_yolox_raw_grids_and_strides():
    """YOLOX without its decoder: offsets in grid cells, log sizes, over strides 8/16/32 of the input."""
    w = h = 64
    cells = [(h // s) * (w // s) for s in (8, 16, 32)]
    out = np.zeros((sum(cells), 5 + 1), np.float32)
    row = cells[0] + 2 * (w // 16) + 1  # stride 16, grid x=1, y=2
    out[row] = (0.5, 0.25, np.log(2.0), np.log(3.0), 0.8, 1.0)
    (boxes, scores), = decode([out[None]], "yolox-raw", conf=0.3, iou=0.5, input_size=(w, h))
    cx, cy, bw, bh = 1.5 * 16, 2.25 * 16, 2 * 16, 3 * 16
    np.testing.assert_allclose(boxes, [[cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.8])


def test_decode_thresholds_and_suppresses_duplicates():
    rows = [*PEOPLE, (42.0, 61.0, 121.0, 258.0, 0.85, 0), (300.0, 10.0, 310.0, 30.0, 0.2, 0)]
    (boxes, scores), = decode(ultralytics(rows), "ultralytics", conf=0.3, iou=0.5)
    np.testing.assert_allclose(scores, [0.9, 0.6])  # the duplicate suppressed, the faint one below the floor
    np.testing.assert_allclose(boxes, [p[:4] for p in PEOPLE[:2]], atol=1e-4)
    (_, scores), = decode(ultralytics(rows), "ultralytics", conf=0.1, iou=0.5, max_detections=2)
    assert len(scores) == 2


def test_unknown_shapes_are_refused_naming_them():
    with pytest.raises(PosetrackError, match=r"shapes \[\(1, 8400\)\]"):
        infer_layout([np.zeros((1, 8400), np.float32)])
    with pytest.raises(PosetrackError, match="unknown detector layout"):
        decode(post_nms(PEOPLE), "yolo9000", 0.3, 0.5)


def test_nms_keeps_separated_boxes_and_orders_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]], np.float32)
    keep = nms(boxes, np.array([0.5, 0.9, 0.7, 0.4]), 0.5)
    assert keep.tolist() == [1, 2]
    assert nms(boxes, np.array([0.5, 0.9, 0.7, 0.4]), 1.0).tolist() == [1, 2, 0, 3]


@pytest.mark.parametrize("placement, pad", [("centre", [0, 6]), ("top-left", [0, 0])])
def test_letterbox_geometry(placement, pad):
    image = np.zeros((360, 640, 3), np.uint8)
    boxed, scale, offset = letterbox(image, (320, 192), placement=placement)
    assert boxed.shape == (192, 320, 3) and scale == 0.5 and offset.tolist() == pad
    assert (boxed[pad[1]:pad[1] + 180] == 0).all() and (boxed == 114).sum() == 320 * 12 * 3


def baked_onnx(path, outputs, side=320):
    """A tiny ONNX network whose outputs are ``outputs`` whatever the frame (the input still flows through it, so
    the runtime cannot fold it away): a stand-in for a real export of that layout."""
    inputs = [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])]
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"])]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outs = []
    for i, value in enumerate(outputs):
        name = f"out{i}"
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"baked{i}"))
        if value.dtype == np.int64:
            nodes += [helper.make_node("Add", [f"baked{i}", "nothing"], [f"f{i}"]),
                      helper.make_node("Cast", [f"f{i}"], [name], to=TensorProto.INT64)]
            outs.append(helper.make_tensor_value_info(name, TensorProto.INT64, list(value.shape)))
        else:
            nodes.append(helper.make_node("Add", [f"baked{i}", "nothing"], [name]))
            outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "baked", inputs, outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("layout, preprocess, placement", [
    ("ultralytics", "ultralytics", "centre"), ("yolov5", "ultralytics", "centre"),
    ("post-nms", "ultralytics", "centre"), ("mmdeploy", "rtmdet", "top-left")])
def test_onnx_detector_of_each_layout_maps_boxes_back_to_the_frame(tmp_path, layout, preprocess, placement):
    path = baked_onnx(tmp_path / f"{layout}.onnx", LAYOUTS[layout](PEOPLE))
    options = Options.demo().replaced(detector=str(path), detector__preprocess=preprocess, runtime__backend="ort")
    detector = build_detector(options)
    found = detector.detect(Frame(0, 0.0, np.zeros((360, 640, 3), np.uint8)))
    scale, pad_y = 0.5, (70 if placement == "centre" else 0)  # 640x360 → 320x180 in a 320x320 input
    expected = [[x1 / scale, (y1 - pad_y) / scale, x2 / scale, (y2 - pad_y) / scale]
                for x1, y1, x2, y2, *_ in PEOPLE[:2]]
    expected = np.clip(expected, 0, [640, 360, 640, 360])
    np.testing.assert_allclose(found.boxes, expected, atol=0.5)
    np.testing.assert_allclose(found.scores, [0.9, 0.6], atol=1e-6)


def test_onnx_detector_reads_its_sidecar(tmp_path):
    path = baked_onnx(tmp_path / "det.onnx", post_nms(PEOPLE))
    (tmp_path / "det.json").write_text(json.dumps({"preprocess": "yolox", "conf": 0.7}))
    detector = build_detector(Options.demo().replaced(detector=str(path), runtime__backend="ort"))
    found = detector.detect(Frame(0, 0.0, np.zeros((320, 320, 3), np.uint8)))
    np.testing.assert_allclose(found.boxes, [PEOPLE[0][:4]], atol=0.5)  # conf 0.7 from the sidecar drops 0.6


def test_a_missing_onnx_detector_is_one_clear_error(tmp_path):
    with pytest.raises(PosetrackError, match=r"nothere\.onnx: detector ONNX not found"):
        build_detector(Options.demo().replaced(detector=str(tmp_path / "nothere.onnx")))


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


# ---- a user's ONNX file, read by what it is -------------------------------------------------------------------


def yolox_raw(rows, side=320, decoded=False):
    """(1, A, 5 + C) with A the grid cells of strides 8/16/32 at ``side``: raw YOLOX (offsets in cells, log sizes),
    or, ``decoded``, the same rows as YOLOv6-style decoded centres in pixels (one anchor per cell too)."""
    cells = [(side // s) ** 2 for s in (8, 16, 32)]
    out = np.zeros((sum(cells), 5 + CLASSES), np.float32)
    grid = np.concatenate([np.stack(np.meshgrid(np.arange(side // s), np.arange(side // s)), -1).reshape(-1, 2)
                           for s in (8, 16, 32)]).astype(np.float32)
    stride = np.concatenate([np.full(c, s) for c, s in zip(cells, (8, 16, 32))]).astype(np.float32)
    out[:, :2] = (grid + 0.5) * stride[:, None] if decoded else 0.5  # a blank frame's rows: centred in their cells
    out[:, 2:4] = stride[:, None] if decoded else 0.0
    for x1, y1, x2, y2, s, c in rows:
        i = int((y1 + y2) / 2 // 32) * (side // 32) + int((x1 + x2) / 2 // 32) + cells[0] + cells[1]
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        out[i, :4] = (cx, cy, w, h) if decoded else (cx / 32 - grid[i, 0], cy / 32 - grid[i, 1], np.log(w / 32),
                                                     np.log(h / 32))
        out[i, 4], out[i, 5 + c] = 1.0, s
    return [out[None]]


def detector_of(path, **options):
    return build_detector(Options.demo().replaced(detector=str(path), runtime__backend="ort", **options))


def test_a_raw_yolox_head_is_recognised_from_its_output_and_preprocessed_as_yolox(tmp_path):
    detector = detector_of(baked_onnx(tmp_path / "yolox.onnx", yolox_raw(PEOPLE)))
    assert detector.record.layout == "yolox-raw" and detector.record.preprocess == YOLOX
    assert "one anchor per cell of strides 8/16/32 at 320x320" in dict(detector.record.why)["layout"]
    found = detector.detect(Frame(0, 0.0, np.zeros((320, 320, 3), np.uint8)))
    np.testing.assert_allclose(found.boxes, [p[:4] for p in PEOPLE[:2]], atol=0.5)
    # the same shape with decoded centres in pixels (YOLOv6) is not taken for a raw head
    decoded = detector_of(baked_onnx(tmp_path / "decoded.onnx", yolox_raw(PEOPLE, decoded=True)))
    assert decoded.record.layout == "yolov5" and decoded.record.preprocess == ULTRALYTICS
    found = decoded.detect(Frame(0, 0.0, np.zeros((320, 320, 3), np.uint8)))
    np.testing.assert_allclose(found.boxes, [p[:4] for p in PEOPLE[:2]], atol=0.5)


def test_an_mmdeploy_export_without_its_pipeline_json_is_asked_about_not_guessed(tmp_path):
    path = baked_onnx(tmp_path / "end2end.onnx", mmdeploy(PEOPLE))
    with pytest.raises(PosetrackError, match=r"without its pipeline\.json.*--detector-preprocess rtmdet .* or yolox"):
        detector_of(path)
    assert detector_of(path, detector__preprocess="yolox").record.preprocess == YOLOX
    (tmp_path / "pipeline.json").write_text(json.dumps({"pipeline": {"tasks": [{"module": "Transform", "transforms": [
        {"type": "Resize", "size": [320, 320]}, {"type": "Normalize", "mean": [103.53, 116.28, 123.675],
                                                  "std": [57.375, 57.12, 58.395], "to_rgb": False},
        {"type": "Pad", "pad_val": {"img": [114, 114, 114]}}]}]}}))
    record = detector_of(path).record
    assert record.preprocess == RTMDET and "pipeline.json" in dict(record.why)["preprocess"]


def test_the_person_class_can_be_chosen(tmp_path):
    path = baked_onnx(tmp_path / "multi.onnx", post_nms(PEOPLE))  # class 2 is a car here, or a person elsewhere
    frame = Frame(0, 0.0, np.zeros((320, 320, 3), np.uint8))
    assert len(detector_of(path).detect(frame)) == 2
    only = detector_of(path, detector__person_class=2).detect(frame)
    np.testing.assert_allclose(only.boxes, [PEOPLE[2][:4]], atol=0.5)
    (tmp_path / "multi.json").write_text(json.dumps({"class": 2}))
    assert detector_of(path).record.person_class == 2


@pytest.mark.parametrize("sidecar, message", [
    ({"preprocess": "yolox", "layuot": "yolox-raw"}, r"multi\.json: unknown key 'layuot'; did you mean layout\?"),
    ({"layout": "yolox_raw"}, r"multi\.json: layout 'yolox_raw'; did you mean yolox-raw\?"),
    ({"preprocess": "rtmdett"}, r"multi\.json: preprocessing 'rtmdett'; did you mean rtmdet\?"),
    ({"preprocess": {"channels": "bgr", "men": [0, 0, 0]}}, r"unknown preprocessing key 'men'; did you mean mean\?"),
    ({"class": -1}, r"class -1 is not a class index"),
])
def test_sidecar_mistakes_are_one_line_with_the_closest_word(tmp_path, sidecar, message):
    path = baked_onnx(tmp_path / "multi.onnx", post_nms(PEOPLE))
    (tmp_path / "multi.json").write_text(json.dumps(sidecar))
    with pytest.raises(PosetrackError, match=message) as caught:
        detector_of(path)
    assert "\n" not in str(caught.value)


def test_a_sidecar_mistake_on_the_command_line_is_the_last_and_only_error_line(tmp_path, cli, clip_factory):
    video, _ = clip_factory("easy", 2)
    path = baked_onnx(tmp_path / "det.onnx", post_nms(PEOPLE))
    (tmp_path / "det.json").write_text(json.dumps({"layout": "post_nms"}))
    r = cli("run", video, "--detector", path, "--pose-model", "demo", "--no-video", "--out", tmp_path / "out")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert [line for line in lines if "error" in line] == [lines[-1]]
    assert lines[-1].startswith("posetrack: error: ") and "did you mean post-nms?" in lines[-1]
    assert "Traceback" not in r.stderr
