"""``posetrack`` command line: one sub-command per job.

User mistakes (missing files, bad weights, bad options) end in one ``posetrack: error: ...`` line on
stderr and exit status 2; Ctrl-C ends with status 130.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np

from posetrack.errors import PosetrackError


def _two_ints(text: str, form: str) -> tuple[int, int]:
    """'AxB' → (A, B); ``form`` names the expected order in the error, e.g. 'HEIGHTxWIDTH such as 256x192'."""
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}") from None
    return a, b


def _size_hw(text: str) -> tuple[int, int]:
    """'256x192' (height x width, as in checkpoint names) → (width, height)."""
    h, w = _two_ints(text, "HEIGHTxWIDTH such as 256x192")
    if h % 32 or w % 32 or h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"HRNet input sides must be positive multiples of 32, got {text!r}")
    return w, h


def _hxw(size_wh: tuple[int, int]) -> str:
    """(width, height) → "HxW", the form model input sizes are written in."""
    return f"{size_wh[1]}x{size_wh[0]}"


def _size_wh(text: str) -> tuple[int, int]:
    """'640x360' (width x height, as video sizes are written) → (width, height)."""
    w, h = _two_ints(text, "WIDTHxHEIGHT such as 640x360")
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


def _add_run_args(p: argparse.ArgumentParser, default_out: Path) -> None:
    p.add_argument("--out", type=Path, default=default_out, help=f"output folder (default: {default_out}/)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "ort", "trt"],
                   help="inference backend (default: auto = TensorRT where it can run, else ONNX Runtime)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"],
                   help="fp32 (default), fp16, or int8 (calibrated Q/DQ models; calibrates on first use)")
    _add_pose_args(p)
    p.add_argument("--detector", type=Path, help="person detector ONNX in YOLO layout [N, 4 + classes, candidates]")
    p.add_argument("--detections", type=Path, help="precomputed boxes: COCO detection results, image_id = frame index")
    p.add_argument("--max-persons", type=_positive(int), default=50, help="poses per frame at most (default: 50)")
    p.add_argument("--keep-score", type=float, default=0.3, help="keypoints below this score are not written (0.3)")
    p.add_argument("--flip-test", action="store_true", help="average with mirrored crops (slower, more accurate)")
    p.add_argument("--no-video", action="store_true", help="do not write the annotated video")
    p.add_argument("--sequential", action="store_true", help="run the stages one after another (for comparison)")
    p.add_argument("--show", action="store_true", help="display the annotated frames (needs a display; q stops)")


def _add_pose_args(p: argparse.ArgumentParser) -> None:
    from posetrack.models.hrnet import CONFIGS

    p.add_argument("--pose-weights", type=Path, help="official / MMPose COCO HRNet checkpoint instead of the demo model")
    p.add_argument("--pose-config", default="w32", choices=sorted(CONFIGS), help="config of --pose-weights (default: w32)")
    p.add_argument("--pose-input", type=_size_hw, default=(192, 256), metavar="HxW",
                   help="input of --pose-weights, height x width (default: 256x192)")


def _add_which_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=["pose", "detector"], required=True,
                   help="pose: the demo HRNet, or --pose-weights; detector: the shipped detector")
    _add_pose_args(p)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    from posetrack.models.hrnet import CONFIGS

    p.add_argument("--config", default="w32", choices=sorted(CONFIGS), help="HRNet configuration (default: w32)")
    p.add_argument("--weights", type=Path, help="official or MMPose checkpoint (.pth); default: random init")
    p.add_argument("--input-size", type=_size_hw, default=(192, 256), metavar="HxW",
                   help="network input, height x width as in checkpoint names (default: 256x192)")
    p.add_argument("--joints", type=int, default=17, help="heatmap channels (default: 17)")


def build_parser() -> argparse.ArgumentParser:
    # heavy imports (torch) happen here, inside main()'s Ctrl-C handling, not when the module loads
    from posetrack.models.hrnet import CONFIGS
    from posetrack.report import MODELS
    from posetrack.synth import PRESETS

    parser = argparse.ArgumentParser(
        prog="posetrack",
        description="Real-time multi-person pose tracking with HRNet: PyTorch models, ONNX / TensorRT engines.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="track the poses of everyone in a video (the main job)",
                       description="Detect persons, estimate their poses (HRNet, all persons of a frame in one batch) "
                                   "and track identities, with the stages overlapped. Writes OUT/<stem>.json "
                                   "(PoseTrack 2018, poseval-ready) and OUT/<stem>.mp4 (skeletons in per-track "
                                   "colours), and prints a summary.")
    p.add_argument("source", help="video file, image folder, or camera index")
    _add_run_args(p, default_out=Path("out"))
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="render a synthetic clip, track it, and score the result against its ground truth",
                       description="Render a synthetic clip (crossing preset) with exact ground truth, run the "
                                   "pipeline on it with the shipped models, and evaluate with the PoseTrack metrics.")
    p.add_argument("--frames", type=_positive(int), default=150, help="clip length (default: 150)")
    p.add_argument("--seed", type=int, default=3, help="clip seed (default: 3)")
    p.add_argument("--preset", default="crossing", choices=list(PRESETS), help="synthetic preset (default: crossing)")
    p.add_argument("--compare", action="store_true", help="also run the sequential mode and report the speed-up")
    _add_run_args(p, default_out=Path("out/demo"))
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("export", help="export an HRNet to ONNX (dynamic batch), verified against PyTorch",
                       description="Export to ONNX with a dynamic batch dimension; the file is checked with "
                                   "onnx.checker and its ONNX Runtime output compared with PyTorch's.")
    _add_model_args(p)
    p.add_argument("--out", type=Path, help="output .onnx (default: engines/hrnet_<config>_<H>x<W>.onnx)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset, >= 17 (default: 18)")
    p.set_defaults(func=cmd_export)

    from posetrack.calibrate import DEFAULT_METHOD, METHODS

    p = sub.add_parser("calibrate", help="gather INT8 calibration data and activation ranges into calib/",
                       description="Run representative inputs (person crops for the pose model, frames for the "
                                   "detector; made by the models' own preprocessing) through the FP32 model and store "
                                   "a manifest and the activation ranges (max, percentile, entropy) in "
                                   "calib/<model>/. INT8 models are built from these ranges; a cache made for other "
                                   "weights or preprocessing is refused.")
    _add_which_model(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--images", type=Path, help="folder of your own images (persons found by the demo detector)")
    source.add_argument("--synthetic", type=_positive(int), metavar="N",
                        help="N synthetic inputs (default source; N defaults to 512 crops / 256 frames)")
    p.add_argument("--method", choices=METHODS,
                   help=f"range method INT8 models use (default: {DEFAULT_METHOD}, best measured on held-out data)")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("build", help="build a TensorRT engine (FP32, FP16 or INT8) into engines/",
                       description="Derive the ONNX file of the precision (FP16 conversion, or the TensorRT-flavoured "
                                   "INT8 Q/DQ model checked against TensorRT's rules) and build a strongly typed "
                                   "engine with a dynamic-batch profile and a timing cache. Engines are cached by "
                                   "model hash, precision, shapes, GPU and TensorRT version; stale ones are rebuilt.")
    _add_which_model(p)
    p.add_argument("--precision", choices=["fp32", "fp16", "int8"], default="fp16", help="(default: fp16)")
    p.add_argument("--max-batch", type=_positive(int), default=32, help="largest batch the engine takes (default: 32)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("bench", help="measure speed and accuracy side by side; write a report to benchmarks/",
                       description="Measure after warm-up with repeated runs: latency (median/p90/p99) and throughput "
                                   "per model, backend, precision and batch, against the CPU's convolution ceiling; "
                                   "accuracy per precision; the pipelined vs sequential runtime; tracker cost vs "
                                   "people. Writes <date>-<host>.md, .json and PNG plots.")
    p.add_argument("--quick", action="store_true", help="the < 5 minute subset (demo models, batches 1 and 8)")
    p.add_argument("--out", type=Path, default=Path("benchmarks"), help="report folder (default: benchmarks/)")
    p.add_argument("--models", type=_name_list(MODELS), help="comma-separated: demo, detector, w32, w48 "
                   "(w32/w48: official architecture, random weights) (default: demo,detector,w32)")
    p.add_argument("--backends", type=_name_list(("torch", "ort", "trt")),
                   help="comma-separated: torch, ort, trt (default: all; trt where TensorRT can run)")
    p.add_argument("--precisions", type=_name_list(("fp32", "fp16", "int8")), help="comma-separated (default: all)")
    p.add_argument("--batches", type=_int_list, help="comma-separated batch sizes (default: 1,4,8,16)")
    p.add_argument("--repeats", type=_positive(int), help="timed runs per measurement, at least (default: 10, quick 5)")
    p.add_argument("--min-seconds", type=_positive(float), metavar="S",
                   help="fast calls repeat until S seconds are spent per measurement (default: 1, quick 0.5)")
    p.add_argument("--synth", action="store_true", help="instead: the synthetic world's rendering speed per preset")
    p.add_argument("--tracker-quality", action="store_true",
                   help="instead: MOTA and identity switches of tracker variants on corrupted ground truth")
    p.set_defaults(func=cmd_bench)

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

    from posetrack.runtime import DEMO_DETECTOR_INPUT, DEMO_POSE

    p = sub.add_parser("train", help="train the pose model (HRNet) or the person detector",
                       description="Train in PyTorch. Data: the synthetic world (default), a COCO keypoint file with "
                                   "its image folder, or a PoseTrack 2018 file with its frame root. Validation: OKS AP "
                                   "on held-out synthetic clips (seeds never used for training).")
    p.add_argument("what", choices=["pose", "detector"], help="what to train")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, history); resumed if present")
    p.add_argument("--config", default="demo", choices=sorted(CONFIGS), help="HRNet configuration (default: demo)")
    p.add_argument("--input-size", type=_size_hw, metavar="HxW",
                   help="network input, height x width (default: the shipped models' inputs, "
                        f"{_hxw(DEMO_POSE.input_size)} pose, {_hxw(DEMO_DETECTOR_INPUT)} detector)")
    p.add_argument("--data", default="synthetic", metavar="SOURCE",
                   help="synthetic | coco:ANNOTATIONS.json:IMAGE_DIR | posetrack:ANNOTATIONS.json:FRAME_ROOT")
    p.add_argument("--steps", type=_positive(int), default=3000, help="optimiser steps (default: 3000)")
    p.add_argument("--batch", type=_positive(int), default=32, help="batch size (default: 32)")
    p.add_argument("--lr", type=_positive(float), default=1e-3, help="peak Adam learning rate (default: 1e-3)")
    p.add_argument("--val-every", type=_positive(int), default=500, help="steps between validations (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="data and initialisation seed (default: 0)")
    p.add_argument("--init", type=Path, metavar="WEIGHTS",
                   help="start from these weights (fine-tuning; any checkpoint format `run --pose-weights` reads) "
                        "instead of the official random initialisation; a run found in OUT is resumed instead")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT has a checkpoint")
    p.set_defaults(func=cmd_train)
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
    from dataclasses import replace

    from posetrack.report import BenchOptions, run_benchmarks, write_report

    if args.synth:
        return _bench_synth(args)
    if args.tracker_quality:
        return _bench_tracker_quality(args)
    options = BenchOptions.quick() if args.quick else BenchOptions()
    given = {k: tuple(v) if isinstance(v, list) else v
             for k, v in (("models", args.models), ("backends", args.backends), ("precisions", args.precisions),
                          ("batches", args.batches), ("repeats", args.repeats),
                          ("min_seconds", args.min_seconds)) if v is not None}
    report = run_benchmarks(replace(options, **given))
    for path in write_report(report, args.out, "-quick" if args.quick else ""):
        print(f"wrote {path}")
    return 0


def _pose_spec(args: argparse.Namespace):
    from posetrack.runtime import DEMO_POSE, user_pose_model

    return user_pose_model(args.pose_config, args.pose_weights, args.pose_input) if args.pose_weights else DEMO_POSE


def _exported(args: argparse.Namespace):
    from posetrack.runtime import export_detector, export_pose

    return export_pose(_pose_spec(args)) if args.model == "pose" else export_detector()


def cmd_calibrate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from posetrack.calibrate import calib_dir
    from posetrack.runtime import calibration

    model = _exported(args)
    calib = calibration(model, args.synthetic, args.images, recalibrate=True)
    folder = calib_dir() / model.calib_name
    if args.method:
        calib = replace(calib, manifest=replace(calib.manifest, default_method=args.method))
        calib.save(folder)
    m = calib.manifest
    seed = f", seed {m.seed}" if m.seed is not None else ""
    print(f"calibrated {m.model} on {m.count} inputs ({m.source}{seed}): {m.tensors} activations, "
          f"INT8 models use the {m.default_method} ranges; wrote {folder}/manifest.json and ranges.json")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from posetrack.engines import ensure_engine
    from posetrack.quantize import TENSORRT, check_tensorrt_qdq
    from posetrack.runtime import precision_onnx

    model = _exported(args)
    path = precision_onnx(model, args.precision, TENSORRT)
    if args.precision == "int8":
        import onnx

        problems = check_tensorrt_qdq(onnx.load(str(path)))
        if problems:
            raise PosetrackError(f"{path}: not buildable by TensorRT: {problems[0]} (+{len(problems) - 1} more)")
    print(f"{args.precision} ONNX for TensorRT: {path}")
    plan, spec = ensure_engine(path, model.name, args.precision, args.max_batch)
    print(f"engine: {plan} ({spec.gpu.name}, TensorRT {spec.tensorrt_version}, batch 1..{args.max_batch})")
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
        r = measure_synth(name, frames=30 * (args.repeats or 10))
        rows.append(r)
        print(f"{name:10s} {r.people:3d} people  {r.frames_per_s:7.1f} frames/s  {r.ms_per_frame:6.2f} ms/frame")
    md, js = write_rows_report("Synthetic world rendering speed (one core, in memory, no encoding)", rows, args.out,
                               f"{date.today().isoformat()}-cpu-synth")
    print(f"wrote {md} and {js}")
    return 0


def _bench_tracker_quality(args: argparse.Namespace) -> int:
    from posetrack.bench import measure_tracker_quality, write_rows_report

    quality = []
    for name in ("crossing", "pan"):
        for seed in range(max(1, (args.repeats or 10) // 3)):
            for r in measure_tracker_quality(name, seed, frames=200):
                quality.append(r)
                print(f"{name:9s} seed {seed} {r.tracker:20s} MOTA {r.mota:6.2f}  switches {r.switches:5.1f}")
    title = "Tracking from corrupted ground truth (2% keypoint noise, 10% dropped persons): MOTA and switches"
    for path in write_rows_report(title, quality, args.out, f"{date.today().isoformat()}-cpu-tracker-quality"):
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


VALIDATION_SEEDS = (90001, 90002)  # held out: training streams never use these seeds


def _validation_clips(skeleton):
    """Held-out synthetic frames with COCO ground truth: (images, gt dict)."""
    from posetrack.synth import preset
    from posetrack.synth.files import coco_keypoints

    val_images, val_gt = [], {"images": [], "annotations": [], "categories": [{"id": 1}]}
    for seed, name in zip(VALIDATION_SEEDS, ("crossing", "crowd")):
        images, gt = coco_keypoints(preset(name, frames=60), seed, skeleton, stride=4)
        offset = len(val_gt["images"]) * 1000
        for img in gt["images"]:
            img["id"] += offset
        for ann in gt["annotations"]:
            ann["image_id"] += offset
            ann["id"] += len(val_gt["annotations"]) + offset
        val_images += images
        val_gt["images"] += gt["images"]
        val_gt["annotations"] += gt["annotations"]
    return val_images, val_gt


def _initial_weights(model, init: Path | None):
    """``model`` with the weights of ``init`` when given (a resumed run overrides them with its own)."""
    from posetrack.models.checkpoints import load_checkpoint

    return model if init is None else load_checkpoint(model, init)


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    if args.what == "detector":
        return _train_detector(args)

    from posetrack.models.hrnet import hrnet
    from posetrack.synth.samples import person_samples
    from posetrack.train.data import SKELETON_OF_SOURCE, batches, coco_person_samples, posetrack_person_samples
    from posetrack.train.pose_trainer import PoseTrainConfig, train_pose

    kind, *paths = args.data.split(":")
    if kind not in SKELETON_OF_SOURCE or (kind != "synthetic" and len(paths) != 2):
        raise PosetrackError(f"--data {args.data!r}: use synthetic, coco:ANNOTATIONS:IMAGES or posetrack:ANNOTATIONS:ROOT")
    skeleton = SKELETON_OF_SOURCE[kind]
    samples = {"synthetic": lambda: person_samples(seed=args.seed, skeleton=skeleton),
               "coco": lambda: coco_person_samples(*paths),
               "posetrack": lambda: posetrack_person_samples(*paths)}[kind]()
    torch.manual_seed(args.seed)
    model = _initial_weights(hrnet(args.config, skeleton.num_joints).init_weights(), args.init)
    input_size = args.input_size or DEMO_POSE.input_size
    cfg = PoseTrainConfig(steps=args.steps, lr=args.lr, val_every=args.val_every, seed=args.seed)
    train = batches(samples, args.batch, input_size, skeleton, seed=args.seed)
    history = train_pose(model, train, cfg, args.out, _validation_clips(skeleton), input_size, skeleton,
                         resume=not args.no_resume)
    best = max((v["AP"] for v in history.val), default=float("nan"))
    print(f"done: {len(history.loss)} steps in {history.seconds / 60:.1f} min; best OKS AP {best:.4f}; "
          f"weights in {args.out / 'best.pth'}")
    return 0


def _train_detector(args: argparse.Namespace) -> int:
    import torch

    from posetrack.models.detector import PersonDetector
    from posetrack.runtime import DEMO_DETECTOR_INPUT
    from posetrack.skeleton import POSETRACK17
    from posetrack.synth.samples import frame_samples
    from posetrack.train.detector_trainer import boxes_ground_truth, detector_batches, train_detector
    from posetrack.train.pose_trainer import PoseTrainConfig

    if args.data != "synthetic":
        raise PosetrackError("the detector trains on the synthetic world only (--data synthetic)")
    torch.manual_seed(args.seed)
    input_size = args.input_size or DEMO_DETECTOR_INPUT
    images, gt = _validation_clips(POSETRACK17)
    boxes = [[] for _ in images]
    index = {img["id"]: i for i, img in enumerate(gt["images"])}
    for ann in gt["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes[index[ann["image_id"]]].append([x, y, x + w, y + h])
    validation = (images, boxes_ground_truth(images, [np.array(b, np.float32).reshape(-1, 4) for b in boxes]))
    cfg = PoseTrainConfig(steps=args.steps, lr=args.lr, val_every=args.val_every, seed=args.seed, warmup=200)
    train = detector_batches(frame_samples(seed=args.seed + 1), args.batch, input_size, seed=args.seed)
    history = train_detector(_initial_weights(PersonDetector(), args.init), train, cfg, args.out, validation,
                             input_size)
    best = max((v["AP50"] for v in history.val), default=float("nan"))
    print(f"done: {len(history.loss)} steps in {history.seconds / 60:.1f} min; best box AP50 {best:.4f}; "
          f"weights in {args.out / 'best.pth'}")
    return 0


def _pipeline(args: argparse.Namespace, sequential: bool):
    from posetrack.detect import PrecomputedDetections
    from posetrack.pipeline import Pipeline
    from posetrack.runtime import build_detector, build_estimator, stage_threads
    from posetrack.track import PoseTracker

    detector_threads, pose_threads = stage_threads(sequential)
    estimator = build_estimator(_pose_spec(args), args.backend, pose_threads, args.flip_test, args.precision)
    if args.detections:
        detector = PrecomputedDetections(args.detections)
    else:
        detector = build_detector(args.detector, args.backend, detector_threads, precision=args.precision)
    return Pipeline(detector, estimator, PoseTracker(), max_persons=args.max_persons, sequential=sequential)


def _run(args: argparse.Namespace, source, out: Path, sequential: bool, video: bool):
    from posetrack.io.video import VideoReader
    from posetrack.run import open_window, run_video

    reader = VideoReader(source)  # bad sources fail here, before models load
    if getattr(args, "show", False):
        open_window("posetrack")
    summary = run_video(source, out, _pipeline(args, sequential), video=video, keep_score=args.keep_score,
                        reader=reader, show=args.show)
    return summary


def _report_break(summary) -> int:
    if summary.broken_at is not None:
        print(f"posetrack: error: the source breaks off at frame {summary.broken_at} (truncated or corrupt); "
              f"results cover frames 0..{summary.frames - 1}", file=sys.stderr)
        return 2
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    summary = _run(args, args.source, args.out, args.sequential, not args.no_video)
    print("\n".join(summary.lines()))
    return _report_break(summary)


def cmd_demo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from posetrack.eval.poseval import evaluate_folders
    from posetrack.synth import PRESETS
    from posetrack.synth.files import sequence_name, write_clip

    name = sequence_name(args.preset, args.seed)
    clip, _ = write_clip(replace(PRESETS[args.preset], frames=args.frames), args.seed, args.out / "gt", name)
    print(f"rendered {clip} ({args.frames} frames, preset {args.preset}) with ground truth")
    summary = _run(args, clip, args.out / "pred", args.sequential, not args.no_video)
    print("\n".join(summary.lines()))
    metrics = evaluate_folders(args.out / "gt", args.out / "pred")
    print(metrics.table())
    fps = summary.times.fps()["total"]
    line = f"mAP {metrics.total('ap'):.1f}  MOTA {metrics.total('mota'):.1f}  end-to-end {fps:.1f} FPS"
    if args.compare:
        other = _run(args, clip, args.out / "other", not args.sequential, False)
        seq, pip = (other, summary) if not args.sequential else (summary, other)
        line += (f"  |  pipelined {pip.times.fps()['total']:.1f} FPS vs sequential {seq.times.fps()['total']:.1f} FPS "
                 f"({pip.times.fps()['total'] / seq.times.fps()['total']:.2f}x)")
    print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except PosetrackError as exc:
        print(f"posetrack: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("posetrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
