"""Assembling a runnable pipeline from user options: which models (shipped demo models, a user's HRNet
checkpoint, a user's YOLO ONNX), which backend (torch, ONNX Runtime; TensorRT where installed), and where the
exported ONNX files are cached.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from posetrack.backends import Backend, OrtBackend, TorchBackend, default_providers
from posetrack.backends.select import choose_backend, tensorrt_usable
from posetrack.calibrate import (CALIB_SEED, Calibration, Manifest, calib_dir, collect_ranges, detector_inputs,
                                 digest, load_calibration, pose_inputs)
from posetrack.detect import YoloDetector
from posetrack.errors import PosetrackError
from posetrack.export import export_onnx, save_verified
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.detector import PersonDetector, YoloLayout
from posetrack.models.hrnet import hrnet
from posetrack.pose import TopDownConfig, TopDownEstimator, preprocessing_description
from posetrack.quantize import ORT_CPU, TENSORRT, QdqFlavour, convert_fp16, quantize_qdq
from posetrack.skeleton import COCO17, POSETRACK17, Skeleton

WEIGHTS = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class PoseModel:
    """An HRNet to run: named config, weights file (None: the architecture with random weights, seed 0, for speed
    measurements), input (width, height), joint layout."""

    config: str
    weights: Path | None
    input_size: tuple[int, int]
    skeleton: Skeleton


DEMO_POSE = PoseModel("demo", WEIGHTS / "pose_demo.pth", (128, 192), POSETRACK17)
DEMO_DETECTOR_WEIGHTS = WEIGHTS / "detector_demo.pth"
DEMO_DETECTOR_INPUT = (448, 256)  # 640x360 frames letterbox to 448x252
# tuned on the 150-frame validation clips (crossing 90001, crowd 90002): MOTA 73.3 at 0.3, 75.7 at 0.5, 77.1 at 0.6,
# 77.3 at 0.7, 75.1 at 0.8
DEMO_DETECTOR_CONF = 0.7


def engine_dir() -> Path:
    """Where exported / built engines are cached: $POSETRACK_ENGINES, else the repository's ``engines/``, else
    ``~/.cache/posetrack/engines``."""
    if os.environ.get("POSETRACK_ENGINES"):
        return Path(os.environ["POSETRACK_ENGINES"])
    repo = Path(__file__).resolve().parent.parent / "engines"
    return repo if repo.is_dir() and os.access(repo, os.W_OK) else Path.home() / ".cache" / "posetrack" / "engines"


def file_digest(*parts: Path | str, length: int = 12) -> str:
    """Short SHA-256 over files' bytes and strings (cache keys)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(Path(part).read_bytes() if isinstance(part, Path) else part.encode())
    return h.hexdigest()[:length]


def cached_onnx(model: torch.nn.Module, name: str, key: str, input_size: tuple[int, int], output_name: str,
                atol: float = 1e-4) -> Path:
    """The ONNX export of ``model``, made once per ``key`` (weights + config digest) and reused; ``atol`` is the
    export's parity bar."""
    path = engine_dir() / f"{name}-{key}.onnx"
    if path.is_file():
        try:
            onnx.checker.check_model(str(path))
            return path
        except onnx.checker.ValidationError:
            path.unlink()  # a damaged cache entry is rebuilt, never used
    return export_onnx(model, path, input_size, output_name=output_name, atol=atol).path


PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ExportedModel:
    """A network's verified FP32 ONNX export and what deriving its FP16 / INT8 versions needs.

    Attributes:
        name: file stem, e.g. ``pose_demo_192x128``. key: digest of weights + description (cache key).
        onnx: the FP32 ``.onnx`` file.
        calib_name: its folder under ``calib/``, e.g. ``pose-demo``.
        preprocessing: description of its input preprocessing (calibration caches are keyed by it).
        calibration_inputs: ``(count, images folder or None) → (count, 3, H, W)`` float32 network inputs.
        calib_count: default calibration set size. output_name: the network's output tensor.
    """

    name: str
    key: str
    onnx: Path
    calib_name: str
    preprocessing: dict
    calibration_inputs: Callable[[int, Path | None], np.ndarray]
    calib_count: int = 256
    output_name: str = "heatmaps"


def calibration(model: ExportedModel, count: int | None = None, images: Path | None = None,
                recalibrate: bool = False, progress: bool = True) -> Calibration:
    """The model's calibration from ``calib/``, made on first use (synthetic set) or when ``recalibrate``.

    Raises:
        CalibrationError: a cached calibration belongs to another model or preprocessing (and not ``recalibrate``).
    """
    folder = calib_dir() / model.calib_name
    prep = digest(model.preprocessing)
    if not recalibrate and (folder / "manifest.json").is_file():
        return load_calibration(folder, model.key, prep)
    count = count or model.calib_count
    inputs = model.calibration_inputs(count, images)
    ranges = collect_ranges(model.onnx, inputs, progress=progress)
    manifest = Manifest(model.calib_name, model.key, prep, "synthetic" if images is None else str(images),
                        CALIB_SEED if images is None else None, len(inputs), len(ranges["max"]))
    result = Calibration(manifest, ranges)
    result.save(folder)
    return result


def precision_onnx(model: ExportedModel, precision: str, flavour: QdqFlavour = ORT_CPU) -> Path:
    """The ONNX file of ``model`` at ``precision``: the FP32 export, its FP16 conversion, or its INT8 Q/DQ
    version in ``flavour`` from the model's calibration (made on first use); derived files are cached in
    ``engines/`` under names that include the ranges' digest."""
    if precision == "fp32":
        return model.onnx
    if precision == "fp16":
        path = engine_dir() / f"{model.name}-{model.key}-fp16.onnx"
        make = lambda: convert_fp16(onnx.load(str(model.onnx)))  # noqa: E731
    elif precision == "int8":
        calib = calibration(model)
        path = engine_dir() / f"{model.name}-{model.key}-int8-{flavour.name}-{calib.key()}.onnx"
        make = lambda: quantize_qdq(onnx.load(str(model.onnx)), calib.method_ranges(), flavour)  # noqa: E731
    else:
        raise PosetrackError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    if not path.is_file():
        save_verified(make(), path, lambda draft: onnx.checker.check_model(str(draft)))
    return path


@dataclass(frozen=True)
class CpuThreads:
    """How an ONNX Runtime session uses the CPU: ``count`` intra-op threads (None: one per core); ``spin``: idle
    threads busy-wait for work (see ``OrtBackend``)."""

    count: int | None = None
    spin: bool = True


ALL_CORES = CpuThreads()


def stage_threads(sequential: bool) -> tuple[CpuThreads, CpuThreads]:
    """(detector, pose) threading of a pipeline. One after another, each stage has every core. Overlapped, the
    detector takes one thread and the pose network, the slowest stage, all cores, and idle threads sleep rather
    than spin, since they share the cores with the other stages (demo clip, 192x128 pose model, 2 cores: 29.5 FPS
    with one spinning thread each, 24-26 with a spinning pose pair, 31.5-33.7 so)."""
    if sequential:
        return ALL_CORES, ALL_CORES
    return CpuThreads(1, spin=False), CpuThreads(None, spin=False)


def make_backend(kind: str, module: torch.nn.Module, model: ExportedModel, precision: str = "fp32",
                 threads: CpuThreads = ALL_CORES) -> Backend:
    """A backend running ``model``: ``torch`` (FP32 eager), ``ort``, ``trt``, or ``auto`` (TensorRT if usable,
    else ONNX Runtime with its best provider; ``threads`` applies to it)."""
    kind = choose_backend(kind, tensorrt_usable())
    if kind == "torch":
        if precision != "fp32":
            raise PosetrackError(f"--precision {precision} needs --backend ort or trt (torch runs fp32)")
        return TorchBackend(module, output_names=(model.output_name,))
    if kind == "trt":
        from posetrack.engines import tensorrt_backend
        return tensorrt_backend(precision_onnx(model, precision, TENSORRT), model.name, precision)
    providers = default_providers()
    flavour = ORT_CPU if providers[0] == "CPUExecutionProvider" else TENSORRT
    return OrtBackend(precision_onnx(model, precision, flavour), providers, threads.count, threads.spin)


def load_pose(spec: PoseModel) -> torch.nn.Module:
    """The HRNet of ``spec`` with its weights (float16 files load as float32)."""
    if spec.weights is None:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return hrnet(spec.config, spec.skeleton.num_joints).eval()
    if not spec.weights.is_file():
        raise PosetrackError(f"{spec.weights}: pose weights not found")
    return load_checkpoint(hrnet(spec.config, spec.skeleton.num_joints), spec.weights).eval()


def pose_config(spec: PoseModel, flip_test: bool = False) -> TopDownConfig:
    return TopDownConfig(input_size=spec.input_size, skeleton=spec.skeleton, refine="dark", flip_test=flip_test)


def export_pose(spec: PoseModel, module: torch.nn.Module | None = None) -> ExportedModel:
    """The pose model's FP32 ONNX export (cached) and its calibration recipe (person crops)."""
    module = module if module is not None else load_pose(spec)
    w, h = spec.input_size
    description = f"{spec.config}:{w}x{h}:{spec.skeleton.name}"
    if spec.weights is None:
        name, key = f"pose_{spec.config}_{h}x{w}_random", file_digest(f"random seed 0, torch {torch.__version__}", description)
    else:
        name, key = f"pose_{spec.config}_{h}x{w}", file_digest(spec.weights, description)
    config = pose_config(spec)

    def inputs(count: int, images: Path | None) -> np.ndarray:
        if images is None:
            return pose_inputs(config, count)
        detector = build_detector(backend="ort")  # a user's images: persons found by the shipped detector
        return pose_inputs(config, count, images=images, find_people=lambda image: detector.detect(image).boxes)

    calib_name = "pose-demo" if spec == DEMO_POSE else name.replace("_", "-")
    return ExportedModel(name, key, cached_onnx(module, name, key, spec.input_size, "heatmaps"), calib_name,
                         preprocessing_description(config), inputs, 512 if spec == DEMO_POSE else 128)


def build_estimator(spec: PoseModel, backend: str = "auto", threads: CpuThreads = ALL_CORES,
                    flip_test: bool = False, precision: str = "fp32") -> TopDownEstimator:
    module = load_pose(spec)
    exported = export_pose(spec, module)
    return TopDownEstimator(make_backend(backend, module, exported, precision, threads),
                            config=pose_config(spec, flip_test))


def demo_detector_module() -> torch.nn.Module:
    """The shipped detector with its YOLO-layout output."""
    if not DEMO_DETECTOR_WEIGHTS.is_file():
        raise PosetrackError(f"{DEMO_DETECTOR_WEIGHTS}: detector weights not found")
    net = PersonDetector()
    net.load_state_dict({k: v.float() for k, v in torch.load(DEMO_DETECTOR_WEIGHTS, weights_only=True).items()})
    return YoloLayout(net.eval()).eval()


def export_detector(module: torch.nn.Module | None = None) -> ExportedModel:
    """The shipped detector's FP32 ONNX export (cached) and its calibration recipe (letterboxed frames)."""
    module = module if module is not None else demo_detector_module()
    w, h = DEMO_DETECTOR_INPUT
    name = f"detector_demo_{h}x{w}"
    key = file_digest(DEMO_DETECTOR_WEIGHTS, f"detector:{w}x{h}")
    # Outputs are box coordinates in input pixels (up to hundreds): parity within a tenth of a pixel. PyTorch's own
    # first call in a long process (bench, after the pose model's sections) was up to 0.0136 px off a float64
    # reference in some runs (4 of 29 bench runs, most test-suite runs), its later calls 0.0004 px, so a bar of
    # 1e-3 px failed at random.
    path = cached_onnx(module, name, key, DEMO_DETECTOR_INPUT, "output", atol=0.1)
    prepare = YoloDetector(None, DEMO_DETECTOR_INPUT).prepare

    def inputs(count: int, images: Path | None) -> np.ndarray:
        return detector_inputs(lambda image: prepare(image)[0], count, images=images)

    prep = {"kind": "letterbox", "input_size": list(DEMO_DETECTOR_INPUT), "normalise": "imagenet", "fill": 114}
    return ExportedModel(name, key, path, "detector-demo", prep, inputs, 256, output_name="output")


def build_detector(onnx_path: Path | None = None, backend: str = "auto", threads: CpuThreads = ALL_CORES,
                   conf_threshold: float | None = None, precision: str = "fp32") -> YoloDetector:
    """The shipped detector, or a user's YOLO-layout ONNX (Ultralytics export: RGB / 255 input, class 0 person;
    run in FP32 by ONNX Runtime). ``conf_threshold`` defaults to 0.3 for a user's model and to 0.7 for the
    shipped one (best MOTA on the validation clips)."""
    if onnx_path is not None:
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise PosetrackError(f"{onnx_path}: detector ONNX not found")
        runner = OrtBackend(onnx_path, default_providers(), threads.count, threads.spin)
        shape = runner.session.get_inputs()[0].shape
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
            raise PosetrackError(f"{onnx_path}: expected a fixed (N, 3, H, W) input, got {shape}")
        return YoloDetector(runner, (shape[3], shape[2]), conf_threshold or 0.3, normalise="unit")
    module = demo_detector_module()
    backend_ = make_backend(backend, module, export_detector(module), precision, threads)
    return YoloDetector(backend_, DEMO_DETECTOR_INPUT, conf_threshold or DEMO_DETECTOR_CONF)


def user_pose_model(config: str, weights: Path | None, input_size: tuple[int, int]) -> PoseModel:
    """An official / MMPose COCO checkpoint the user supplies (COCO-17 layout); no weights: random ones."""
    return PoseModel(config, None if weights is None else Path(weights), input_size, COCO17)
