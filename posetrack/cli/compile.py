"""``posetrack export``, ``calibrate`` and ``build``: the compile chain's steps, one command each."""

from __future__ import annotations

import argparse
from pathlib import Path

from posetrack.cli.args import add_device_arg, add_model_args, add_which_model, pose_record, positive


def register(sub: argparse._SubParsersAction) -> None:
    from posetrack.compile.calibrate import DEFAULT_METHOD, METHODS
    from posetrack.compile.precision import PRECISIONS
    from posetrack.compile.tensorrt import DEFAULT_MAX_BATCH

    p = sub.add_parser("export", help="export an HRNet to ONNX (dynamic batch), verified against PyTorch",
                       description="Export to ONNX with a dynamic batch dimension; the file is checked with "
                                   "onnx.checker and its ONNX Runtime output compared with PyTorch's.")
    add_model_args(p)
    p.add_argument("--out", type=Path, help="output .onnx (default: engines/hrnet_<config>_<H>x<W>.onnx)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset, >= 17 (default: 18)")
    add_device_arg(p, "PyTorch computes the parity reference", default="cpu")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("calibrate", help="gather INT8 calibration data and activation ranges into calib/",
                       description="Run representative inputs (person crops for the pose model, frames for the "
                                   "detector; made by the models' own preprocessing) through the FP32 model and store "
                                   "a manifest and the activation ranges (max, percentile, entropy) in "
                                   "calib/<model>/. INT8 models are built from these ranges; a cache made for other "
                                   "weights or preprocessing is refused.")
    add_which_model(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--images", type=Path, help="folder of your own images (persons found by the demo detector)")
    source.add_argument("--synthetic", type=positive(int), metavar="N",
                        help="N synthetic inputs (default source; N defaults to 512 crops / 256 frames)")
    p.add_argument("--method", choices=METHODS,
                   help=f"range method INT8 models use (default: {DEFAULT_METHOD}, best measured on held-out data)")
    add_device_arg(p, "ONNX Runtime runs the FP32 model (cuda needs onnxruntime-gpu)", default="cpu")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("build", help="build a TensorRT engine (FP32, FP16 or INT8) into engines/",
                       description="Derive the ONNX file of the precision (FP16 conversion, or the TensorRT-flavoured "
                                   "INT8 Q/DQ model checked against TensorRT's rules) and build a strongly typed "
                                   "engine with a dynamic-batch profile and a timing cache. Engines are cached by "
                                   "model hash, precision, shapes, GPU and TensorRT version; stale ones are rebuilt.")
    add_which_model(p)
    p.add_argument("--precision", choices=PRECISIONS, default="fp16", help="(default: fp16)")
    p.add_argument("--max-batch", type=positive(int), default=DEFAULT_MAX_BATCH,
                   help=f"largest batch the engine takes (default: {DEFAULT_MAX_BATCH})")
    p.set_defaults(func=cmd_build)


def cmd_export(args: argparse.Namespace) -> int:
    from posetrack.assemble import machine_device
    from posetrack.compile.export import export_onnx
    from posetrack.models import build_pose_model

    w, h = args.input_size
    out = args.out or Path("engines") / f"hrnet_{args.config}_{h}x{w}.onnx"
    device = machine_device(args.device or "cpu")
    model = build_pose_model(args.config, args.weights, args.joints)
    result = export_onnx(model, out, args.input_size, opset=args.opset, device=device)
    print(f"wrote {result.path} (opset {result.opset}, dynamic batch); ONNX Runtime vs PyTorch on {result.device} "
          f"max |diff| {result.max_abs_diff:.2e} on batches {list(result.batches)}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from posetrack.assemble import exported, machine_device
    from posetrack.backends import device_providers
    from posetrack.compile.cache import calib_dir
    from posetrack.compile.precision import calibration

    device = machine_device(args.device or "cpu")
    device_providers(device)  # refuse a device ONNX Runtime cannot use before the inputs are made
    model = exported(args.model, pose_record(args))
    calib = calibration(model, args.synthetic, args.images, recalibrate=True, default_method=args.method,
                        device=device)
    m = calib.manifest
    seed = f", seed {m.seed}" if m.seed is not None else ""
    print(f"calibrated {m.model} on {m.count} inputs ({m.source}{seed}): {m.tensors} activations, "
          f"INT8 models use the {m.default_method} ranges; wrote {calib_dir() / m.model}/manifest.json and ranges.json")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from posetrack.assemble import exported
    from posetrack.compile.tensorrt import ensure_engine, tensorrt_onnx

    model = exported(args.model, pose_record(args))
    path = tensorrt_onnx(model, args.precision)
    print(f"{args.precision} ONNX for TensorRT: {path}")
    plan, spec = ensure_engine(path, model.name, args.precision, args.max_batch)
    print(f"engine: {plan} ({spec.gpu.name}, TensorRT {spec.tensorrt_version}, batch 1..{args.max_batch})")
    return 0
