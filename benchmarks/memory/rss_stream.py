"""Memory over an hour-long stream: RSS of `posetrack run`'s job (``track_video`` with the default sinks) over a
synthetic stream rendered on the fly (never stored), sampled every 10 s.

    python benchmarks/memory/rss_stream.py --frames 90000 --out benchmarks/memory          # JSON only
    python benchmarks/memory/rss_stream.py --frames 90000 --video --out benchmarks/memory  # + annotated MP4

Writes ``rss-<label>.csv`` (seconds, frames, RSS MiB) and ``rss-<label>.json`` (settings, environment and the
flatness figures) into ``--out``; ``--plot`` draws every ``rss-*.csv`` there into ``rss.png``. The outputs of the
run itself go to a temporary folder (``--keep`` to keep them).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from posetrack.assemble import build_pipeline
from posetrack.io.sources import Source
from posetrack.options import Options, OutputOptions
from posetrack.synth import PRESETS
from posetrack.synth.scene import SyntheticVideo
from posetrack.track_video import default_sinks, track_video
from posetrack.types import Detections, Frame


def rss_mib() -> float:
    """Resident set size of this process, MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class SyntheticStream(Source):
    """A source over a synthetic clip rendered frame by frame as it is read. With ``keep_boxes`` each frame's
    ground-truth boxes wait in ``boxes`` for ``TruthBoxes`` (which pops them)."""

    def __init__(self, frames: int, size: tuple[int, int], people: int, seed: int, keep_boxes: bool = False):
        super().__init__("synthetic stream")
        self.config = replace(PRESETS["easy"], frames=frames, size=size, people=people)
        self.fps, self.frame_count = self.config.fps, frames
        self.keep_boxes, self.boxes = keep_boxes, {}
        self._video = iter(SyntheticVideo(self.config, seed))

    def _peek(self) -> Frame:
        return self._next()

    def _next(self) -> Frame:
        frame, truth = next(self._video)
        if self.keep_boxes:
            self.boxes[frame.index] = truth.boxes
        return frame

    def _frames(self) -> Iterator[Frame]:
        yield self._first_frame()
        for _ in range(self.config.frames - 1):
            yield self._next()


class TruthBoxes:
    """Detections = the stream's ground-truth boxes of the same frame, score 1."""

    def __init__(self, stream: SyntheticStream):
        self.stream = stream

    def detect(self, frame: Frame) -> Detections:
        boxes = self.stream.boxes.pop(frame.index).astype(np.float32)
        return Detections(boxes, np.ones(len(boxes), np.float32))


def measure(args: argparse.Namespace) -> dict:
    stream = SyntheticStream(args.frames, args.size, args.people, args.seed, keep_boxes=args.truth_boxes).open()
    pipeline = build_pipeline(Options.demo())
    if args.truth_boxes:
        pipeline.detector = TruthBoxes(stream)
    samples: list[tuple[float, int, float]] = []
    done = threading.Event()
    start = time.perf_counter()
    label = args.label or ("video" if args.video else "json")
    log = (args.out / f"rss-{label}.csv").open("w", newline="")  # written as sampled: a cut-off run keeps its data
    writer = csv.writer(log)
    writer.writerow(["seconds", "frames", "rss_mib"])

    def take() -> None:
        samples.append((time.perf_counter() - start, pipeline.times.frames, rss_mib()))
        writer.writerow([round(samples[-1][0], 1), samples[-1][1], round(samples[-1][2], 1)])
        log.flush()

    def sample() -> None:
        while not done.wait(args.every):
            take()

    out = Path(tempfile.mkdtemp(prefix="posetrack-rss-")) if not args.keep else args.out / "run"
    sinks = default_sinks(out, "000000_mpii_stream", stream, OutputOptions(video=args.video))
    sampler = threading.Thread(target=sample, daemon=True)
    take()
    sampler.start()
    summary = track_video(stream, pipeline, sinks, progress=not args.quiet)
    done.set()
    sampler.join()
    take()
    log.close()
    return {"samples": samples, "frames": summary.frames, "seconds": samples[-1][0],
            "outputs": [str(p) for p in summary.outputs], "bytes": sum(p.stat().st_size for p in summary.outputs)}


def flatness(samples: list[tuple[float, int, float]], fps: float) -> dict:
    """RSS after the first minute of stream time (``fps`` x 60 frames): min, max, and their spread around the
    mean, in percent; the growth per 10 000 frames of a least-squares line through those samples."""
    later = np.array([(f, r) for _, f, r in samples if f >= fps * 60])
    if len(later) < 2:
        return {}
    slope = float(np.polyfit(later[:, 0], later[:, 1], 1)[0])
    mean = float(later[:, 1].mean())
    return {"after_frame": int(fps * 60), "samples": len(later), "rss_min_mib": float(later[:, 1].min()),
            "rss_max_mib": float(later[:, 1].max()), "rss_mean_mib": mean,
            "spread_pct": [100 * (float(later[:, 1].min()) / mean - 1), 100 * (float(later[:, 1].max()) / mean - 1)],
            "growth_mib_per_10k_frames": slope * 10_000}


def plot(folder: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    top = 0.0
    for path in sorted(folder.glob("rss-*.csv")):
        with path.open() as f:
            rows = list(csv.DictReader(f))
        rss = [float(r["rss_mib"]) for r in rows]
        top = max(top, *rss)
        ax.plot([int(r["frames"]) for r in rows], rss, label=path.stem[4:])
    ax.axvline(1500, color="grey", lw=0.8, ls="--", label="1 minute of video")
    ax.set_xlabel("frames processed (25 fps: 90 000 = 1 hour)")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(0, top * 1.2)
    ax.set_title("posetrack run: resident memory over a synthetic stream (4 people)")
    ax.legend()
    fig.tight_layout()
    out = folder / "rss.png"
    fig.savefig(out, dpi=110)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=90_000)
    p.add_argument("--size", type=lambda t: tuple(int(v) for v in t.split("x")), default=(640, 360))
    p.add_argument("--people", type=int, default=4)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--video", action="store_true", help="also write the annotated video")
    p.add_argument("--truth-boxes", action="store_true", help="ground-truth boxes instead of the shipped detector")
    p.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples (default: 10)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/memory"))
    p.add_argument("--label", help="name of this measurement (default: from the options)")
    p.add_argument("--keep", action="store_true", help="keep the run's outputs in OUT/run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--plot", action="store_true", help="only draw OUT/rss-*.csv into OUT/rss.png")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.plot:
        print(f"wrote {plot(args.out)}")
        return
    label = args.label or ("video" if args.video else "json")
    result = measure(args)
    report = {"label": label, "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()
                                           if k in ("frames", "size", "people", "seed", "video", "truth_boxes", "every")},
              "environment": {"python": platform.python_version(), "machine": platform.processor() or platform.machine(),
                              "cpus": os.cpu_count()},
              "frames": result["frames"], "seconds": round(result["seconds"], 1),
              "fps": round(result["frames"] / result["seconds"], 2), "output_bytes": result["bytes"],
              "flatness": flatness(result["samples"], 25.0)}
    (args.out / f"rss-{label}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
