"""Host stages per frame at 640x360 and 1080p: decode, the tracker (flow at full size and at FlowConfig's
max_side), drawing and MP4 encoding, and what the annotated-video sink costs the run's path. Held-out clips
(seeds 700, 701; the flow size was chosen on 500, 501).

    python benchmarks/host-stages/measure.py      # a few minutes → results.json beside this file
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from posetrack.annotate import draw_poses
from posetrack.bench.measure import environment
from posetrack.bench.stress import stress
from posetrack.io.sources import open_source
from posetrack.io.video import VideoWriter
from posetrack.sinks import VideoSink
from posetrack.synth import PRESETS, SyntheticVideo
from posetrack.synth.files import write_clip
from posetrack.track import FlowConfig, TrackerConfig
from posetrack.types import Detections, FrameResult, TrackedPoses

SEEDS = (700, 701)
RUN_MS = 40.0  # what the rest of a run spends per frame while the video sink draws and encodes (25 FPS)
SCENES = {  # 16 people at 1080p (people three times as tall in pixels as at 640x360)
    "640x360": replace(PRESETS["crowd"], frames=150, people=10),
    "1920x1080": replace(PRESETS["crowd"], frames=150, people=16, size=(1920, 1080), min_height=120),
}


def per_frame_ms(seconds: float, frames: int) -> float:
    return round(1e3 * seconds / frames, 2)


def decode_draw_encode(scene, seed: int) -> dict[str, float]:
    """Decode (frames dropped as read), drawing and MP4 encoding in line, and the annotated-video sink's time on
    the run's path when the run spends ``RUN_MS`` per frame elsewhere (its drawing and encoding then overlap)."""
    with tempfile.TemporaryDirectory() as tmp:
        video, _ = write_clip(scene, seed, tmp, f"{seed}00_mpii_host")
        start, count = time.perf_counter(), 0
        with open_source(video) as reader:
            for _ in reader:
                count += 1
        out = {"decode_ms": per_frame_ms(time.perf_counter() - start, count)}
        with open_source(video) as reader:
            frames = list(reader)
        truth = [t for _, t in SyntheticVideo(scene, seed)]
        results = [FrameResult(f, Detections.empty(), TrackedPoses(
            t.keypoints, np.where(t.visibility > 0, 0.9, 0.1).astype(np.float32), t.boxes,
            np.ones(len(t.boxes), np.float32), t.skeleton, t.track_ids), fps=25.0) for f, t in zip(frames, truth)]
        start = time.perf_counter()
        drawn = [draw_poses(r.frame.image, r.poses, fps=r.fps) for r in results]
        out["draw_ms"] = per_frame_ms(time.perf_counter() - start, len(drawn))
        with VideoWriter(Path(tmp) / "inline.mp4", scene.size, scene.fps) as writer:
            start = time.perf_counter()
            for image in drawn:
                writer.write(image)
            out["encode_ms"] = per_frame_ms(time.perf_counter() - start, len(drawn))
        del drawn
        on_path = 0.0
        with VideoSink(Path(tmp) / "sink.mp4", scene.size, scene.fps) as sink:
            for r in results:
                time.sleep(RUN_MS / 1e3)  # the networks' share of a frame
                start = time.perf_counter()
                sink.write(r)
                on_path += time.perf_counter() - start
        out["video_sink_on_path_ms"] = per_frame_ms(on_path, len(results))
        return out


def tracker(scene, seed: int) -> dict[str, float]:
    out = {}
    for label, side in (("full", None), ("max_side", FlowConfig().max_side)):
        r = stress(scene, seed, TrackerConfig(flow=FlowConfig(max_side=side)))
        h = r.report.headline()
        out |= {f"track_{label}_ms": round(r.ms_per_frame, 2), f"MOTA_{label}": round(h["MOTA"], 2),
                f"IDF1_{label}": round(h["IDF1"], 2)}
    return out


def main() -> None:
    rows = []
    for size, scene in SCENES.items():
        for seed in SEEDS:
            row = {"size": size, "people": scene.people, "seed": seed} | decode_draw_encode(scene, seed) | tracker(
                scene, seed)
            rows.append(row)
            print(row, flush=True)
    path = Path(__file__).with_name("results.json")
    path.write_text(json.dumps({"environment": environment(), "rows": rows}, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
