"""The compile chain's steps and the model check, as the command line runs them (``posetrack export``,
``calibrate``, ``build``, ``models check``): each on the export of the options' model."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

from posetrack.assemble.backends import ALL_CORES, backend_for, device_for
from posetrack.assemble.exports import detector_record, export_detector, export_pose, pose_record
from posetrack.assemble.stages import build_detector
from posetrack.backends import device_providers
from posetrack.compile.cache import calib_dir
from posetrack.compile.calibrate import Calibration
from posetrack.compile.export import ExportResult
from posetrack.compile.precision import ExportedModel, calibration, verified_export
from posetrack.detect import NetworkDetector
from posetrack.models import PoseRecord, create_model, get_model
from posetrack.options import Options
from posetrack.pose import TopDownConfig, TopDownEstimator


def exported(model: str, options: Options) -> ExportedModel:
    """The export of the options' ``"pose"`` or ``"detector"`` model; a pose model's calibration on a user's images
    finds the people with the options' detector."""
    if model == "pose":
        return export_pose(pose_record(options.pose), find_people=functools.partial(build_detector, options, ALL_CORES))
    return export_detector(detector_record(options.detector))


def export_model(model: ExportedModel, device: str = "cpu") -> ExportResult | None:
    """``posetrack export``: export ``model``'s network now (the parity reference computed on ``device``) into the
    cache; None for a model that is an ONNX file already."""
    if model.module is None:
        return None
    return verified_export(model.module, model.record, device)


def calibrate_model(model: ExportedModel, count: int | None, images: Path | None, method: str | None,
                    device: str = "cpu") -> tuple[Calibration, Path]:
    """``posetrack calibrate``: the model's calibration made afresh (ONNX Runtime on ``device``), and its folder."""
    device_providers(device)  # refuse a device ONNX Runtime cannot use before the inputs are made
    calib = calibration(model, count, images, recalibrate=True, default_method=method, device=device)
    return calib, calib_dir() / calib.manifest.model


def tensorrt_input(model: ExportedModel, precision: str) -> Path:
    """``posetrack build``, step one: the TensorRT-ready ONNX file of ``precision`` (INT8: TensorRT's Q/DQ flavour,
    checked), made on any machine."""
    from posetrack.compile.tensorrt import tensorrt_onnx

    return tensorrt_onnx(model, precision)


def build_engine(model: ExportedModel, path: Path, precision: str, max_batch: int,
                 device: str | None) -> tuple[Path, str]:
    """``posetrack build``, step two: the engine built from ``path`` on ``device`` (cached), and a line saying what
    it was built for. Needs TensorRT and a CUDA GPU."""
    from posetrack.compile.tensorrt import ensure_engine

    plan, spec = ensure_engine(path, model.name, precision, max_batch, device=device_for(device),
                               input_size=model.record.input_size)
    p = spec.profile
    batches = f"batch {p.min[0]}..{p.max[0]}" if p.dynamic else f"batch {p.min[0]} (a static export)"
    return plan, f"{spec.gpu.name}, TensorRT {spec.tensorrt_version}, {batches}"


def check_model(name: str) -> list[str]:
    """``posetrack models check``: load the model, export it with parity (a PyTorch network), and run one synthetic
    frame through ONNX Runtime on the CPU; the lines saying how each step went (what a user with network runs once
    after a fetch)."""
    from posetrack.synth import SyntheticVideo, preset

    record = get_model(name)
    t0 = time.perf_counter()
    module = create_model(record) if isinstance(record, PoseRecord) or record.weights is not None else None
    lines = [f"{record.name}: loaded ({'PyTorch network' if module is not None else 'ONNX network'}) in "
             f"{time.perf_counter() - t0:.1f} s"]
    model = export_pose(record, module) if isinstance(record, PoseRecord) else export_detector(record, module)
    result = export_model(model)
    if result is not None:
        lines.append(f"{record.name}: ONNX export {result.path.name}, ONNX Runtime vs PyTorch max |diff| "
                     f"{result.max_abs_diff:.2e} (bar {record.export_atol:g})")
    backend = backend_for(model, "ort", device="cpu")
    frame, truth = next(iter(SyntheticVideo(preset("easy", frames=1), seed=1)))
    if isinstance(record, PoseRecord):
        poses = TopDownEstimator(backend, config=TopDownConfig.from_record(record)).estimate(frame.image, truth.boxes)
        world = ("the synthetic world it was trained on" if record.synthetic_calibration else
                 "drawn people, not photographed ones: this shows it runs, not how well")
        lines.append(f"{record.name}: ran a synthetic frame ({world}): {len(poses)} people, mean keypoint score "
                     f"{float(np.mean(poses.scores)) if len(poses) else 0:.2f}")
    else:
        found = NetworkDetector(backend, record).detect(frame.image)
        lines.append(f"{record.name}: ran a synthetic frame showing {len(truth.boxes)} drawn people: {len(found)} "
                     f"boxes over {record.conf_threshold}")
    return lines
