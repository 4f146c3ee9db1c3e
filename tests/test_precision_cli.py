"""``posetrack calibrate``, ``posetrack build`` and ``run --precision`` through the command line."""

import json

import onnx
import pytest
from conftest import DEMO_MODELS, posetrack_cli

from posetrack.compile.qdq_rules import check_tensorrt_qdq
from posetrack.synth import preset
from posetrack.synth.files import truth_detections, write_clip

DEMO = DEMO_MODELS
cli = posetrack_cli


def test_a_real_model_is_never_calibrated_on_synthetic_frames(tmp_path):
    r = cli("calibrate", "--model", "detector", "--synthetic", "6", env={"POSETRACK_CALIB": str(tmp_path)})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert ("rtmdet_nano_person: INT8 needs a calibration on real frames" in r.stderr
            and "posetrack calibrate --model detector --detector rtmdet_nano_person --images" in r.stderr)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_calibrate_writes_manifest_and_ranges(tmp_path):
    r = cli("calibrate", "--model", "detector", *DEMO, "--synthetic", "6", "--method", "percentile",  # not the default
            env={"POSETRACK_CALIB": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert f"posetrack: calibrating detector_demo for INT8 once (6 synthetic frames) into {tmp_path / 'detector-demo'}" \
        in r.stderr  # said before the work starts
    manifest = json.loads((tmp_path / "detector-demo" / "manifest.json").read_text())
    assert manifest["count"] == 6 and manifest["seed"] == 7 and manifest["default_method"] == "percentile"
    ranges = json.loads((tmp_path / "detector-demo" / "ranges.json").read_text())
    assert len(ranges["max"]) == manifest["tensors"] > 20


def test_calibrate_from_an_empty_folder_fails_cleanly(tmp_path):
    r = cli("calibrate", "--model", "pose", *DEMO, "--images", str(tmp_path), env={"POSETRACK_CALIB": str(tmp_path / "c")})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "folder has no images" in r.stderr


def test_build_writes_the_tensorrt_qdq_model_then_says_what_is_missing():
    r = cli("build", "--model", "pose", *DEMO, "--precision", "int8")
    line = r.stdout.strip().splitlines()[-1]
    path = line.split(": ", 1)[1]
    assert check_tensorrt_qdq(onnx.load(path)) == []  # the TensorRT flavour, validated
    if r.returncode != 0:  # this machine: no TensorRT / GPU → one clear line, no traceback
        errors = [line for line in r.stderr.splitlines() if "preparing pose_demo" not in line]  # a first export says so
        assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr
        assert "TensorRT" in errors[0] or "CUDA GPU" in errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_run_at_lower_precision_scores_like_fp32(tmp_path, precision):
    video, truth = write_clip(preset("crossing", frames=30, size=(320, 192)), 11, tmp_path / "gt", "200011_mpii_test")
    (tmp_path / "dets.json").write_text(json.dumps(truth_detections(truth)))
    scores = {}
    for p in ("fp32", precision):
        r = cli("run", str(video), "--out", str(tmp_path / p), "--backend", "ort", "--precision", p, "--no-video", *DEMO,
                "--detections", str(tmp_path / "dets.json"))
        assert r.returncode == 0, r.stderr
        ev = cli("eval", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / p), "--json", str(tmp_path / f"{p}.json"))
        assert ev.returncode == 0, ev.stderr
        scores[p] = json.loads((tmp_path / f"{p}.json").read_text())["mAP"]["total"]
    assert abs(scores[precision] - scores["fp32"]) < 2.0, scores


@pytest.mark.slow
def test_calibrate_pose_on_an_image_folder(tmp_path):
    from itertools import islice

    import cv2

    from posetrack.synth import SyntheticVideo

    frames = tmp_path / "frames"
    frames.mkdir()
    for frame, _ in islice(SyntheticVideo(preset("easy", frames=3), seed=12), 3):
        cv2.imwrite(str(frames / f"{frame.index:03d}.png"), frame.image)
    r = cli("calibrate", "--model", "pose", *DEMO, "--images", str(frames), env={"POSETRACK_CALIB": str(tmp_path / "c")})
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "c" / "pose-demo" / "manifest.json").read_text())
    assert manifest["source"] == str(frames) and manifest["seed"] is None
    assert 3 <= manifest["count"] <= 3 * 6  # the persons the detector found in three frames of ~3 people
