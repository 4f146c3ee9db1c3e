"""``posetrack bench``: one report of speed and accuracy side by side, for choosing a backend and precision.

Sections, each from real runs (warm-up, then repeated timed calls):
- ceiling: the achieved GFLOP/s of one large convolution on each device rows ran on (the CPU: PyTorch and ONNX
  Runtime, all threads; a GPU: PyTorch there), so a row is only ever compared with its own device;
- engines: latency (median, p90, p99) and throughput per model × backend × precision × batch (× CUDA graphs for
  PyTorch on a GPU), with achieved GFLOP/s and the fraction of the ceiling; timed as ``measure.timed_call`` says;
- speed-ups: FP16 / INT8 vs FP32 of the same backend, timed in alternating rounds (robust to machine drift);
- accuracy per precision: held-out OKS AP of the demo pose model (ground-truth boxes), box AP50 of the detector,
  heatmap-argmax agreement with FP32 (demo, and the random-weight official W32);
- pipeline: end-to-end FPS on a synthetic clip, pipelined vs sequential, busy time per stage, overlap efficiency
  (throughput ÷ slowest stage's rate), and the PoseTrack mAP / MOTA of the run, per precision, on the backend and
  device asked for;
- tracker: association time per frame vs number of people.
``BenchSuite`` runs them and holds what sections share (held-out sets, reference heatmaps); ``bench.report``
writes the result.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import onnx
import torch

from posetrack.assemble import backend_for, build_pipeline, export_detector, export_pose
from posetrack.backends import Backend, OrtBackend
from posetrack.backends.select import CAPABILITIES, Machine
from posetrack.bench.measure import (
    Ceiling,
    TrackerQuality,
    argmax_agreement,
    conv_ceiling,
    count_gflop,
    environment,
    measure,
    measure_speedup,
    measure_synth,
    measure_tracker,
    measure_tracker_quality,
    peak_margin,
)
from posetrack.compile.calibrate import CALIB_SEED, pose_inputs
from posetrack.compile.precision import ExportedModel, calibration
from posetrack.compile.quantize import FLAVOURS, quantize_qdq
from posetrack.demo import render_clip, track_and_score
from posetrack.detect import NetworkDetector
from posetrack.device import is_cuda
from posetrack.errors import PosetrackError
from posetrack.models import DEMO_DETECTOR, DEMO_POSE, PoseRecord, create_model, random_pose
from posetrack.options import PRECISIONS, Options
from posetrack.pose import TopDownConfig, TopDownEstimator, crop_batch
from posetrack.synth import PRESETS
from posetrack.train.heldout import detector_ap, heldout_set, pose_ap


@dataclass(frozen=True)
class BenchOptions:
    """What to measure. ``quick()`` is the < 5 minute subset.

    ``device``: where the engine rows and the pipeline run (``cpu``, ``cuda``, ``cuda:N``); ``precisions`` None:
    fp32, fp16 and int8, and bf16 too on a GPU. ``pipeline_backend``: the backend of the pipeline section (auto:
    ``resolve_backend``'s choice for the device; on the CPU that is ONNX Runtime).
    """

    models: tuple[str, ...] = ("demo", "detector", "w32")
    backends: tuple[str, ...] = ("torch", "ort", "trt")
    precisions: tuple[str, ...] | None = None
    device: str = "cpu"
    pipeline_backend: str = "auto"
    batches: tuple[int, ...] = (1, 4, 8, 16)
    repeats: int = 10
    min_seconds: float = 1.0
    # INT8/FP16 vs FP32: alternating rounds (a median of 5 ratios within 2 s put the demo's batch-1 INT8 speed-up at
    # 1.36x in one run, while 15 rounds of 40 calls gave 1.64x: this VM's speed drifts over seconds)
    speedup_rounds: int = 11
    clip_frames: int = 150
    heldout_frames: int = 60
    tracker_people: tuple[int, ...] = (1, 2, 5, 10, 20, 50)

    @property
    def gpu(self) -> bool:
        return is_cuda(self.device)

    def precision_list(self) -> tuple[str, ...]:
        return self.precisions or tuple(p for p in PRECISIONS if self.gpu or p != "bf16")

    @classmethod
    def quick(cls) -> BenchOptions:
        return cls(models=("demo", "detector"), batches=(1, 8), repeats=5, min_seconds=0.5, speedup_rounds=5,
                   clip_frames=60, heldout_frames=24, tracker_people=(1, 5, 20, 50))


@dataclass(frozen=True)
class EngineRow:
    model: str
    backend: str
    device: str
    precision: str
    batch: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    ms_per_item: float
    items_per_s: float
    gflop_per_item: float
    gflops_per_s: float
    ceiling_fraction: float
    timer: str
    calls: int  # timed calls behind the median


@dataclass(frozen=True)
class AccuracyRow:
    model: str
    backend: str
    precision: str
    metric: str
    value: float


@dataclass(frozen=True)
class SpeedupRow:
    model: str
    backend: str
    precision: str
    batch: int
    fp32_ms: float
    ms: float
    speedup: float
    rounds: int


@dataclass(frozen=True)
class PipelineRow:
    backend: str
    precision: str
    mode: str
    frames: int
    fps: float
    busy_s: dict[str, float]
    stage_fps: dict[str, float]
    overlap_efficiency: float
    mAP: float
    MOTA: float
    IDF1: float
    HOTA: float
    AssA: float


@dataclass
class Report:
    options: BenchOptions
    environment: dict
    ceilings: dict[str, Ceiling] = field(default_factory=dict)  # device → its ceiling
    engines: list[EngineRow] = field(default_factory=list)
    accuracy: list[AccuracyRow] = field(default_factory=list)
    speedups: list[SpeedupRow] = field(default_factory=list)
    pipeline: list[PipelineRow] = field(default_factory=list)
    tracker: list = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False  # stopped (Ctrl-C, SIGTERM) before every section was measured


# ------------------------------------------------------------------------------------------- primitives


def engine_row(model: str, precision: str, backend: Backend, input_shape: tuple[int, ...], batch: int,
               options: BenchOptions, gflop: float, ceiling: Ceiling) -> EngineRow:
    """One measured row; ``ceiling`` is that of the device ``backend`` runs on (``backend_device``)."""
    r = measure(backend, input_shape, batch, repeats=options.repeats, min_seconds=options.min_seconds,
                device=ceiling.device)
    achieved = gflop * r.crops_per_s
    return EngineRow(model, backend.name, ceiling.device, precision, batch, r.median_ms, r.p90_ms, r.p99_ms,
                     r.per_crop_ms, r.crops_per_s, gflop, achieved, achieved / ceiling.gflops_per_s, r.timer,
                     r.repeats)


def backend_device(backend: Backend) -> str:
    """``cpu`` or ``cuda:N``: where ``backend`` computes (ONNX Runtime asked for a GPU may have fallen back)."""
    device = str(backend.device)
    return "cuda:0" if device == "cuda" else device


def run_benchmarks(options: BenchOptions, progress: bool = True, report: Report | None = None,
                   checkpoint: Callable[[Report], None] | None = None) -> Report:
    """Measure everything ``options`` asks for (into ``report``, if given; ``checkpoint`` as ``BenchSuite``'s);
    backends or precisions that cannot run here are listed in ``skipped`` with the reason."""
    return BenchSuite(options, progress, checkpoint).run(report)


@dataclass(frozen=True)
class _Subject:
    """A model under test: its export, torch module, per-item input shape, and pose record (None: detector)."""

    exported: ExportedModel
    module: torch.nn.Module
    shape: tuple[int, ...]
    record: PoseRecord | None


def _subject(name: str) -> _Subject:
    if name == "detector":
        module = create_model(DEMO_DETECTOR)
        w, h = DEMO_DETECTOR.input_size
        return _Subject(export_detector(DEMO_DETECTOR, module), module, (3, h, w), None)
    record = DEMO_POSE if name == "demo" else random_pose(name)
    module = create_model(record)
    w, h = record.input_size
    return _Subject(export_pose(record, module), module, (3, h, w), record)


def _heatmaps(backend: Backend, crops: np.ndarray, batch: int = 8) -> np.ndarray:
    return np.concatenate([backend.run({"input": crops[i:i + batch]})["heatmaps"] for i in range(0, len(crops), batch)])


class BenchSuite:
    """One bench run: the sections of ``options``, into one ``Report``. Held-out sets and the FP32 reference
    heatmaps are made once per run and shared by the sections that need them."""

    def __init__(self, options: BenchOptions, progress: bool = True,
                 checkpoint: Callable[[Report], None] | None = None):
        """``checkpoint(report)`` is called after every measured row (to save what was measured so far)."""
        self.options, self.progress, self.checkpoint = options, progress, checkpoint
        self._report: Report | None = None
        self._heldout: dict[int, tuple] = {}
        self._agreement: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def run(self, report: Report | None = None) -> Report:
        """Measure every section into ``report`` (a new one if None). Each row is added as soon as it is measured,
        so a caller holding ``report`` keeps what was measured when a stop signal interrupts the run."""
        start = time.perf_counter()
        options = self.options
        report = report or Report(options, environment())
        self._report = report
        try:
            for name in options.models:
                self._model(name, report)
            if "demo" in options.models and "detector" in options.models:
                self._pipeline(report)
            for people in options.tracker_people:
                report.tracker.append(measure_tracker(people, frames=max(20, 5 * options.repeats)))
                self._checkpoint()
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        finally:
            report.seconds = time.perf_counter() - start
        return report

    def _say(self, text: str) -> None:
        """Checkpoint the report, then print the measured row's line (with ``progress``): a row printed is saved."""
        self._checkpoint()
        if self.progress:
            print(text, flush=True)

    def _checkpoint(self) -> None:
        if self.checkpoint is not None and self._report is not None:
            self.checkpoint(self._report)

    def _ceiling(self, report: Report, device: str) -> Ceiling:
        """The ceiling of ``device``, measured the first time a row runs there."""
        if device not in report.ceilings:
            report.ceilings[device] = conv_ceiling(device=device)
            self._say(f"ceiling on {device}: {report.ceilings[device].gflops_per_s:.1f} GFLOP/s")
        return report.ceilings[device]

    def _variants(self, kind: str) -> list[tuple[str, bool | None]]:
        """(precision, CUDA graphs) pairs one backend kind is measured at: the asked precisions it runs on the
        device (``backends.select.CAPABILITIES``), and PyTorch's on a GPU both eager and with CUDA graphs."""
        capability, device = CAPABILITIES[kind], "cuda" if self.options.gpu else "cpu"
        graphs: tuple[bool | None, ...] = (False, True) if kind == "torch" and self.options.gpu else (None,)
        return [(p, g) for p in self.options.precision_list() if capability.runs(p, device) for g in graphs]

    def _model(self, name: str, report: Report) -> None:
        options = self.options
        subject = _subject(name)
        gflop = count_gflop(subject.module, subject.shape)
        label = subject.exported.name
        # the accuracy reference: ONNX Runtime FP32 on the CPU, whatever else is measured
        reference = backend_for(subject.exported, "ort", "fp32", "cpu")
        device = "cuda" if options.gpu else "cpu"
        for kind in options.backends:
            unrun = [p for p in options.precision_list() if not CAPABILITIES[kind].runs(p, device)]
            if unrun:
                report.skipped.append(f"{label} {kind} {'/'.join(unrun)}: {kind} does not run it on {device} "
                                      "(backends.select.CAPABILITIES)")
        for kind in options.backends:
            if kind == "trt" and not Machine.here().tensorrt:
                report.skipped.append(f"{label} trt: TensorRT cannot run here (no tensorrt module or no CUDA GPU)")
                continue
            fp32: dict[bool | None, Backend] = {}
            for precision, graphs in self._variants(kind):
                try:
                    backend = backend_for(subject.exported, kind, precision, options.device, cuda_graphs=graphs)
                except PosetrackError as exc:
                    report.skipped.append(f"{label} {kind} {precision}: {exc}")
                    continue
                ceiling = self._ceiling(report, backend_device(backend))
                for batch in options.batches:
                    row = engine_row(label, precision, backend, subject.shape, batch, options, gflop, ceiling)
                    report.engines.append(row)
                    self._say(f"{label:28s} {row.backend:32s} {precision} batch {batch:2d}: {row.ms_per_item:8.3f} "
                              f"ms/item {row.items_per_s:9.1f}/s  {100 * row.ceiling_fraction:5.1f}% of ceiling"
                              + (" (FP32's FLOPs in lower-precision kernels: above 100% is possible)"
                                 if precision != "fp32" and row.ceiling_fraction > 1 else ""))
                if precision == "fp32":
                    fp32[graphs] = backend
                elif graphs in fp32:
                    report.speedups += self._speedups(label, precision, fp32[graphs], backend, subject.shape)
                if graphs or (kind == "torch" and precision == "fp32"):
                    continue  # a graph replays the eager numbers; PyTorch FP32 is what the exports equal
                rows = self._accuracy(name, subject, backend, reference, precision)
                if kind == "ort" and precision == "int8":
                    rows += self._calibration_methods(name, subject, reference)
                report.accuracy += rows
                for a in rows:
                    self._say(f"{label:28s} {a.backend:32s} {a.precision} {a.metric}: {a.value:.4f}")

    def _speedups(self, label: str, precision: str, fp32: Backend, backend: Backend,
                  shape: tuple[int, ...]) -> list[SpeedupRow]:
        options, rows = self.options, []
        for batch in options.batches:
            r = measure_speedup(fp32, backend, shape, batch, rounds=options.speedup_rounds,
                                min_seconds=4 * options.min_seconds, device=backend_device(backend))
            rows.append(SpeedupRow(label, backend.name, precision, batch, r.reference_ms, r.other_ms, r.speedup,
                                   r.rounds))
            self._say(f"{label:28s} {backend.name:24s} {precision} batch {batch:2d}: {r.speedup:.2f}x FP32 "
                      f"({r.reference_ms:.2f} → {r.other_ms:.2f} ms, alternating)")
        return rows

    def _calibration_methods(self, name: str, subject: _Subject, reference: Backend | None) -> list[AccuracyRow]:
        """Accuracy of every range method in both Q/DQ flavours (run by ONNX Runtime on the CPU): the evidence for
        the default method."""
        calib = calibration(subject.exported, progress=False)
        fp32 = onnx.load(str(subject.exported.onnx))
        rows = []
        for method in calib.ranges:
            for flavour in FLAVOURS.values():
                backend = OrtBackend(quantize_qdq(fp32, calib.method_ranges(method), flavour).SerializeToString(),
                                     ["CPUExecutionProvider"], optimize=not flavour.fp16_elsewhere)
                backend.name = f"ort:CPU ({flavour.name} Q/DQ)"
                rows += [replace(r, precision=f"int8 {method}")
                         for r in self._accuracy(name, subject, backend, reference, "int8")]
        return rows

    def _heldout_set(self) -> tuple:
        frames = self.options.heldout_frames
        if frames not in self._heldout:
            self._heldout[frames] = heldout_set(frames=frames)
        return self._heldout[frames]

    def _reference(self, subject: _Subject, reference: Backend, config: TopDownConfig) -> tuple[np.ndarray, np.ndarray]:
        """Crops not used for calibration and their FP32 heatmaps, once per model (not per variant)."""
        if subject.exported.name not in self._agreement:
            crops = pose_inputs(lambda image, boxes: crop_batch(image, boxes, config)[0], 32, seed=CALIB_SEED + 1)
            self._agreement[subject.exported.name] = crops, _heatmaps(reference, crops)
        return self._agreement[subject.exported.name]

    def _accuracy(self, name: str, subject: _Subject, backend: Backend, reference: Backend | None,
                  precision: str) -> list[AccuracyRow]:
        """Accuracy rows of one backend at one precision (argmax agreement is against ORT FP32)."""
        def row(metric: str, value: float) -> AccuracyRow:
            return AccuracyRow(subject.exported.name, backend.name, precision, metric, float(value))

        if subject.record is None:
            stats = detector_ap(NetworkDetector(backend, DEMO_DETECTOR, conf=0.3),
                                *self._heldout_set())
            return [row("box AP50", stats["AP50"]), row("box AP", stats["AP"])]
        rows = []
        config = TopDownConfig.from_record(subject.record)
        if name == "demo":
            stats = pose_ap(TopDownEstimator(backend, config=config), *self._heldout_set())
            rows += [row("OKS AP", stats["AP"]), row("OKS AP50", stats["AP50"])]
        if reference is not None and precision != "fp32":
            crops, ref = self._reference(subject, reference, config)
            out = _heatmaps(backend, crops)
            rows += [row("argmax agreement vs fp32", argmax_agreement(ref, out)),
                     row("argmax within one cell of fp32", argmax_agreement(ref, out, cells=1)),
                     row("fp32 peak margin (median top-1 minus top-2)", peak_margin(ref)),
                     row("mean abs heatmap error vs fp32", float(np.abs(out - ref).mean()))]
        return rows

    def _pipeline(self, report: Report) -> None:
        """The shipped models on a synthetic crossing clip, pipelined and sequential, per precision, on the
        options' pipeline backend and device."""
        options = self.options
        with tempfile.TemporaryDirectory() as tmp:
            clip = render_clip(Path(tmp) / "gt", "crossing", options.clip_frames, seed=3)
            for precision in options.precision_list():
                for sequential in (False, True):
                    run = Options.demo(precision=precision, device=options.device, runtime__sequential=sequential,
                                       runtime__backend=options.pipeline_backend, output__video=False)
                    try:
                        pipeline = build_pipeline(run)
                    except PosetrackError as exc:
                        report.skipped.append(f"pipeline {options.pipeline_backend} {precision}: {exc}")
                        break
                    scored = track_and_score(clip, pipeline, Path(tmp) / f"{precision}-{sequential}", run.output,
                                             progress=False)
                    fps = scored.summary.times.fps()
                    stages = {s: v for s, v in fps.items() if s != "total"}
                    h = scored.report.headline()
                    row = PipelineRow(pipeline.label, precision, "sequential" if sequential else "pipelined",
                                      scored.summary.frames,
                                      fps["total"], dict(scored.summary.times.busy), stages,
                                      fps["total"] / min(stages.values()), scored.metrics.total("ap"), h["MOTA"],
                                      h["IDF1"], h["HOTA"], h["AssA"])
                    report.pipeline.append(row)
                    self._say(f"pipeline {pipeline.label} {row.mode:10s}: {row.fps:6.1f} FPS, overlap efficiency "
                              f"{row.overlap_efficiency:.2f}, mAP {row.mAP:.1f}, MOTA {row.MOTA:.1f}, "
                              f"IDF1 {row.IDF1:.1f}, HOTA {row.HOTA:.1f} (AssA {row.AssA:.1f})")


# --------------------------------------------------------------------------------------- single-table studies


def synth_speeds(repeats: int = 10, progress: bool = True) -> list:
    """Rendering speed of every preset (``30 * repeats`` frames each)."""
    rows = []
    for name in PRESETS:
        r = measure_synth(name, frames=30 * repeats)
        rows.append(r)
        if progress:
            print(f"{name:10s} {r.people:3d} people  {r.frames_per_s:7.1f} frames/s  {r.ms_per_frame:6.2f} ms/frame")
    return rows


def tracker_quality(repeats: int = 10, progress: bool = True) -> list[TrackerQuality]:
    """Tracker variants from corrupted ground truth on the ``crossing`` and ``pan`` presets, ``repeats // 3`` seeds."""
    rows = []
    for name in ("crossing", "pan"):
        for seed in range(max(1, repeats // 3)):
            for r in measure_tracker_quality(name, seed, frames=200):
                rows.append(r)
                if progress:
                    print(f"{name:9s} seed {seed} {r.tracker:20s} MOTA {r.mota:6.2f}  IDF1 {r.idf1:6.2f}  "
                          f"HOTA {r.hota:6.2f}  AssA {r.assa:6.2f}  switches {r.switches:5.1f}")
    return rows
