"""``posetrack`` command line: one sub-command per job.

User mistakes (missing files, bad weights, bad options) end in one ``posetrack: error: ...`` line on
stderr and exit status 2; Ctrl-C ends with status 130.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from posetrack.errors import PosetrackError
from posetrack.models.hrnet import CONFIGS


def _size_hw(text: str) -> tuple[int, int]:
    """'256x192' (height x width, as in checkpoint names) → (width, height)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 256x192, got {text!r}") from None
    if h % 32 or w % 32 or h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"HRNet input sides must be positive multiples of 32, got {text!r}")
    return w, h


def _size_wh(text: str) -> tuple[int, int]:
    """'640x360' (width x height, as video sizes are written) → (width, height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x360, got {text!r}") from None
    if not (64 <= w <= 7680 and 64 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"frame size {text!r} outside 64x64 .. 7680x4320")
    return w, h


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value
    return parse


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _name_list(choices: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        names = [v for v in text.split(",") if v]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}; got {text!r}")
        return names
    return parse


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="w32", choices=sorted(CONFIGS), help="HRNet configuration (default: w32)")
    p.add_argument("--weights", type=Path, help="official or MMPose checkpoint (.pth); default: random init")
    p.add_argument("--input-size", type=_size_hw, default=(192, 256), metavar="HxW",
                   help="network input, height x width as in checkpoint names (default: 256x192)")
    p.add_argument("--joints", type=int, default=17, help="heatmap channels (default: 17)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posetrack",
        description="Real-time multi-person pose tracking with HRNet: PyTorch models, ONNX / TensorRT engines.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="check the foundation end to end: build, export, run, compare backends",
                       description="Build an HRNet, export it to ONNX (verified against PyTorch), estimate poses "
                                   "of a few persons with the PyTorch and ONNX Runtime backends, and compare.")
    _add_model_args(p)
    p.add_argument("--out", type=Path, default=Path("engines"), help="folder for the ONNX file (default: engines/)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("export", help="export an HRNet to ONNX (dynamic batch), verified against PyTorch",
                       description="Export to ONNX with a dynamic batch dimension; the file is checked with "
                                   "onnx.checker and its ONNX Runtime output compared with PyTorch's.")
    _add_model_args(p)
    p.add_argument("--out", type=Path, help="output .onnx (default: engines/hrnet_<config>_<H>x<W>.onnx)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset, >= 17 (default: 18)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("bench", help="measure per-crop latency of backends, write a report to benchmarks/",
                       description="Time HRNet inference per backend and batch size (warm-up, then repeated "
                                   "runs) and write Markdown + JSON reports.")
    _add_model_args(p)
    p.add_argument("--backends", type=_name_list(("torch", "ort")), default=["torch", "ort"],
                   help="comma-separated: torch, ort (default: both)")
    p.add_argument("--batches", type=_int_list, default=[1, 8], help="comma-separated batch sizes (default: 1,8)")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per measurement (default: 10)")
    p.add_argument("--out", type=Path, default=Path("benchmarks"), help="report folder (default: benchmarks/)")
    p.add_argument("--synth", action="store_true",
                   help="measure the synthetic world's rendering speed per preset (one core) instead")
    p.add_argument("--tracker", action="store_true",
                   help="measure the tracker's association cost per frame for 1..50 people instead")
    p.set_defaults(func=cmd_bench)

    from posetrack.synth import PRESETS

    p = sub.add_parser("synth", help="render a synthetic multi-person clip with exact PoseTrack ground truth",
                       description="Render a procedural clip (people walking, crossing, occluding, entering and "
                                   "leaving) to OUT_DIR/<name>.mp4 with ground truth OUT_DIR/<name>.json in "
                                   "PoseTrack 2018 format, as the official poseval reads it. Same seed, same output.")
    p.add_argument("out_dir", type=Path, help="output folder")
    p.add_argument("--preset", default="crossing", choices=list(PRESETS),
                   help="difficulty preset (default: crossing)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--people", type=_positive(int), help="persons in view at a time (default: the preset's)")
    p.add_argument("--frames", type=_positive(int), default=150, help="clip length in frames (default: 150)")
    p.add_argument("--size", type=_size_wh, default=(640, 360), metavar="WxH", help="frame size (default: 640x360)")
    p.add_argument("--fps", type=_positive(float), default=25.0, help="frame rate (default: 25)")
    p.add_argument("--name", help="sequence name, digits + '_mpii_test' (default: from preset and seed)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("eval", help="PoseTrack mAP and MOTA/MOTP/precision/recall, as the official poseval",
                       description="Evaluate PoseTrack 2018 predictions against ground truth exactly as the official "
                                   "poseval does (per-joint AP with PCKh@0.5; per-joint CLEAR-MOT). Each ground-truth "
                                   "JSON is paired with the prediction JSON of the same name.")
    p.add_argument("--gt", type=Path, required=True, help="ground-truth folder (or one .json)")
    p.add_argument("--pred", type=Path, required=True, help="prediction folder (or one .json)")
    p.add_argument("--json", type=Path, help="also write the metrics (percent) to this JSON file")
    p.set_defaults(func=cmd_eval)
    return parser


def _model(args: argparse.Namespace):
    from posetrack.models import build_pose_model

    return build_pose_model(args.config, args.weights, args.joints)


def _onnx_path(args: argparse.Namespace) -> Path:
    w, h = args.input_size
    return Path("engines") / f"hrnet_{args.config}_{h}x{w}.onnx"


def cmd_export(args: argparse.Namespace) -> int:
    from posetrack.export import export_onnx

    out = args.out or _onnx_path(args)
    result = export_onnx(_model(args), out, args.input_size, opset=args.opset)
    print(f"wrote {result.path} (opset {result.opset}, dynamic batch); "
          f"ONNX Runtime vs PyTorch max |diff| {result.max_abs_diff:.2e} on batches {list(result.batches)}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from posetrack.backends import OrtBackend, TorchBackend
    from posetrack.bench import measure, write_latency_report
    from posetrack.export import export_onnx

    if args.synth:
        return _bench_synth(args)
    if args.tracker:
        return _bench_tracker(args)
    model = _model(args)
    w, h = args.input_size
    backends = []
    if "torch" in args.backends:
        backends.append(TorchBackend(model))
    if "ort" in args.backends:
        path = export_onnx(model, _onnx_path(args), args.input_size).path
        backends.append(OrtBackend(path, ["CPUExecutionProvider"]))
    rows = []
    for backend in backends:
        for batch in args.batches:
            r = measure(backend, (3, h, w), batch, repeats=args.repeats)
            rows.append(r)
            print(f"{backend.name:28s} batch {batch:3d}: {r.median_ms:8.1f} ms/call  {r.per_crop_ms:7.1f} ms/crop  "
                  f"{r.crops_per_s:7.1f} crops/s")
    model_name = f"hrnet_{args.config} {h}x{w}" + ("" if args.weights else " (random weights)")
    md, js = write_latency_report({model_name: rows}, args.out, f"HRNet latency, {model_name}",
                                  f"{date.today().isoformat()}-cpu-latency-{args.config}-{h}x{w}")
    print(f"wrote {md} and {js}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from posetrack.io.posetrack_json import MAX_FRAMES
    from posetrack.synth import PRESETS
    from posetrack.synth.files import sequence_name, write_clip

    if args.frames > MAX_FRAMES:
        raise PosetrackError(f"--frames {args.frames}: a PoseTrack sequence holds at most {MAX_FRAMES} frames")
    overrides = {"frames": args.frames, "size": args.size, "fps": args.fps}
    if args.people:
        overrides["people"] = args.people
    config = replace(PRESETS[args.preset], **overrides)
    name = args.name or sequence_name(args.preset, args.seed)
    with tqdm(total=args.frames, desc=f"rendering {name}", unit="frame", disable=None) as bar:
        video, truth = write_clip(config, args.seed, args.out_dir, name, progress=bar.update)
    print(f"wrote {video} and {truth}")
    return 0


def _bench_synth(args: argparse.Namespace) -> int:
    from posetrack.bench import measure_synth, write_rows_report
    from posetrack.synth import PRESETS

    rows = []
    for name in PRESETS:
        r = measure_synth(name, frames=30 * args.repeats)
        rows.append(r)
        print(f"{name:10s} {r.people:3d} people  {r.frames_per_s:7.1f} frames/s  {r.ms_per_frame:6.2f} ms/frame")
    md, js = write_rows_report("Synthetic world rendering speed (one core, in memory, no encoding)", rows, args.out,
                               f"{date.today().isoformat()}-cpu-synth")
    print(f"wrote {md} and {js}")
    return 0


def _bench_tracker(args: argparse.Namespace) -> int:
    from posetrack.bench import measure_tracker, measure_tracker_quality, write_rows_report

    rows = []
    for people in (1, 5, 10, 20, 50):
        r = measure_tracker(people, frames=20 * args.repeats)
        rows.append(r)
        print(f"{people:3d} people  {r.median_ms:6.3f} ms/frame median  {r.p90_ms:6.3f} p90")
    stem = f"{date.today().isoformat()}-cpu-tracker"
    for path in write_rows_report("Tracker association cost per frame (no optical flow)", rows, args.out, stem):
        print(f"wrote {path}")
    quality = []
    for name in ("crossing", "pan"):
        for seed in range(max(1, args.repeats // 3)):
            for r in measure_tracker_quality(name, seed, frames=200):
                quality.append(r)
                print(f"{name:9s} seed {seed} {r.tracker:20s} MOTA {r.mota:6.2f}  switches {r.switches:5.1f}")
    title = "Tracking from corrupted ground truth (2% keypoint noise, 10% dropped persons): MOTA and switches"
    for path in write_rows_report(title, quality, args.out, stem + "-quality"):
        print(f"wrote {path}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from posetrack.eval.poseval import evaluate_folders

    metrics = evaluate_folders(args.gt, args.pred)
    print(metrics.table())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(metrics.summary(), indent=1))
        print(f"wrote {args.json}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from posetrack.backends import OrtBackend, TorchBackend
    from posetrack.export import export_onnx
    from posetrack.pose import TopDownConfig, TopDownEstimator

    model = _model(args)
    w, h = args.input_size
    print(f"HRNet {args.config} {h}x{w}: {sum(p.numel() for p in model.parameters()):,} parameters"
          + ("" if args.weights else " (random weights: no trained demo model ships yet)"))
    t0 = time.perf_counter()
    result = export_onnx(model, args.out / _onnx_path(args).name, args.input_size)
    print(f"exported {result.path} in {time.perf_counter() - t0:.1f} s; "
          f"ONNX Runtime vs PyTorch max |diff| {result.max_abs_diff:.1e}")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    boxes = np.array([[40, 40, 160, 330], [250, 20, 390, 350], [470, 90, 600, 340], [580, 200, 700, 400]], np.float32)
    poses = {}
    for backend in (TorchBackend(model), OrtBackend(result.path, ["CPUExecutionProvider"])):
        estimator = TopDownEstimator(backend, config=TopDownConfig(input_size=args.input_size))
        estimator.estimate(image, boxes)  # warm-up
        t0 = time.perf_counter()
        poses[backend.name] = estimator.estimate(image, boxes)
        ms = (time.perf_counter() - t0) * 1e3
        print(f"{backend.name:24s} {len(boxes)} persons in one batch: {ms:7.1f} ms ({ms / len(boxes):.1f} ms/person)")
    a, b = poses.values()
    print(f"keypoints, torch vs ONNX Runtime: max |diff| {np.abs(a.keypoints - b.keypoints).max():.3f} px, "
          f"scores max |diff| {np.abs(a.scores - b.scores).max():.2e}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PosetrackError as exc:
        print(f"posetrack: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("posetrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
