"""Keyframe detection (``--detect-every K``) measured end to end on held-out synthetic clips.

Every preset at seeds 700 and 701 (never used for tuning: the validation clips are seeds 500 and 501), 150 frames
each, tracked by the demo models at K in {1, 2, 3, 5, 10}, FP32 and INT8 (ONNX Runtime), plus K = 1 without the
re-detection of missed people. Writes ``results.json``; ``report.py`` turns it into the README table and the plot.

    python benchmarks/keyframes/measure.py [--frames 150] [--out benchmarks/keyframes]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from posetrack.assemble import build_pipeline
from posetrack.demo import track_and_score
from posetrack.options import Options
from posetrack.synth import PRESETS
from posetrack.synth.files import clip_name, write_clip

SEEDS = (700, 701)
KS = (1, 2, 3, 5, 10)


def variants() -> list[tuple[str, str, int, float | None]]:
    """(label, precision, K, recover_score) in the order measured."""
    out = [(f"K={k}", p, k, 0.5) for p in ("fp32", "int8") for k in KS]
    return out + [("K=1, no re-detection", p, 1, None) for p in ("fp32", "int8")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="keyframes-"))
    clips = []
    for preset in PRESETS:
        for seed in SEEDS:
            name = clip_name(preset, seed)
            video, _ = write_clip(replace(PRESETS[preset], frames=args.frames), seed, work / "gt", name)
            clips.append((preset, seed, video))
    rows = []
    for label, precision, k, recover in variants():
        options = Options.demo(precision=precision, detector__every=k, pose__recover_score=recover,
                               output__video=False)
        for preset, seed, video in clips:
            pipeline = build_pipeline(options)
            scored = track_and_score(video, pipeline, work / "pred" / f"{precision}-{k}-{recover}", options.output,
                                     progress=False)
            head = scored.report.headline()
            rows.append({"variant": label, "precision": precision, "K": k, "recover_score": recover,
                         "preset": preset, "seed": seed, "frames": pipeline.times.frames, "fps": scored.fps,
                         "detector_frames": pipeline.times.detected, "mAP": scored.metrics.total("ap"),
                         **{m: head[m] for m in ("MOTA", "IDF1", "HOTA")}})
            print(f"{label:22s} {precision} {preset:8s} {seed}  {scored.fps:5.1f} FPS  mAP {rows[-1]['mAP']:5.1f}  "
                  f"MOTA {head['MOTA']:5.1f}  detector on {pipeline.times.detected}/{pipeline.times.frames}",
                  flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({
        "measured": time.strftime("%Y-%m-%d"), "cpu": platform.processor() or platform.machine(),
        "frames": args.frames, "seeds": SEEDS, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
