"""The one assembly point: options (``posetrack.options``) + model records (``models.registry``) → backends,
detector, estimator, tracker and pipeline.

Only the command line, the bench, the trainers and the batch runner build things, and they build them here; the
stages themselves never choose a model, a backend or a cache. Each network's backend is the one
``backends.select.resolve_backend`` picks from the capability table for its precision and device; its ONNX /
FP16 / INT8 files come from the compile chain (``compile.precision``), made on first use.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posetrack.backends import Backend, OrtBackend, TorchBackend, device_providers
from posetrack.backends.select import CAPABILITIES, BackendChoice, Machine, parse_device, resolve_backend
from posetrack.compile.cache import calib_dir
from posetrack.compile.calibrate import Calibration, detector_inputs, pose_inputs
from posetrack.compile.export import ExportResult
from posetrack.compile.precision import ExportedModel, calibration, precision_onnx, verified_export
from posetrack.compile.quantize import ORT_CPU, TENSORRT
from posetrack.detect import Detector, NetworkDetector, PrecomputedDetections, prepare_frame
from posetrack.device.streams import stage_streams
from posetrack.errors import PosetrackError
from posetrack.models import choice_line, create_model, detector_model, fetch_all, model_file, pose_model
from posetrack.models.preprocess import parse_preprocess
from posetrack.models.records import DetectorRecord, PoseRecord
from posetrack.options import DetectorOptions, Options, PoseOptions
from posetrack.pipeline import Pipeline
from posetrack.pose import TopDownConfig, TopDownEstimator, crop_batch
from posetrack.track import PoseTracker
from posetrack.types import Frame

log = logging.getLogger("posetrack")


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
    cores, and idle threads sleep rather than spin, since they share the cores with the other stages (a spinning
    pair of pose threads starves the detector and the tracker on a 2-core machine)."""
    if sequential:
        return CpuThreads(cores), CpuThreads(cores)
    return CpuThreads(1, spin=False), CpuThreads(cores, spin=False)


def device_for(device: str | None) -> str:
    """``cpu`` or ``cuda:N`` on this machine for a ``--device`` value (None: a CUDA GPU if there is one)."""
    return parse_device(device, Machine.here().cuda_devices)


def make_backend(kind: str, module: torch.nn.Module | None, model: ExportedModel, precision: str = "fp32",
                 threads: CpuThreads = ALL_CORES, device: str | None = None,
                 cuda_graphs: bool | None = None, torch_compile: bool = False) -> Backend:
    """A backend running ``model`` at ``precision``: the one ``resolve_backend`` picks for ``kind`` (``auto``,
    ``torch``, ``ort``, ``trt``) and ``device``; ``module`` is its PyTorch network (None: an ONNX-only model,
    which PyTorch cannot run). ``threads`` applies to ONNX Runtime on the CPU; ``cuda_graphs`` (None: on a GPU)
    and ``torch_compile`` to PyTorch."""
    choice = choose(kind, precision, device, torch_ok=module is not None)
    if choice.kind == "torch":
        assert module is not None
        gpu = choice.device.startswith("cuda")
        return TorchBackend(module, output_names=(model.output_name,), device=choice.device, precision=precision,
                            channels_last=gpu, cuda_graphs=gpu and cuda_graphs is not False, compile=torch_compile)
    if torch_compile:
        raise PosetrackError(f"--torch-compile compiles the PyTorch backend; {choice.kind} was chosen "
                             f"({choice.reason}): add --backend torch")
    if choice.kind == "trt":
        from posetrack.compile.tensorrt import tensorrt_backend, tensorrt_onnx
        return tensorrt_backend(tensorrt_onnx(model, precision), model.name, precision, device=choice.device,
                                input_size=model.record.input_size)
    gpu = choice.device.startswith("cuda")
    return OrtBackend(precision_onnx(model, precision, TENSORRT if gpu else ORT_CPU), device_providers(choice.device),
                      threads.count, threads.spin)


def choose(kind: str, precision: str, device: str | None, torch_ok: bool = True) -> BackendChoice:
    """``resolve_backend`` for this machine; a model without a PyTorch network (an ONNX export) is given to the
    others only."""
    allowed = tuple(CAPABILITIES) if torch_ok else tuple(k for k in CAPABILITIES if k != "torch")
    return resolve_backend(kind, precision, device, Machine.here(), allowed)


# ------------------------------------------------------------------------------------------ the pose model


def pose_record(options: PoseOptions) -> PoseRecord:
    """The record ``options.model`` names (a checkpoint file: with the options' config, input size and joints)."""
    return pose_model(options.model, options.input_size, options.layout, options.config)


def export_pose(record: PoseRecord, module: torch.nn.Module | None = None,
                people: Options | None = None) -> ExportedModel:
    """The pose model's FP32 ONNX export (made on first use, cached) and its calibration recipe (person crops,
    found in a user's images by the detector of ``people``, default the run's default detector; built only when
    images are read, so a bad images folder fails before any detector is prepared)."""
    module = module if module is not None else create_model(record)
    config = TopDownConfig.from_record(record)

    def crop(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return crop_batch(image, boxes, config)[0]

    def inputs(count: int, images: Path | None) -> np.ndarray:
        if images is None:
            return pose_inputs(crop, count)
        finder = functools.cache(lambda: build_detector(people or Options(), ALL_CORES))  # made for the first image
        return pose_inputs(crop, count, images=images,
                           find_people=lambda image: finder().detect(Frame(0, 0.0, image)).boxes)

    return ExportedModel(record, module, inputs)


def build_estimator(options: Options, threads: CpuThreads = ALL_CORES) -> TopDownEstimator:
    """A top-down estimator of the options' pose model on its backend, precision and device (on a CUDA device
    crops and decoding run there too: ``posetrack.device``)."""
    record = pose_record(options.pose)
    module = create_model(record)
    runtime = options.runtime
    backend = make_backend(runtime.backend, module, export_pose(record, module), options.pose.precision, threads,
                           runtime.device, torch_compile=runtime.torch_compile)
    return TopDownEstimator(backend, config=TopDownConfig.from_record(record, options.pose.flip_test))


# -------------------------------------------------------------------------------------------- the detector


def detector_record(options: DetectorOptions) -> DetectorRecord:
    """The record ``options.model`` names, with the options' preprocessing, input size and person class (an ONNX
    file: read by what it is, ``models.user_files``)."""
    preprocess = parse_preprocess(_json_or_name(options.preprocess), "--detector-preprocess") if options.preprocess \
        else None
    return detector_model(options.model, preprocess, options.imgsz, options.person_class)


def _json_or_name(text: str) -> object:
    import json

    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise PosetrackError(f"--detector-preprocess: not valid JSON ({exc})") from None
    return text


def export_detector(record: DetectorRecord, module: torch.nn.Module | None = None) -> ExportedModel:
    """The detector's FP32 ONNX file (the shipped architecture exported on first use, or the model's own ONNX,
    fetched on first use) and its calibration recipe (letterboxed frames)."""
    def prepare(image: np.ndarray) -> np.ndarray:
        return prepare_frame(image, record.input_size, record.preprocess)[0]

    def inputs(count: int, images: Path | None) -> np.ndarray:
        return detector_inputs(prepare, count, images=images)

    if record.weights is None:  # an ONNX network: the file itself is the export
        return ExportedModel(record, None, inputs, source=lambda: _fetched(record))
    return ExportedModel(record, module if module is not None else create_model(record), inputs)


def _fetched(record: DetectorRecord) -> Path:
    path = model_file(record)
    assert path is not None
    return path


def build_detector(options: Options, threads: CpuThreads = ALL_CORES) -> Detector:
    """The options' person detector: precomputed boxes, or its network on its backend, precision and device."""
    opts = options.detector
    if opts.detections is not None:
        return PrecomputedDetections(opts.detections)
    record = detector_record(opts)
    if record.why:  # a user's file: say once what it was taken to be, and why
        log.info("%s", choice_line(record, opts.conf, opts.iou))
    module = create_model(record) if record.weights is not None else None
    backend = make_backend(options.runtime.backend, module, export_detector(record, module), opts.precision, threads,
                           options.runtime.device)
    return NetworkDetector(backend, record, opts.conf, opts.iou)


def exported(model: str, options: Options) -> ExportedModel:
    """The export of the options' ``"pose"`` or ``"detector"`` model (``posetrack export / calibrate / build``)."""
    if model == "pose":
        return export_pose(pose_record(options.pose), people=options)
    return export_detector(detector_record(options.detector))


# -------------------------------------------------------------------------------------------- the pipeline


def build_pipeline(options: Options) -> Pipeline:
    """Detector, estimator and tracker of ``options``, wired as a pipeline (stages overlapped unless
    ``options.runtime.sequential``)."""
    runtime = options.runtime
    needed: list[PoseRecord | DetectorRecord] = [pose_record(options.pose)]
    if options.detector.detections is None:
        needed.append(detector_record(options.detector))
    fetch_all(needed)  # every model file the run needs, before any is built: one line names all that cannot come
    detector_threads, pose_threads = stage_threads(runtime.sequential, runtime.cores)
    if runtime.cores is not None:
        torch.set_num_threads(runtime.cores)  # the torch backend's share
    estimator = build_estimator(options, pose_threads)
    detector = build_detector(options, detector_threads)
    choice = choose(runtime.backend, options.pose.precision, runtime.device)
    streams = stage_streams(torch.device(choice.device)) if choice.device.startswith("cuda:") else None
    pipeline = Pipeline(detector, estimator, PoseTracker(options.tracker), max_persons=options.pose.max_persons,
                        queue_size=runtime.queues(), sequential=runtime.sequential,
                        detect_every=options.detector.every, recover_score=options.pose.recover_score,
                        label=choice.label(options.pose.precision), stage_context=streams)
    pipeline.warmup_s = warm_up(pipeline)
    return pipeline


def warm_up(pipeline: Pipeline) -> float:
    """Run every batch shape the pipeline's PyTorch networks will see on a GPU now, on this thread, before any
    stage thread starts: cuDNN autotuning and CUDA graph capture then never happen mid-run, and never concurrently
    with another stage's CUDA work. Here the detector's one frame, and the pose network's buckets up to
    ``max_persons`` crops (twice that with flip test) where it runs outside a pose step; a pose step (crops,
    network and decoding in one graph per frame size) is captured when the first frame shows its size
    (``Pipeline.run``). Returns the seconds it took (0.0 where nothing runs on a GPU)."""
    start = time.perf_counter()
    estimator, detector = pipeline.estimator, pipeline.detector
    jobs = [] if estimator.step is not None else [
        (estimator.backend, estimator.config.input_size,
         pipeline.max_persons * (2 if estimator.config.flip_test else 1))]
    if isinstance(detector, NetworkDetector):
        jobs.append((detector.backend, detector.input_size, 1))
    warmed = False
    for backend, (width, height), batch in jobs:
        if isinstance(backend, TorchBackend) and backend.device.type == "cuda":
            backend.warm_up((3, height, width), batch)
            warmed = True
    return time.perf_counter() - start if warmed else 0.0


def create_pipeline(pose: str | None = None, detector: str | None = None, device: str | None = None,
                    precision: str | None = None, options: Options | None = None, **changes: object) -> Pipeline:
    """The Python entry: a pipeline of the named models (default: ``options.DEFAULT_POSE`` and
    ``DEFAULT_DETECTOR``, fetched on first use; ``"demo"`` for the shipped synthetic-world ones) on ``device``.
    Any other setting as ``section__field=value`` (``detector__every=3``, ``tracker__max_age=30``), over
    ``options`` (default: the defaults). ``pipeline.track(source)`` yields a ``FrameResult`` per frame."""
    return build_pipeline((options or Options()).replaced(pose, detector, device, precision, **changes))


# ------------------------------------------------------------------------------------- the compile chain's steps


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
