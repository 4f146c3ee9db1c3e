"""Measuring: latency and throughput of backends, speed-ups from alternating rounds, the convolution ceiling,
FLOP counts, heatmap agreement, the tracker's cost and quality, the synthetic world's speed, and the environment.

Numbers come from real runs only: warm-up calls first (until a call's time settles, ``warm_up``), then at least
``repeats`` timed calls (more for fast ones, up to a time budget) with ``time.perf_counter``; every result is a
plain dataclass the reports print.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posetrack.backends import Backend
from posetrack.backends.base import DeviceBackend
from posetrack.device import is_cuda


@dataclass(frozen=True)
class Latency:
    """Timing of one backend at one batch size.

    Attributes:
        backend: backend name. batch: crops per call. repeats: timed calls.
        median_ms / p90_ms / p99_ms: per-call time, milliseconds.
        per_crop_ms: median_ms / batch. crops_per_s: batch / median seconds.
        timer: how calls were timed (``timed_call``): the host clock, or CUDA events with or without copies.
    """

    backend: str
    batch: int
    repeats: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    per_crop_ms: float
    crops_per_s: float
    timer: str = "wall"


def measure(backend: Backend, input_shape: tuple[int, ...], batch: int, *, warmup: int = 2,
            repeats: int = 10, min_seconds: float = 1.0, seed: int = 0, device: str = "cpu") -> Latency:
    """Time ``backend`` on a random (batch, *input_shape) float32 input: at least ``repeats`` calls and, for
    fast calls, as many more as fit in ``min_seconds`` (a 2 ms call timed 10 times is mostly scheduler noise).
    How a call is timed depends on ``device`` and the backend (``timed_call``)."""
    x = np.random.default_rng(seed).standard_normal((batch, *input_shape), dtype=np.float32)
    call, timer = timed_call(backend, x, device)
    warm_up(call, warmup)
    samples: list[float] = []
    begin = time.perf_counter()
    while len(samples) < repeats or (time.perf_counter() - begin < min_seconds and len(samples) < 10_000):
        samples.append(call())
    median = float(np.median(samples))
    return Latency(backend.name, batch, len(samples), median * 1e3, float(np.percentile(samples, 90)) * 1e3,
                   float(np.percentile(samples, 99)) * 1e3, median * 1e3 / batch, batch / median, timer)


def warm_up(call: Callable[[], float], at_least: int, budget_s: float = 10.0) -> int:
    """Untimed calls until a call's time settles (two in a row within a quarter of each other), at least
    ``at_least`` of them: a new batch size makes oneDNN build its kernels, a GPU autotune, for more calls than a
    fixed count covers (one such call once read as a 2.6 s row). Gives up waiting after ``budget_s``."""
    start, last, calls = time.perf_counter(), None, 0
    while True:
        took = call()
        calls += 1
        settled = last is not None and abs(took - last) <= 0.25 * max(took, last)
        if calls >= at_least and (settled or time.perf_counter() - start > budget_s):
            return calls
        last = took


WALL = "wall"
DEVICE_RESIDENT = "cuda events, device-resident (copies excluded)"
HOST_COPIES = "cuda events, host copies included"


def timed_call(backend: Backend, x: np.ndarray, device: str = "cpu") -> tuple[Callable[[], float], str]:
    """A function running ``backend`` once on ``x`` and returning the seconds it took, and how it times.

    On the CPU: the host clock around ``run`` (host arrays in and out). On a CUDA device, every backend the same
    way, by CUDA events on the device's current stream: around ``run_torch`` with the input already on the device
    and the output left there (torch, TensorRT: copies excluded), or around ``run`` for a backend without a device
    path (ONNX Runtime: its host copies included, and the row says so).
    """
    name = backend.input_names[0]
    if not is_cuda(device):
        def wall() -> float:
            start = time.perf_counter()
            backend.run({name: x})
            return time.perf_counter() - start
        return wall, WALL
    resident = isinstance(backend, DeviceBackend)
    if isinstance(backend, DeviceBackend):
        on_device = torch.from_numpy(x).to(device)
        device_backend = backend
        work: Callable[[], object] = lambda: device_backend.run_torch({name: on_device})  # noqa: E731
    else:
        work = lambda: backend.run({name: x})  # noqa: E731
    stream = torch.cuda.current_stream(torch.device(device))
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def events() -> float:
        start.record(stream)
        work()
        end.record(stream)
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    return events, DEVICE_RESIDENT if resident else HOST_COPIES


@dataclass(frozen=True)
class Speedup:
    """How much faster ``other`` runs than ``reference`` on the same input, from alternating timing rounds.

    Attributes:
        reference_ms / other_ms: median per-call milliseconds over all rounds.
        speedup: median over rounds of (reference median / other median) within the round.
        rounds: alternating rounds timed.
    """

    reference_ms: float
    other_ms: float
    speedup: float
    rounds: int


def measure_speedup(reference: Backend, other: Backend, input_shape: tuple[int, ...], batch: int, *,
                    rounds: int = 5, min_seconds: float = 2.0, device: str = "cpu") -> Speedup:
    """Time the two backends in alternating rounds (at least 3 calls or ``min_seconds / (2 * rounds)`` each) so that
    the machine's speed drifting between two separate measurements (seconds-long slow phases on a shared
    virtual machine) cannot masquerade as a speed-up or hide one."""
    block = min_seconds / (2 * rounds)
    pairs = [(measure(reference, input_shape, batch, warmup=1, repeats=3, min_seconds=block, device=device).median_ms,
              measure(other, input_shape, batch, warmup=1, repeats=3, min_seconds=block, device=device).median_ms)
             for _ in range(rounds)]
    ref, oth = np.array(pairs).T
    return Speedup(float(np.median(ref)), float(np.median(oth)), float(np.median(ref / oth)), rounds)


@dataclass(frozen=True)
class SynthSpeed:
    """Rendering speed of the synthetic world (in memory, no encoding), pinned to one core."""

    preset: str
    size: str
    people: int
    frames: int
    frames_per_s: float
    ms_per_frame: float


def measure_synth(preset_name: str, frames: int = 300, seed: int = 0) -> SynthSpeed:
    """Render ``frames`` frames of a preset on one CPU core (OpenCV single-threaded) and time them."""
    import cv2

    from posetrack.synth import SyntheticVideo, preset

    config = preset(preset_name, frames=frames + 1)
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    threads = cv2.getNumThreads()
    try:
        if affinity:
            os.sched_setaffinity(0, {min(affinity)})
        cv2.setNumThreads(1)
        frames_iter = iter(SyntheticVideo(config, seed))
        next(frames_iter)  # the first frame also builds the background
        start = time.perf_counter()
        for _ in frames_iter:
            pass
        elapsed = time.perf_counter() - start
    finally:
        cv2.setNumThreads(threads)
        if affinity:
            os.sched_setaffinity(0, affinity)
    w, h = config.size
    return SynthSpeed(preset_name, f"{w}x{h}", config.people, frames, frames / elapsed, elapsed / frames * 1e3)


@dataclass(frozen=True)
class TrackerCost:
    """Median ``PoseTracker.update`` time at a number of people (association only: no image, so no flow)."""

    people: int
    frames: int
    median_ms: float
    p90_ms: float


def measure_tracker(people: int, frames: int = 200, seed: int = 0) -> TrackerCost:
    """Time the tracker on ``people`` persons walking slowly with keypoint jitter, without optical flow."""
    from posetrack.skeleton import POSETRACK17
    from posetrack.track import PoseTracker
    from posetrack.types import Poses

    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 1200, (people, 1, 2)) + rng.normal(0, 20, (people, 17, 2))
    velocity = rng.normal(0, 1.5, (people, 1, 2))
    tracker = PoseTracker()
    samples = []
    for t in range(frames + 10):
        kp = (base + t * velocity + rng.normal(0, 1, base.shape)).astype(np.float32)
        poses = Poses(kp, np.full((people, 17), 0.9, np.float32), np.concatenate([kp.min(1), kp.max(1)], 1),
                      np.ones(people, np.float32), POSETRACK17)
        start = time.perf_counter()
        tracker.update(poses)
        samples.append(time.perf_counter() - start)
    tail = np.array(samples[10:]) * 1e3  # after the tracks exist
    return TrackerCost(people, frames, float(np.median(tail)), float(np.percentile(tail, 90)))


@dataclass(frozen=True)
class TrackerQuality:
    """One tracker variant on one synthetic clip, tracked from corrupted ground truth (``bench.stress``)."""

    preset: str
    seed: int
    tracker: str
    mota: float
    idf1: float
    hota: float
    assa: float
    switches: float
    ms_per_frame: float


def tracker_variants() -> dict[str, Any]:
    """The tracker configurations the quality study compares, by name."""
    from posetrack.track import TrackerConfig

    return {"shipped (flow, oks+motion, colours)": TrackerConfig(), "flow+oks (before)": TrackerConfig.oks_only(),
            "iou+greedy": TrackerConfig(similarity="iou", flow=None, assignment="greedy")}


def measure_tracker_quality(preset_name: str, seed: int, frames: int = 200) -> list[TrackerQuality]:
    """MOTA, IDF1, HOTA, AssA and identity switches of each ``tracker_variants`` entry on one synthetic clip."""
    from posetrack.bench.stress import stress
    from posetrack.synth import preset

    rows = []
    for name, config in tracker_variants().items():
        r = stress(preset(preset_name, frames=frames), seed, config)
        h = r.report.headline()
        rows.append(TrackerQuality(preset_name, seed, name, h["MOTA"], h["IDF1"], h["HOTA"], h["AssA"], r.switches,
                                   r.ms_per_frame))
    return rows


def environment() -> dict[str, object]:
    """The machine and software a measurement ran on."""
    import onnxruntime
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__, "git_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


@dataclass(frozen=True)
class Ceiling:
    """Achieved GFLOP/s of one large float32 3x3 convolution on one device: PyTorch there, and on the CPU also ONNX
    Runtime (all threads); the better of the two is the ceiling rows on that device are compared with."""

    device: str
    shape: str
    gflop: float
    torch_gflops_per_s: float
    ort_gflops_per_s: float | None = None

    @property
    def gflops_per_s(self) -> float:
        return max(self.torch_gflops_per_s, self.ort_gflops_per_s or 0.0)


def conv_ceiling(repeats: int = 5, device: str = "cpu") -> Ceiling:
    """Time a (8, 256, 64, 48) → 256-channel 3x3 convolution, about as regular and large as CNN work gets, in
    PyTorch on ``device`` (input resident there) and, for the CPU, in ONNX Runtime."""
    from onnx import TensorProto, helper, numpy_helper

    from posetrack.backends import OrtBackend, TorchBackend

    n, c, h, w = 8, 256, 64, 48
    weight = np.random.default_rng(0).standard_normal((c, c, 3, 3), dtype=np.float32) * 0.02
    conv = torch.nn.Conv2d(c, c, 3, padding=1, bias=False).eval()
    conv.weight.data = torch.from_numpy(weight)
    gflop = 2 * n * c * c * 9 * h * w / 1e9

    def rate(backend) -> float:
        return gflop / (measure(backend, (c, h, w), n, warmup=1, repeats=repeats, min_seconds=0,
                                device=device).median_ms / 1e3)

    ort_rate = None
    if device == "cpu":
        graph = helper.make_graph([helper.make_node("Conv", ["input", "w"], ["output"], pads=[1, 1, 1, 1])], "conv",
                                  [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, c, h, w])],
                                  [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
                                  [numpy_helper.from_array(weight, "w")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        ort_rate = rate(OrtBackend(model.SerializeToString(), ["CPUExecutionProvider"]))
    torch_conv = TorchBackend(conv, output_names=("output",), device=device)  # timed device-resident on a GPU
    return Ceiling(device, f"{n}x{c}x{h}x{w}, 3x3 -> {c}", gflop, rate(torch_conv), ort_rate)


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
