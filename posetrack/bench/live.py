"""The live benchmark: the shipped models on a paced MJPEG camera (``bench.paced``) on 127.0.0.1, read as
``posetrack run URL`` reads one (newest-frame buffering, one frame between the stages), per source frame rate,
``--detect-every`` K and precision: the latency percentiles from reading a frame to its result, the share of the
camera's frames dropped, and the frames per second tracked."""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from posetrack.assemble import build_pipeline
from posetrack.bench.paced import PacedMjpegServer
from posetrack.io.sources import open_source
from posetrack.options import Options
from posetrack.pipeline import Pipeline
from posetrack.synth import PRESETS, SyntheticVideo
from posetrack.track_video import track_video

LIVE_PRESET, LIVE_SEED = "crossing", 3  # the pipeline section's clip: never tuned on


@dataclass(frozen=True)
class LiveRow:
    """One live run. ``sent``: frames the camera sent while the run read it; ``tracked``: frames with a result;
    ``drop_pct``: sent frames dropped for a newer one; latencies in milliseconds, capture to result."""

    source_fps: float
    detect_every: int
    precision: str
    seconds: float
    sent: int
    tracked: int
    drop_pct: float
    fps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def camera_frames(frames: int) -> list[np.ndarray]:
    """The benchmark camera's images: ``frames`` of the synthetic ``crossing`` clip (seed 3), (H, W, 3) BGR."""
    return [frame.image for frame, _ in SyntheticVideo(replace(PRESETS[LIVE_PRESET], frames=frames), LIVE_SEED)]


def measure_live(images: list[np.ndarray], source_fps: float, detect_every: int, precision: str,
                 seconds: float = 8.0, buffer: str = "latest") -> LiveRow:
    """Track a camera that sends ``images`` round and round at ``source_fps`` for ``seconds``, with the demo
    models (built before the camera starts: start-up is not in the latencies), reading it with ``buffer``."""
    pipeline = live_pipeline(detect_every, precision, buffer)
    stop = threading.Event()
    with PacedMjpegServer(images, source_fps, until=stop) as camera:
        threading.Timer(seconds, stop.set).start()
        reader = open_source(camera.url, pipeline.runtime)
        start = time.monotonic()
        summary = track_video(reader, pipeline, [], progress=False)
        elapsed = time.monotonic() - start
    sent = summary.frames + summary.dropped
    latency = summary.latency_ms()
    return LiveRow(source_fps, detect_every, precision, round(elapsed, 2), sent, summary.frames,
                   100 * summary.dropped / max(sent, 1), summary.frames / elapsed, latency["p50"], latency["p95"],
                   latency["p99"], latency["max"])


@functools.cache
def live_pipeline(detect_every: int, precision: str, buffer: str) -> Pipeline:
    """The demo models' pipeline for these settings, built once and reused for every camera rate (``run``
    starts each video afresh)."""
    return build_pipeline(Options.demo(precision=precision, keyframes__every=detect_every, runtime__buffer=buffer,
                                       output__video=False))


def live_rows(rates: tuple[float, ...] = (25, 30, 60), every: tuple[int, ...] = (1, 5),
              precisions: tuple[str, ...] = ("fp32", "int8"), seconds: float = 8.0,
              progress: bool = True) -> list[LiveRow]:
    """``measure_live`` for every source rate × K × precision."""
    images = camera_frames(int(max(rates) * seconds))
    rows = []
    for precision in precisions:
        for k in every:
            for rate in rates:
                row = measure_live(images, rate, k, precision, seconds)
                rows.append(row)
                if progress:
                    print(f"{rate:4.0f} fps camera, K={k:<2d} {precision}: {row.fps:5.1f} FPS tracked, "
                          f"{row.drop_pct:4.1f} % dropped, latency p50 {row.p50_ms:4.0f} ms  p95 {row.p95_ms:4.0f} "
                          f"ms  p99 {row.p99_ms:4.0f} ms", flush=True)
    return rows
