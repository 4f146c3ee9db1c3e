"""The one assembly point: options + model records → backends, detector, estimator, tracker and pipeline.

Only the command line, the bench and the batch runner build things here; the stages themselves never choose a
model, a backend or a cache. Models come from records (``models.zoo``), their ONNX / FP16 / INT8 files from the
compile chain (``compile.precision``), and the backend follows ``--backend``: ``torch`` (eager FP32), ``ort``
(ONNX Runtime, best provider), ``trt`` (TensorRT), or ``auto`` (TensorRT where it runs, else ONNX Runtime).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posetrack.backends import Backend, OrtBackend, TorchBackend, default_providers
from posetrack.backends.select import BackendChoice, default_device, resolve_backend, tensorrt_usable
from posetrack.compile.calibrate import detector_inputs, pose_inputs
from posetrack.compile.precision import ExportedModel, cached_onnx, precision_onnx
from posetrack.compile.quantize import ORT_CPU, TENSORRT
from posetrack.detect import Detector, PrecomputedDetections, YoloDetector, prepare_frame
from posetrack.device.streams import stage_streams
from posetrack.errors import PosetrackError
from posetrack.models.zoo import DEMO_DETECTOR, DEMO_POSE, DetectorRecord, PoseRecord, load_detector, load_pose, user_detector
from posetrack.pipeline import Pipeline
from posetrack.pose import TopDownConfig, TopDownEstimator, crop_batch
from posetrack.track import PoseTracker


@dataclass(frozen=True)
class CpuThreads:
    """How an ONNX Runtime session uses the CPU: ``count`` intra-op threads (None: one per core); ``spin``: idle
    threads busy-wait for work (see ``OrtBackend``)."""

    count: int | None = None
    spin: bool = True


ALL_CORES = CpuThreads()


def stage_threads(sequential: bool, cores: int | None = None) -> tuple[CpuThreads, CpuThreads]:
    """(detector, pose) threading of a pipeline on ``cores`` cores (None: all of them). One after another, each
    stage has every core. Overlapped, the detector takes one thread and the pose network, the slowest stage, all
    cores, and idle threads sleep rather than spin, since they share the cores with the other stages (demo clip,
    192x128 pose model, 2 cores: 29.5 FPS with one spinning thread each, 24-26 with a spinning pose pair,
    31.5-33.7 so)."""
    if sequential:
        return CpuThreads(cores), CpuThreads(cores)
    return CpuThreads(1, spin=False), CpuThreads(cores, spin=False)


def cuda_devices() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def machine_device(device: str | None) -> str:
    """``cpu`` or ``cuda:N`` on this machine for a ``--device`` value (None: a CUDA GPU if there is one)."""
    return default_device(device, cuda_devices())


def backend_choice(kind: str, device: str | None = None) -> BackendChoice:
    """``resolve_backend`` for this machine: what TensorRT, torch and ONNX Runtime can use here."""
    import onnxruntime

    ort_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    return resolve_backend(kind, device, tensorrt_usable(), cuda_devices(), ort_cuda)


def make_backend(kind: str, module: torch.nn.Module, model: ExportedModel, precision: str = "fp32",
                 threads: CpuThreads = ALL_CORES, device: str | None = None,
                 cuda_graphs: bool | None = None, torch_compile: bool = False) -> Backend:
    """A backend running ``model``: ``torch`` (eager, or CUDA graphs on a GPU), ``ort``, ``trt``, or ``auto``
    (``resolve_backend``'s order); ``threads`` applies to ONNX Runtime on the CPU; ``cuda_graphs`` (None: on a GPU)
    and ``torch_compile`` to PyTorch."""
    choice = backend_choice(kind, device)
    if choice.kind == "torch":
        if precision == "int8":
            raise PosetrackError("--precision int8: the torch backend runs fp32, fp16 and bf16; INT8 on a GPU needs "
                                 "TensorRT's INT8 kernels (--backend trt), on a CPU ONNX Runtime (--backend ort)")
        gpu = choice.device.startswith("cuda")
        return TorchBackend(module, output_names=(model.output_name,), device=choice.device, precision=precision,
                            channels_last=gpu, cuda_graphs=gpu and cuda_graphs is not False, compile=torch_compile)
    if torch_compile:
        raise PosetrackError(f"--torch-compile compiles the PyTorch backend; {choice.kind} was chosen "
                             f"({choice.reason}): add --backend torch")
    if precision == "bf16":
        raise PosetrackError(f"--precision bf16 runs on --backend torch; {choice.kind} runs fp32, fp16 and int8")
    if choice.kind == "trt":
        from posetrack.compile.tensorrt import tensorrt_backend, tensorrt_onnx
        return tensorrt_backend(tensorrt_onnx(model, precision), model.name, precision)
    providers = default_providers() if choice.device != "cpu" else ["CPUExecutionProvider"]
    flavour = ORT_CPU if providers[0] == "CPUExecutionProvider" else TENSORRT
    return OrtBackend(precision_onnx(model, precision, flavour), providers, threads.count, threads.spin)


# ------------------------------------------------------------------------------------------ the pose model


def export_pose(record: PoseRecord, module: torch.nn.Module | None = None) -> ExportedModel:
    """The pose model's FP32 ONNX export (made on first use, cached) and its calibration recipe (person crops)."""
    module = module if module is not None else load_pose(record)
    config = TopDownConfig.from_record(record)

    def crop(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return crop_batch(image, boxes, config)[0]

    def inputs(count: int, images: Path | None) -> np.ndarray:
        if images is None:
            return pose_inputs(crop, count)
        detector = build_detector(backend="ort")  # a user's images: persons found by the shipped detector
        return pose_inputs(crop, count, images=images, find_people=lambda image: detector.detect(image).boxes)

    return ExportedModel(record, lambda: cached_onnx(module, record, record.input_size), inputs)


def build_estimator(record: PoseRecord, backend: str = "auto", threads: CpuThreads = ALL_CORES,
                    flip_test: bool = False, precision: str = "fp32", device: str | None = None,
                    torch_compile: bool = False) -> TopDownEstimator:
    """A top-down estimator of ``record`` on ``backend`` at ``precision`` (on ``device``: see ``resolve_backend``);
    on a CUDA device crops and decoding run there too (``posetrack.device``)."""
    module = load_pose(record)
    exported = export_pose(record, module)
    return TopDownEstimator(make_backend(backend, module, exported, precision, threads, device,
                                         torch_compile=torch_compile),
                            config=TopDownConfig.from_record(record, flip_test))


# -------------------------------------------------------------------------------------------- the detector


def export_detector(record: DetectorRecord = DEMO_DETECTOR, module: torch.nn.Module | None = None) -> ExportedModel:
    """The shipped detector's FP32 ONNX export (made on first use, cached) and its calibration recipe (letterboxed
    frames)."""
    module = module if module is not None else load_detector(record)

    def prepare(image: np.ndarray) -> np.ndarray:
        return prepare_frame(image, record.input_size, record.normalise, record.fill)[0]

    def inputs(count: int, images: Path | None) -> np.ndarray:
        return detector_inputs(prepare, count, images=images)

    return ExportedModel(record, lambda: cached_onnx(module, record, record.input_size, atol=record.export_atol),
                         inputs)


def user_detector_record(onnx_path: Path, threads: CpuThreads = ALL_CORES) -> tuple[DetectorRecord, OrtBackend]:
    """The record of a user's YOLO-layout ONNX (input size read from the file) and its ONNX Runtime session."""
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise PosetrackError(f"{onnx_path}: detector ONNX not found")
    runner = OrtBackend(onnx_path, default_providers(), threads.count, threads.spin)
    shape = runner.session.get_inputs()[0].shape
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
        raise PosetrackError(f"{onnx_path}: expected a fixed (N, 3, H, W) input, got {shape}")
    return user_detector(onnx_path, (shape[3], shape[2])), runner


def build_detector(onnx_path: Path | None = None, backend: str = "auto", threads: CpuThreads = ALL_CORES,
                   conf_threshold: float | None = None, precision: str = "fp32",
                   device: str | None = None) -> YoloDetector:
    """The shipped detector, or a user's YOLO-layout ONNX (Ultralytics export: RGB / 255 input, class 0 person;
    run in FP32 by ONNX Runtime). ``conf_threshold`` defaults to the record's: 0.3 for a user's model, 0.7 for the
    shipped one (best MOTA on the validation clips)."""
    if onnx_path is not None:
        record, runner = user_detector_record(onnx_path, threads)
        return YoloDetector.from_record(runner, record, conf_threshold)
    module = load_detector(DEMO_DETECTOR)
    backend_ = make_backend(backend, module, export_detector(DEMO_DETECTOR, module), precision, threads, device)
    return YoloDetector.from_record(backend_, DEMO_DETECTOR, conf_threshold)


def exported(model: str, pose: PoseRecord = DEMO_POSE) -> ExportedModel:
    """The export of ``model`` (``"pose"``: ``pose``'s record, ``"detector"``: the shipped detector)."""
    return export_pose(pose) if model == "pose" else export_detector()


# -------------------------------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class RunOptions:
    """What ``posetrack run`` builds a pipeline from.

    Attributes:
        pose: the pose model record. detector: a user's YOLO-layout ONNX (None: the shipped detector).
        detections: precomputed COCO detection results instead of a detector.
        backend / precision: see ``make_backend``. flip_test: average with mirrored crops.
        max_persons: poses per frame at most. cores: CPU cores the networks may use (None: all; a batch worker
            gets its share). device: ``cpu``, ``cuda``, ``cuda:N`` (None: a CUDA GPU if there is one).
        torch_compile: ``torch.compile`` the pose network (the PyTorch backend only).
    """

    pose: PoseRecord = DEMO_POSE
    detector: Path | None = None
    detections: Path | None = None
    backend: str = "auto"
    precision: str = "fp32"
    flip_test: bool = False
    max_persons: int = 50
    cores: int | None = None
    device: str | None = None
    torch_compile: bool = False


def build_pipeline(options: RunOptions, sequential: bool = False) -> Pipeline:
    """Detector, estimator and tracker of ``options``, wired as a pipeline (stages overlapped unless
    ``sequential``)."""
    detector_threads, pose_threads = stage_threads(sequential, options.cores)
    if options.cores is not None:
        torch.set_num_threads(options.cores)  # the torch backend's share
    estimator = build_estimator(options.pose, options.backend, pose_threads, options.flip_test, options.precision,
                                options.device, options.torch_compile)
    detector: Detector
    if options.detections:
        detector = PrecomputedDetections(options.detections)
    else:
        detector = build_detector(options.detector, options.backend, detector_threads, precision=options.precision,
                                  device=options.device)
    choice = backend_choice(options.backend, options.device)
    streams = stage_streams(torch.device(choice.device)) if choice.device.startswith("cuda:") else None
    return Pipeline(detector, estimator, PoseTracker(), max_persons=options.max_persons, sequential=sequential,
                    label=choice.label(options.precision), stage_context=streams)
