"""Batch throughput: the same synthetic clips tracked by 1 and 2 local workers and by 1 and 2 Ray actors (a local
Ray instance), each from an empty output folder, in one process run.

    python benchmarks/batch/throughput.py --videos 8 --frames 100 --out benchmarks/batch

Writes ``throughput.json`` and ``throughput.md`` into ``--out`` (the clips and outputs go to a temporary folder).
Wall time includes starting the workers (loading the models) and, for Ray, starting the instance.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from posetrack.batch import track_videos
from posetrack.options import Options
from posetrack.synth import PRESETS
from posetrack.synth.files import write_clip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path("benchmarks/batch"))
    p.add_argument("--configs", default="local:1,local:2,ray:1,ray:2")
    p.add_argument("--rounds", type=int, default=3, help="repetitions of each configuration (median reported)")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp) / "clips"
        config = replace(PRESETS["easy"], frames=args.frames, size=(640, 360))
        for i in range(args.videos):
            write_clip(config, 100 + i, clips, f"5000{i:02d}_mpii_test")
        walls: dict[str, list[float]] = {}
        last: dict[str, object] = {}
        for round_ in range(args.rounds):  # configurations alternate, so that drifts of the machine hit all alike
            for item in args.configs.split(","):
                executor, workers = item.split(":")
                start = time.perf_counter()
                s = track_videos([clips], Path(tmp) / f"{item.replace(':', '-')}-{round_}", Options.demo(output__video=False),
                                 executor, int(workers), progress=False)
                walls.setdefault(item, []).append(time.perf_counter() - start)
                last[item] = s
                print(item, f"round {round_}: {walls[item][-1]:.2f} s", flush=True)
        for item, times in walls.items():
            executor, workers = item.split(":")
            s = last[item]
            wall = statistics.median(times)
            frames = sum(e.frames for e in s.entries)  # type: ignore[attr-defined]
            videos = len(s.entries)  # type: ignore[attr-defined]
            rows.append({"executor": executor, "workers": int(workers), "videos": videos, "frames": frames,
                         "wall_s": round(wall, 2), "wall_s_all": [round(t, 2) for t in times],
                         "videos_per_s": round(videos / wall, 3), "frames_per_s": round(frames / wall, 1),
                         "tracking_s": round(sum(e.seconds for e in s.entries), 2),  # type: ignore[attr-defined]
                         "failed": len(s.failed)})  # type: ignore[attr-defined]
            print(json.dumps(rows[-1]))
    env = {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
           "python": platform.python_version()}
    try:
        import ray

        env["ray"] = ray.__version__
    except ImportError:
        pass
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "throughput.json").write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)},
                                                          "environment": env, "rows": rows}, indent=1))
    lines = [f"# Batch throughput ({args.videos} synthetic clips x {args.frames} frames, 640x360, easy preset, "
             f"shipped models, ONNX Runtime CPU, no video)", "",
             f"Machine: {env['cpus']} CPUs ({env['processor']}), Python {env['python']}"
             + (f", Ray {env['ray']}" if "ray" in env else "") + ". Wall time from the call to the summary, "
             "starting the workers (and Ray) included, median of the rounds (all rounds in the JSON); tracking = the sum "
             "of the workers' per-video seconds (last round).", "",
             "| executor | workers | videos | frames | wall s | videos/s | frames/s | tracking s |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['executor']} | {r['workers']} | {r['videos']} | {r['frames']} | {r['wall_s']} | "
              f"{r['videos_per_s']} | {r['frames_per_s']} | {r['tracking_s']} |" for r in rows]
    (args.out / "throughput.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
