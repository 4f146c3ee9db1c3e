"""What a CPU user gets from a real-size pose model: ``posetrack run``'s end-to-end FPS with an HRNet of the
official architecture (random weights: the same cost as trained ones; no accuracy is measured or claimed here)
beside the demo models, at FP32 and INT8 (ONNX Runtime, explicit Q/DQ), at 256x192 and 384x288, and with the
detector every 3rd frame. The shipped demo detector finds the people in every row, so rows differ only in the
pose model and the keyframe schedule. Configurations alternate within each round (this VM's speed drifts), and
the table gives each one's median over the rounds.

    python benchmarks/cpu-real-model/measure.py [--rounds 2] [--frames 100]   # → results.json and README table

The clip is the synthetic crossing preset at 640x360 (4 to 5 people in view), the run a `posetrack run
--no-video` as the command line makes it (models built and warmed up first, outside the timing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from posetrack.assemble import build_pipeline
from posetrack.bench.measure import environment
from posetrack.demo import render_clip
from posetrack.io.sources import open_source
from posetrack.models import random_pose, register_model
from posetrack.options import Options
from posetrack.track_video import run_video
from posetrack.types import Size

HERE = Path(__file__).resolve().parent
CONFIGS = {  # name: (pose model, input size, precision, detect every)
    "demo 192x128 fp32": ("demo", None, "fp32", 1),
    "W32 256x192 fp32": ("w32", Size(192, 256), "fp32", 1),
    "W32 256x192 int8": ("w32", Size(192, 256), "int8", 1),
    "W32 256x192 int8, detector every 3rd frame": ("w32", Size(192, 256), "int8", 3),
    "W32 384x288 fp32": ("w32", Size(288, 384), "fp32", 1),
}


def options_of(pose: str, size: Size | None, precision: str, every: int) -> Options:
    options = Options.demo(output__video=False, keyframes__every=every)
    if pose != "demo":
        assert size is not None
        # random weights, so the synthetic world may calibrate it: only speed is measured
        record = replace(random_pose(pose, size), name=f"pose_{pose}_{size.hxw}", synthetic_calibration=True)
        register_model(record, overwrite=True)
        options = options.replaced(pose=record.name)
    return options.updated({"pose": {"precision": precision}})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--out", type=Path, default=HERE)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="posetrack-cpu-model-"))
    clip = render_clip(work / "clip", "crossing", args.frames, seed=700)
    pipelines = {}
    for name, config in CONFIGS.items():  # built once (exports, INT8 calibration), outside the timing
        start = time.perf_counter()
        pipelines[name] = (build_pipeline(options_of(*config)), options_of(*config))
        print(f"built {name} in {time.perf_counter() - start:.0f} s", flush=True)
    fps: dict[str, list[float]] = {name: [] for name in CONFIGS}
    stages: dict[str, dict] = {}
    for round_ in range(args.rounds):
        for name, (pipeline, options) in pipelines.items():
            summary = run_video(clip, work / "out", pipeline, options.output, progress=False,
                                reader=open_source(clip, options.runtime))
            fps[name].append(summary.times.fps()["total"])
            stages[name] = {k: round(v, 1) for k, v in summary.times.fps().items()}
            print(f"round {round_ + 1} {name}: {fps[name][-1]:.2f} FPS end to end "
                  f"(stages alone: {stages[name]})", flush=True)
    rows = [{"config": name, "fps_median": round(statistics.median(v), 2), "fps_rounds": [round(x, 2) for x in v],
             "stage_fps_last_round": stages[name]} for name, v in fps.items()]
    (args.out / "results.json").write_text(json.dumps({"environment": environment(), "frames": args.frames,
                                                       "rounds": args.rounds, "rows": rows}, indent=1) + "\n")
    print("\n| configuration | end-to-end FPS (median) | rounds |\n|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['fps_median']:.1f} | {', '.join(f'{x:.1f}' for x in r['fps_rounds'])} |")


if __name__ == "__main__":
    main()
