"""The first real run: a real YOLOX-nano COCO export (raw head, static batch 1, no sidecar) read by what it is, on a
real MOTChallenge sequence, in FP32 and, after `posetrack calibrate` on those frames, in INT8. Skipped where
../shared/real is absent."""

import json
import os
import shlex

import numpy as np
import pytest
from conftest import real_data
from scipy.optimize import linear_sum_assignment

from posetrack.io.mot import read_mot
from posetrack.track.oks import box_iou

pytestmark = pytest.mark.slow


def matched_share(gt_txt, posetrack_json) -> float:
    """The share of ground-truth boxes that a box of the run's PoseTrack JSON matches one to one at IoU ≥ 0.5."""
    gt, result = read_mot(gt_txt), json.loads(posetrack_json.read_text())
    boxes: dict[int, list] = {}
    for ann in result["annotations"]:
        boxes.setdefault(ann["image_id"], []).append(ann["bbox"])
    matched = 0
    for index, image in enumerate(result["images"]):
        truth = gt.in_frame(index + 1).xyxy()
        found = np.array(boxes.get(image["id"], []), np.float32).reshape(-1, 4)
        found[:, 2:] += found[:, :2]
        if len(truth) and len(found):
            iou = box_iou(truth, found)
            rows, cols = linear_sum_assignment(-iou)
            matched += int((iou[rows, cols] >= 0.5).sum())
    return matched / len(gt)


@pytest.fixture
def campus():
    root = real_data()
    return root / "TUD-Campus", root / "models" / "yolox_nano_coco.onnx"


def test_a_raw_yolox_export_runs_as_it_is_and_says_what_it_took_it_for(campus, cli, tmp_path):
    seq, yolox = campus
    r = cli("run", seq / "img1", "--detector", yolox, "--pose-model", "demo", "--no-video", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith(f"posetrack: detector {yolox}:")]
    assert len(said) == 1, r.stderr  # once, on stderr
    assert "layout yolox-raw (read from its output [1, 3549, 85]" in said[0]
    assert "preprocessing yolox [BGR 0-255, top-left letterbox, fill 114]" in said[0]
    assert "input 416x416" in said[0] and "class 0" in said[0] and "conf 0.3" in said[0] and "batch 1" in said[0]
    assert "posetrack: error" not in r.stderr
    assert matched_share(seq / "gt.txt", tmp_path / "img1.json") >= 0.65


def test_int8_after_calibrating_on_the_real_frames(campus, cli, tmp_path):
    """The INT8 hint names a command that works for a file, and the INT8 detector it makes still finds the people."""
    seq, yolox = campus
    env = {**os.environ, "POSETRACK_CALIB": str(tmp_path / "calib")}
    run = ("run", seq / "img1", "--detector", yolox, "--pose-model", "demo", "--detector-precision", "int8",
           "--no-video", "--out", tmp_path / "out")
    first = cli(*run, env=env)
    assert first.returncode == 2
    errors = [line for line in first.stderr.splitlines() if line.startswith("posetrack: error:")]
    assert len(errors) == 1 and first.stderr.strip().splitlines()[-1] == errors[0]
    hint = errors[0].split("run `", 1)[1].split("`", 1)[0]
    assert hint.startswith("posetrack calibrate --model detector --detector ") and str(yolox) in hint
    calibrate = shlex.split(hint.replace("DIR_OR_VIDEO", shlex.quote(str(seq / "img1"))))[1:]
    made = cli(*calibrate, env=env)
    assert made.returncode == 0, made.stderr  # a static batch-1 export is fed one frame at a time
    second = cli(*run, env=env)
    assert second.returncode == 0, second.stderr
    assert matched_share(seq / "gt.txt", tmp_path / "out" / "img1.json") >= 0.60
