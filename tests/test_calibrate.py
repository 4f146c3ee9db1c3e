"""Calibration: range methods, statistics collection, the calib/ cache (reuse and rejection), input sets."""

import json
from dataclasses import dataclass, replace

import cv2
import numpy as np
import onnx
import pytest

from posetrack.compile.calibrate import (
    HIST_BINS,
    ActivationStats,
    CalibrationError,
    collect_ranges,
    detector_inputs,
    entropy_threshold,
    load_calibration,
    pose_inputs,
)
from posetrack.compile.precision import ExportedModel, calibration, precision_onnx
from posetrack.compile.quantize import calibration_tensors
from posetrack.pose import TopDownConfig, crop_batch
from posetrack.transforms import preprocess


def _abs_hist(x, amax, bins=2048):
    return np.bincount(np.clip((np.abs(x) / amax * bins).astype(int), 0, bins - 1), minlength=bins)


def test_entropy_clips_outliers_but_keeps_the_bulk(rng):
    x = rng.standard_normal(500_000)
    x[:20] = 40.0  # rare outliers stretch the max
    t = entropy_threshold(_abs_hist(x, 40.0), 40.0)
    assert 2.5 < t < 20.0


def test_entropy_ignores_the_zero_spike_of_relu_outputs(rng):
    x = np.maximum(rng.standard_normal(500_000), 0) * 3  # half exact zeros
    amax = float(x.max())
    t = entropy_threshold(_abs_hist(x, amax), amax)
    assert t > 2.5 * 3  # without leaving out the zero bin the threshold collapses below 2 sigma


def test_stats_methods(rng):
    stats = ActivationStats(["a"])
    batches = [{"a": rng.standard_normal(50_000).astype(np.float32)} for _ in range(3)]
    batches[1]["a"][0] = 30.0
    for b in batches:
        stats.observe_range(b)
    for b in batches:
        stats.observe_histogram(b)
    assert stats.hist["a"].sum() == 150_000 and len(stats.hist["a"]) == HIST_BINS
    ranges = stats.ranges()
    lo, hi = ranges["max"]["a"]
    assert hi == 30.0 and lo == pytest.approx(min(float(b["a"].min()) for b in batches))
    p_lo, p_hi = ranges["percentile"]["a"]
    assert lo <= p_lo < -3.0 and 3.0 < p_hi < 10.0  # the 99.99 % quantile of N(0, 1) is 3.7
    e_lo, e_hi = ranges["entropy"]["a"]
    assert lo <= e_lo and e_hi <= hi


def test_collect_ranges_on_a_model(tiny_onnx, rng):
    x = rng.standard_normal((6, 3, 128, 96)).astype(np.float32)
    ranges = collect_ranges(tiny_onnx.path, x, batch=4, progress=False)
    names = calibration_tensors(onnx.load(str(tiny_onnx.path)))
    assert set(ranges) == {"max", "percentile", "entropy"}
    for method in ranges.values():
        assert list(method) == names
    assert ranges["max"]["input"] == (pytest.approx(float(x.min())), pytest.approx(float(x.max())))
    relu = next(n for n in names if n.startswith("relu"))
    assert ranges["max"][relu][0] == 0.0
    for name in names:
        (lo, hi), (plo, phi) = ranges["max"][name], ranges["percentile"][name]
        assert lo <= plo <= phi <= hi


def test_a_static_batch_1_export_is_fed_one_input_at_a_time_and_quantizes(tiny_onnx, rng, tmp_path):
    """Most exported detectors fix the batch at 1; calibration batches of 16 would be refused by ONNX Runtime. The
    ranges equal the dynamic export's, and the INT8 model made from them runs (opset raised for per-channel Q/DQ)."""
    import onnxruntime as ort

    from posetrack.compile.quantize import ORT_CPU, quantize_qdq

    model = onnx.load(str(tiny_onnx.path))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    static = tmp_path / "static.onnx"
    onnx.save(model, static)
    x = rng.standard_normal((5, 3, 128, 96)).astype(np.float32)
    ranges = collect_ranges(static, x, batch=16, progress=False)
    assert ranges["max"] == collect_ranges(tiny_onnx.path, x, batch=16, progress=False)["max"]
    int8 = quantize_qdq(onnx.load(str(static)), ranges["max"], ORT_CPU)
    session = ort.InferenceSession(int8.SerializeToString(), providers=["CPUExecutionProvider"])
    assert session.run(None, {"input": x[:1]})[0].shape[0] == 1


@dataclass(frozen=True)
class TinyRecord:
    """A model record (``models.records.ModelRecord``) for the tiny test network."""

    name: str = "tiny"
    task: str = "pose"
    key_source: str = "tiny weights v1"
    input_size: tuple[int, int] = (96, 128)
    stem: str = "tiny"
    description: str = "tiny:96x128"
    calib_folder: str = "tiny-calib"
    calib_count: int = 8
    output_name: str = "heatmaps"
    export_atol: float = 1e-4
    synthetic_calibration: bool = True

    def preprocessing(self) -> dict:
        return {"input": list(self.input_size)}


@pytest.fixture
def exported(tiny_onnx, tmp_path, monkeypatch, rng):
    monkeypatch.setenv("POSETRACK_CALIB", str(tmp_path / "calib"))
    monkeypatch.setenv("POSETRACK_ENGINES", str(tmp_path / "engines"))
    (tmp_path / "engines").mkdir()
    calls = []

    def inputs(count, images):
        calls.append(count)
        return rng.standard_normal((count, 3, 128, 96)).astype(np.float32)

    model = ExportedModel(TinyRecord(), None, inputs, source=lambda: tiny_onnx.path)
    return model, calls, tmp_path


def test_calibration_is_made_once_then_reused(exported):
    model, calls, tmp = exported
    first = calibration(model, progress=False)
    again = calibration(model, progress=False)
    assert calls == [8]  # the second call read the cache
    assert again.key() == first.key() and again.ranges["max"] == first.ranges["max"]
    manifest = json.loads((tmp / "calib" / "tiny-calib" / "manifest.json").read_text())
    assert manifest["count"] == 8 and manifest["source"] == "synthetic" and manifest["model_key"] == model.key
    calibration(model, count=4, recalibrate=True, progress=False)
    assert calls == [8, 4]


def test_calibration_for_other_weights_or_preprocessing_is_refused(exported):
    model, _, tmp = exported
    calibration(model, progress=False)
    folder = tmp / "calib" / "tiny-calib"
    with pytest.raises(CalibrationError, match=f"calibrated for model {model.key}, not this model"):
        calibration(replace(model, record=replace(model.record, key_source="tiny weights v2")), progress=False)
    with pytest.raises(CalibrationError, match="other preprocessing"):
        calibration(replace(model, record=replace(model.record, input_size=(192, 256))), progress=False)
    (folder / "ranges.json").write_text("{not json")
    with pytest.raises(CalibrationError, match="damaged calibration cache"):
        load_calibration(folder, "key1", "x")
    with pytest.raises(CalibrationError, match="no calibration"):
        load_calibration(tmp / "nowhere", "key1", "x")


def test_int8_files_follow_the_calibration(exported):
    model, _, _ = exported
    first = precision_onnx(model, "int8")
    assert first == precision_onnx(model, "int8") and "-int8-ort-" in first.name
    calibration(model, count=4, recalibrate=True, progress=False)
    second = precision_onnx(model, "int8")
    assert second != first and second.is_file()  # new ranges → a new model, never the stale one
    assert precision_onnx(model, "fp32") == model.onnx
    assert precision_onnx(model, "fp16").name.endswith("-fp16.onnx")


def test_pose_inputs_are_real_crops_through_the_preprocessing():
    config = TopDownConfig(input_size=(96, 128))

    def crop(image, boxes):
        return crop_batch(image, boxes, config)[0]

    a = pose_inputs(crop, 12, seed=5)
    assert a.shape == (12, 3, 128, 96) and a.dtype == np.float32
    np.testing.assert_array_equal(a, pose_inputs(crop, 12, seed=5))
    extremes = preprocess(np.array([[[[0, 0, 0]]], [[[255, 255, 255]]]], np.uint8))
    assert extremes.min() - 1e-5 <= a.min() and a.max() <= extremes.max() + 1e-5
    assert a.std() > 0.3  # people and backgrounds, not blank crops


def test_detector_inputs_from_an_image_folder(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((90, 160, 3), 40 * i, np.uint8))
    x = detector_inputs(lambda image: preprocess(cv2.resize(image, (64, 32))[None]), 10, images=tmp_path)
    assert x.shape == (3, 3, 32, 64)
