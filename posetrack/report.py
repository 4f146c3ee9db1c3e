"""``posetrack bench``: one report of speed and accuracy side by side, for choosing a backend and precision.

Sections, each from real runs (warm-up, then repeated timed calls):
- ceiling: the CPU's achieved GFLOP/s on one large convolution (PyTorch, all threads);
- engines: latency (median, p90, p99) and throughput per model × backend × precision × batch, with achieved
  GFLOP/s and the fraction of the ceiling;
- speed-ups: FP16 / INT8 vs FP32 of the same backend, timed in alternating rounds (robust to machine drift);
- accuracy per precision: held-out OKS AP of the demo pose model (ground-truth boxes), box AP50 of the detector,
  heatmap-argmax agreement with FP32 (demo, and the random-weight official W32);
- pipeline: end-to-end FPS on a synthetic clip, pipelined vs sequential, busy time per stage, overlap efficiency
  (throughput ÷ slowest stage's rate), and the PoseTrack mAP / MOTA of the run, per precision;
- tracker: association time per frame vs number of people.
Written as ``<date>-<host>.md`` (tables), ``.json`` (every number, environment, versions, commit) and PNG plots.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import torch

from posetrack.backends import Backend
from posetrack.bench import environment, measure, measure_speedup, measure_tracker

MODELS = ("demo", "detector", "w32", "w48")


@dataclass(frozen=True)
class BenchOptions:
    """What to measure. ``quick()`` is the < 5 minute subset."""

    models: tuple[str, ...] = ("demo", "detector", "w32")
    backends: tuple[str, ...] = ("torch", "ort", "trt")
    precisions: tuple[str, ...] = ("fp32", "fp16", "int8")
    batches: tuple[int, ...] = (1, 4, 8, 16)
    repeats: int = 10
    min_seconds: float = 1.0
    # INT8/FP16 vs FP32: alternating rounds (a median of 5 ratios within 2 s put the demo's batch-1 INT8 speed-up at
    # 1.36x in one run, while 15 rounds of 40 calls gave 1.64x: this VM's speed drifts over seconds)
    speedup_rounds: int = 11
    clip_frames: int = 150
    heldout_frames: int = 60
    tracker_people: tuple[int, ...] = (1, 2, 5, 10, 20, 50)

    @classmethod
    def quick(cls) -> BenchOptions:
        return cls(models=("demo", "detector"), batches=(1, 8), repeats=5, min_seconds=0.5, speedup_rounds=5,
                   clip_frames=60, heldout_frames=24, tracker_people=(1, 5, 20, 50))


@dataclass(frozen=True)
class Ceiling:
    """Achieved GFLOP/s of one large float32 3x3 convolution, the best of PyTorch (on the GPU if there is one) and
    ONNX Runtime on the CPU (all threads)."""

    shape: str
    gflop: float
    torch_gflops_per_s: float
    ort_gflops_per_s: float

    @property
    def gflops_per_s(self) -> float:
        return max(self.torch_gflops_per_s, self.ort_gflops_per_s)


@dataclass(frozen=True)
class EngineRow:
    model: str
    backend: str
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
    precision: str
    mode: str
    frames: int
    fps: float
    busy_s: dict[str, float]
    stage_fps: dict[str, float]
    overlap_efficiency: float
    mAP: float
    MOTA: float


@dataclass
class Report:
    options: BenchOptions
    environment: dict
    ceiling: Ceiling
    engines: list[EngineRow] = field(default_factory=list)
    accuracy: list[AccuracyRow] = field(default_factory=list)
    speedups: list[SpeedupRow] = field(default_factory=list)
    pipeline: list[PipelineRow] = field(default_factory=list)
    tracker: list = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ------------------------------------------------------------------------------------------- primitives


def conv_ceiling(repeats: int = 5) -> Ceiling:
    """Time a (8, 256, 64, 48) → 256-channel 3x3 convolution, about as regular and large as CNN work gets, in
    PyTorch and in ONNX Runtime."""
    from onnx import TensorProto, helper, numpy_helper

    from posetrack.backends import OrtBackend

    n, c, h, w = 8, 256, 64, 48
    weight = np.random.default_rng(0).standard_normal((c, c, 3, 3), dtype=np.float32) * 0.02
    conv = torch.nn.Conv2d(c, c, 3, padding=1, bias=False).eval()
    conv.weight.data = torch.from_numpy(weight)
    graph = helper.make_graph([helper.make_node("Conv", ["input", "w"], ["output"], pads=[1, 1, 1, 1])], "conv",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, c, h, w])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(weight, "w")])
    ort_conv = OrtBackend(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString(),
                          ["CPUExecutionProvider"])
    gflop = 2 * n * c * c * 9 * h * w / 1e9

    device = "cuda" if torch.cuda.is_available() else "cpu"  # on a GPU machine the ceiling is the GPU's
    conv.to(device)

    class TorchConv:
        name, input_names, output_names = "torch", ("input",), ("output",)
        x = None

        def run(self, inputs):
            if self.x is None:  # the input stays on the device: time the convolution, not the copy
                self.x = torch.from_numpy(inputs["input"]).to(device)
            with torch.inference_mode():
                conv(self.x)
            if device == "cuda":
                torch.cuda.synchronize()
            return {}

    rates = [gflop / (measure(b, (c, h, w), n, warmup=1, repeats=repeats, min_seconds=0).median_ms / 1e3)
             for b in (TorchConv(), ort_conv)]
    return Ceiling(f"{n}x{c}x{h}x{w}, 3x3 -> {c}", gflop, *rates)


def count_gflop(module: torch.nn.Module, input_shape: tuple[int, ...]) -> float:
    """Multiply-add FLOPs (2 per MAC) of the convolutions and linear layers for one (1, *input_shape) input."""
    total = 0

    def hook(layer, inputs, output):
        nonlocal total
        if isinstance(layer, torch.nn.Conv2d):
            k = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        else:
            k = layer.in_features
        total += 2 * output.numel() * k

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.inference_mode():
            module(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
    return total / 1e9


def engine_row(model: str, precision: str, backend: Backend, input_shape: tuple[int, ...], batch: int,
               options: BenchOptions, gflop: float, ceiling: Ceiling) -> EngineRow:
    r = measure(backend, input_shape, batch, repeats=options.repeats, min_seconds=options.min_seconds)
    achieved = gflop * r.crops_per_s
    return EngineRow(model, backend.name, precision, batch, r.median_ms, r.p90_ms, r.p99_ms, r.per_crop_ms,
                     r.crops_per_s, gflop, achieved, achieved / ceiling.gflops_per_s, r.timer, r.repeats)


def argmax_agreement(reference: np.ndarray, other: np.ndarray, cells: int = 0) -> float:
    """Fraction of (crop, joint) heatmaps whose peak in ``other`` lies within ``cells`` cells (Chebyshev distance;
    0 = the same cell) of the peak in ``reference``; both (N, K, h, w)."""
    width = reference.shape[-1]
    a = reference.reshape(*reference.shape[:2], -1).argmax(-1)
    b = other.reshape(*other.shape[:2], -1).argmax(-1)
    return float((np.maximum(np.abs(a // width - b // width), np.abs(a % width - b % width)) <= cells).mean())


def peak_margin(heatmaps: np.ndarray) -> float:
    """Median gap between the highest and second-highest cell of each (N, K, h, w) heatmap: an argmax can only
    survive quantization noise larger than this by luck."""
    top2 = np.sort(heatmaps.reshape(*heatmaps.shape[:2], -1), axis=-1)[..., -2:]
    return float(np.median(top2[..., 1] - top2[..., 0]))


# ------------------------------------------------------------------------------------------------- runs


def run_benchmarks(options: BenchOptions, progress: bool = True) -> Report:
    """Measure everything ``options`` asks for; backends or precisions that cannot run here are listed in
    ``skipped`` with the reason."""
    start = time.perf_counter()
    report = Report(options, environment(), conv_ceiling())
    _say(progress, f"ceiling: {report.ceiling.gflops_per_s:.1f} GFLOP/s")
    for name in options.models:
        _bench_model(name, options, report, progress)
    if "demo" in options.models and "detector" in options.models:
        _bench_pipeline(options, report, progress)
    for people in options.tracker_people:
        report.tracker.append(measure_tracker(people, frames=max(20, 5 * options.repeats)))
    report.seconds = time.perf_counter() - start
    return report


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


@dataclass(frozen=True)
class _Subject:
    """A model under test: its export, torch module, per-item input shape, and pose spec (None: detector)."""

    exported: object
    module: torch.nn.Module
    shape: tuple[int, ...]
    spec: object | None


def _subject(name: str) -> _Subject:
    from posetrack.runtime import (DEMO_DETECTOR_INPUT, DEMO_POSE, PoseModel, demo_detector_module, export_detector,
                                   export_pose, load_pose)
    from posetrack.skeleton import COCO17

    if name == "detector":
        module = demo_detector_module()
        w, h = DEMO_DETECTOR_INPUT
        return _Subject(export_detector(module), module, (3, h, w), None)
    spec = DEMO_POSE if name == "demo" else PoseModel(name, None, (192, 256), COCO17)
    module = load_pose(spec)
    w, h = spec.input_size
    return _Subject(export_pose(spec, module), module, (3, h, w), spec)


def _bench_model(name: str, options: BenchOptions, report: Report, progress: bool) -> None:
    from posetrack.backends.select import tensorrt_usable
    from posetrack.errors import PosetrackError
    from posetrack.runtime import make_backend

    subject = _subject(name)
    gflop = count_gflop(subject.module, subject.shape)
    label = subject.exported.name
    ref_backend = None
    for kind in options.backends:
        if kind == "trt" and not tensorrt_usable():
            report.skipped.append(f"{label} trt: TensorRT cannot run here (no tensorrt module or no CUDA GPU)")
            continue
        fp32 = None
        for precision in options.precisions:
            if kind == "torch" and precision != "fp32":
                continue  # eager PyTorch runs fp32 only; not a measurement gap worth a line
            try:
                backend = make_backend(kind, subject.module, subject.exported, precision)
            except PosetrackError as exc:
                report.skipped.append(f"{label} {kind} {precision}: {exc}")
                continue
            for batch in options.batches:
                row = engine_row(label, precision, backend, subject.shape, batch, options, gflop, report.ceiling)
                report.engines.append(row)
                _say(progress, f"{label:28s} {row.backend:24s} {precision} batch {batch:2d}: {row.ms_per_item:8.2f} "
                               f"ms/item {row.items_per_s:8.1f}/s  {100 * row.ceiling_fraction:5.1f}% of ceiling")
            if precision == "fp32":
                fp32 = backend
            elif fp32 is not None:
                report.speedups += _speedups(label, precision, fp32, backend, subject.shape, options, progress)
            if kind != "torch":
                if precision == "fp32" and kind == "ort":
                    ref_backend = backend
                rows = _accuracy(name, subject, backend, ref_backend, precision, options)
                if kind == "ort" and precision == "int8":
                    rows += _calibration_methods(name, subject, ref_backend, options)
                report.accuracy += rows
                for a in rows:
                    _say(progress, f"{label:28s} {a.backend:24s} {a.precision} {a.metric}: {a.value:.4f}")


def _speedups(label: str, precision: str, fp32: Backend, backend: Backend, shape: tuple[int, ...],
              options: BenchOptions, progress: bool) -> list[SpeedupRow]:
    rows = []
    for batch in options.batches:
        r = measure_speedup(fp32, backend, shape, batch, rounds=options.speedup_rounds,
                            min_seconds=4 * options.min_seconds)
        rows.append(SpeedupRow(label, backend.name, precision, batch, r.reference_ms, r.other_ms, r.speedup, r.rounds))
        _say(progress, f"{label:28s} {backend.name:24s} {precision} batch {batch:2d}: {r.speedup:.2f}x FP32 "
                       f"({r.reference_ms:.2f} → {r.other_ms:.2f} ms, alternating)")
    return rows


def _calibration_methods(name: str, subject: _Subject, reference: Backend | None,
                         options: BenchOptions) -> list[AccuracyRow]:
    """Accuracy of every range method in both Q/DQ flavours (run by ONNX Runtime on the CPU): the evidence for
    the default method."""
    import onnx

    from posetrack.backends import OrtBackend
    from posetrack.quantize import FLAVOURS, quantize_qdq
    from posetrack.runtime import calibration

    calib = calibration(subject.exported, progress=False)
    fp32 = onnx.load(str(subject.exported.onnx))
    rows = []
    for method in calib.ranges:
        for flavour in FLAVOURS.values():
            backend = OrtBackend(quantize_qdq(fp32, calib.method_ranges(method), flavour).SerializeToString(),
                                 ["CPUExecutionProvider"])
            backend.name = f"ort:CPU ({flavour.name} Q/DQ)"
            rows += [replace(r, precision=f"int8 {method}")
                     for r in _accuracy(name, subject, backend, reference, "int8", options)]
    return rows


_HELDOUT: dict[int, tuple] = {}


def _heldout(frames: int):
    from posetrack.train.heldout import heldout_set

    if frames not in _HELDOUT:
        _HELDOUT[frames] = heldout_set(frames=frames)
    return _HELDOUT[frames]


_AGREEMENT: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _heatmaps(backend: Backend, crops: np.ndarray, batch: int = 8) -> np.ndarray:
    return np.concatenate([backend.run({"input": crops[i:i + batch]})["heatmaps"] for i in range(0, len(crops), batch)])


def _accuracy(name: str, subject: _Subject, backend: Backend, reference: Backend | None, precision: str,
              options: BenchOptions) -> list[AccuracyRow]:
    """Accuracy rows of one backend at one precision (argmax agreement is against ORT FP32)."""
    from posetrack.calibrate import CALIB_SEED, pose_inputs
    from posetrack.detect import YoloDetector
    from posetrack.pose import TopDownEstimator
    from posetrack.runtime import DEMO_DETECTOR_INPUT, pose_config
    from posetrack.train.heldout import detector_ap, pose_ap

    rows = []
    row = lambda metric, value: AccuracyRow(subject.exported.name, backend.name, precision, metric, float(value))  # noqa: E731
    if name == "detector":
        stats = detector_ap(YoloDetector(backend, DEMO_DETECTOR_INPUT), *_heldout(options.heldout_frames))
        return [row("box AP50", stats["AP50"]), row("box AP", stats["AP"])]
    if name == "demo":
        stats = pose_ap(TopDownEstimator(backend, config=pose_config(subject.spec)), *_heldout(options.heldout_frames))
        rows += [row("OKS AP", stats["AP"]), row("OKS AP50", stats["AP50"])]
    if reference is not None and precision != "fp32":
        if subject.exported.name not in _AGREEMENT:  # crops and FP32 heatmaps once per model, not per variant
            crops = pose_inputs(pose_config(subject.spec), 32, seed=CALIB_SEED + 1)  # not the calibration crops
            _AGREEMENT[subject.exported.name] = crops, _heatmaps(reference, crops)
        crops, ref = _AGREEMENT[subject.exported.name]
        out = _heatmaps(backend, crops)
        rows += [row("argmax agreement vs fp32", argmax_agreement(ref, out)),
                 row("argmax within one cell of fp32", argmax_agreement(ref, out, cells=1)),
                 row("fp32 peak margin (median top-1 minus top-2)", peak_margin(ref)),
                 row("mean abs heatmap error vs fp32", float(np.abs(out - ref).mean()))]
    return rows


def _bench_pipeline(options: BenchOptions, report: Report, progress: bool) -> None:
    """The shipped models on a synthetic crossing clip, pipelined and sequential, per precision (ORT)."""
    from posetrack.eval.poseval import evaluate_folders
    from posetrack.pipeline import Pipeline
    from posetrack.run import run_video
    from posetrack.runtime import DEMO_POSE, build_detector, build_estimator, stage_threads
    from posetrack.synth import PRESETS
    from posetrack.synth.files import sequence_name, write_clip
    from posetrack.track import PoseTracker

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip, _ = write_clip(replace(PRESETS["crossing"], frames=options.clip_frames), 3, tmp / "gt",
                             sequence_name("crossing", 3))
        for precision in options.precisions:
            for sequential in (False, True):
                detector_threads, pose_threads = stage_threads(sequential)
                pipeline = Pipeline(build_detector(None, "ort", detector_threads, precision=precision),
                                    build_estimator(DEMO_POSE, "ort", pose_threads, precision=precision),
                                    PoseTracker(), sequential=sequential)
                out = tmp / f"{precision}-{sequential}"
                summary = run_video(clip, out, pipeline, video=False, progress=False)
                metrics = evaluate_folders(tmp / "gt", out)
                fps = summary.times.fps()
                stages = {s: v for s, v in fps.items() if s != "total"}
                row = PipelineRow(precision, "sequential" if sequential else "pipelined", summary.frames, fps["total"],
                                  dict(summary.times.busy), stages, fps["total"] / min(stages.values()),
                                  metrics.total("ap"), metrics.total("mota"))
                report.pipeline.append(row)
                _say(progress, f"pipeline {precision} {row.mode:10s}: {row.fps:6.1f} FPS, overlap efficiency "
                               f"{row.overlap_efficiency:.2f}, mAP {row.mAP:.1f}, MOTA {row.MOTA:.1f}")


# ----------------------------------------------------------------------------------------------- output


def host_kind(env: dict) -> str:
    """``cpu-2core`` or ``gpu-nvidia-h100-80gb-hbm3``: the file name part saying where numbers come from."""
    if env.get("gpu"):
        return "gpu-" + re.sub(r"[^a-z0-9]+", "-", env["gpu"].lower()).strip("-")
    return f"cpu-{env['cores']}core"


def write_report(report: Report, out_dir: Path, suffix: str = "") -> list[Path]:
    """``<date>-<host><suffix>.md`` / ``.json`` and the PNG plots; returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{date.today().isoformat()}-{host_kind(report.environment)}{suffix}"
    data = asdict(report)
    data["ceiling"]["gflops_per_s"] = report.ceiling.gflops_per_s
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(data, indent=1, default=float) + "\n")
    plots = _plots(report, out_dir, stem)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(_markdown(report, [p.name for p in plots]))
    return [md_path, json_path, *plots]


def _table(rows: list, columns: list[str] | None = None) -> list[str]:
    dicts = [asdict(r) for r in rows]
    if not dicts:
        return ["(none)"]
    columns = columns or [k for k, v in dicts[0].items() if not isinstance(v, dict)]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    return (["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(fmt(d[c]) for c in columns) + " |" for d in dicts])


def _markdown(report: Report, plots: list[str]) -> str:
    env, c = report.environment, report.ceiling
    lines = [f"# posetrack benchmark, {date.today().isoformat()}", "",
             "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), "",
             f"Measured in {report.seconds / 60:.1f} min. Options: {asdict(report.options)}.", "",
             "## Ceiling", "",
             f"One {c.shape} float32 convolution ({c.gflop:.1f} GFLOP) runs at {c.torch_gflops_per_s:.1f} GFLOP/s in "
             f"PyTorch and {c.ort_gflops_per_s:.1f} GFLOP/s in ONNX Runtime: the ceiling is **{c.gflops_per_s:.1f} "
             "GFLOP/s**. Engine rows give each model's achieved GFLOP/s (FLOPs per item × items/s) as a fraction of "
             "it; INT8 rows count the same FLOPs, so integer kernels can pass 1.0.", "",
             "## Engines: latency and throughput", "", *_table(report.engines), "",
             "## Speed-up over FP32", "",
             "The same backend's FP32 and FP16/INT8 models timed in alternating rounds (`rounds`); speedup is the "
             "median of the per-round ratios, so a slow phase of the machine hits both sides alike.", "",
             *_table(report.speedups), "",
             "## Accuracy per precision", "",
             "Held-out synthetic clips (seeds 91000+), ground-truth boxes for the pose model; argmax agreement: "
             "share of joints whose heatmap peak is in the same cell as ONNX Runtime FP32 on crops not used for "
             "calibration.", "", *_table(report.accuracy), "",
             "## Pipeline: pipelined vs sequential (shipped models, ONNX Runtime, crossing clip)", "",
             "Overlap efficiency = end-to-end FPS ÷ FPS of the slowest stage alone (1.0 = perfect overlap).", "",
             *_table(report.pipeline), "",
             "## Tracker: association time per frame", "", *_table(report.tracker), ""]
    if report.skipped:
        lines += ["## Not measured here", "", *[f"- {s}" for s in report.skipped], ""]
    lines += ["## Plots", "", *[f"![{p}]({p})" for p in plots], ""]
    return "\n".join(lines)


def _plots(report: Report, out_dir: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    models = sorted({r.model for r in report.engines})
    if models:
        fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
        for ax, model in zip(axes[0], models):
            series = sorted({(r.backend, r.precision) for r in report.engines if r.model == model})
            for backend, precision in series:
                rows = [r for r in report.engines if (r.model, r.backend, r.precision) == (model, backend, precision)]
                ax.plot([r.batch for r in rows], [r.ms_per_item for r in rows], "o-", label=f"{backend} {precision}")
            ax.set(title=model, xlabel="batch", ylabel="ms per item", xscale="log", yscale="log")
            ax.legend(fontsize=7)
        paths.append(_save(fig, out_dir / f"{stem}-latency.png"))
    panels = _speed_accuracy_panels(report)
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4), squeeze=False)
        for ax, (title, (xlabel, ylabel), points) in zip(axes[0], panels):
            for label, speed, acc in points:
                ax.scatter(speed, acc)
                ax.annotate(label, (speed, acc), fontsize=8, xytext=(4, 4), textcoords="offset points")
            ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
            ax.margins(x=0.25)
            ys = [p[2] for p in points]
            unit = 1.0 if ylabel == "MOTA" else 0.01  # at least ±1 point: small differences are not inflated
            ax.set_ylim(min(ys) - unit, max(ys) + unit)
        paths.append(_save(fig, out_dir / f"{stem}-speed-accuracy.png"))
    if report.tracker:
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot([t.people for t in report.tracker], [t.median_ms for t in report.tracker], "o-", label="median")
        ax.plot([t.people for t in report.tracker], [t.p90_ms for t in report.tracker], "s--", label="p90")
        ax.set(xlabel="people in the frame", ylabel="ms per frame", title="tracker cost")
        ax.legend()
        paths.append(_save(fig, out_dir / f"{stem}-tracker.png"))
    return paths


def _speed_accuracy_panels(report: Report) -> list[tuple[str, tuple[str, str], list[tuple[str, float, float]]]]:
    """One panel per model (its main metric vs its best items/s, a point per backend × precision) and one for the
    pipeline (MOTA vs end-to-end FPS, a point per precision × mode)."""
    panels = []
    for model in sorted({a.model for a in report.accuracy}):
        points = []
        for a in report.accuracy:
            if a.model != model or a.metric not in ("OKS AP", "box AP50"):
                continue
            speeds = [r.items_per_s for r in report.engines
                      if (r.model, r.backend, r.precision) == (a.model, a.backend, a.precision)]
            if speeds:
                points.append((f"{a.backend.split(':')[0]} {a.precision}", max(speeds), a.value))
                metric = a.metric
        if points:
            panels.append((model, ("items/s (best batch)", metric), points))
    if report.pipeline:
        panels.append(("pipeline, crossing clip", ("end-to-end FPS", "MOTA"),
                       [(f"{p.precision} {p.mode}", p.fps, p.MOTA) for p in report.pipeline]))
    return panels


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
