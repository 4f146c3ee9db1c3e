"""``posetrack export``, ``calibrate`` and ``build``: the compile chain's steps, one command each, for any model of
the registry (or a user's file): ``--model pose`` takes ``--pose-model``, ``--model detector`` ``--detector``."""

from __future__ import annotations

import argparse
from pathlib import Path

from posetrack.cli.args import MODEL_FLAGS, add_device_arg, add_flags, options_from_args, positive


def _which_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=["pose", "detector"], default="pose",
                   help="pose: the --pose-model; detector: the --detector (default: pose)")
    add_flags(p, ("models",), MODEL_FLAGS)


def register(sub: argparse._SubParsersAction) -> None:
    from posetrack.options import PRECISIONS

    p = sub.add_parser("export", help="export a model to ONNX (dynamic batch), verified against PyTorch",
                       description="Export to ONNX with a dynamic batch dimension; the file is checked with "
                                   "onnx.checker and its ONNX Runtime output compared with PyTorch's. It is the file "
                                   "runs use (cached in engines/ under the model's name and key); --out copies it.",
                       epilog="examples:\n  posetrack export --pose-model hrnet_w32_coco_256x192\n"
                              "  posetrack export --pose-model pose_hrnet_w48_384x288.pth --out w48.onnx")
    _which_model(p)
    p.add_argument("--out", type=Path, help="also copy the verified file here")
    add_device_arg(p, "PyTorch computes the parity reference", default="cpu")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("calibrate", help="gather INT8 calibration data and activation ranges into calib/",
                       description="Run representative inputs (person crops for the pose model, frames for the "
                                   "detector; made by the models' own preprocessing) through the FP32 model and store "
                                   "a manifest and the activation ranges (max, percentile, entropy) in "
                                   "calib/<model>/. INT8 models are built from these ranges; a cache made for other "
                                   "weights or preprocessing is refused. Real models are calibrated on real frames "
                                   "(--images); the synthetic world serves the demo models only.",
                       epilog="examples:\n  posetrack calibrate --pose-model hrnet_w32_posetrack18_256x192 --images "
                              "my_frames/\n  posetrack calibrate --model detector --detector rtmdet_nano_person "
                              "--images clip.mp4")
    _which_model(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--images", type=Path, metavar="DIR|VIDEO",
                        help="a folder of your images or a video (persons found by the --detector)")
    source.add_argument("--synthetic", type=positive(int), metavar="N",
                        help="N synthetic inputs (the demo models' default; N defaults to 512 crops / 256 frames)")
    p.add_argument("--method", choices=("max", "percentile", "entropy"),
                   help="range method INT8 models use (default: max, best measured on held-out data)")
    add_device_arg(p, "ONNX Runtime runs the FP32 model (cuda needs onnxruntime-gpu)", default="cpu")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("build", help="build a TensorRT engine (FP32, FP16 or INT8) into engines/",
                       description="Derive the ONNX file of the precision (FP16 conversion, or the TensorRT-flavoured "
                                   "INT8 Q/DQ model checked against TensorRT's rules) and build a strongly typed "
                                   "engine with a dynamic-batch profile and a timing cache. Engines are cached by "
                                   "model hash, precision, shapes, GPU and TensorRT version; stale ones are rebuilt.",
                       epilog="example:\n  posetrack build --pose-model hrnet_w32_posetrack18_256x192 --precision fp16")
    _which_model(p)
    p.add_argument("--precision", choices=[q for q in PRECISIONS if q != "bf16"], default="fp16",
                   help="(default: fp16)")
    p.add_argument("--max-batch", type=positive(int), default=32, help="largest batch the engine takes (default: 32)")
    add_device_arg(p, "the engine is built and runs", default="cuda:0")
    p.set_defaults(func=cmd_build)


def _model(args: argparse.Namespace):
    from posetrack.assemble import exported

    return exported(args.model, options_from_args(args))


def cmd_export(args: argparse.Namespace) -> int:
    import shutil

    from posetrack.assemble import device_for, export_model

    device = device_for(args.device or "cpu")  # a bad --device is refused before any model is fetched
    model = _model(args)
    result = export_model(model, device)
    if result is None:
        print(f"{model.record.name} is an ONNX network already: {model.onnx}")
        path = model.onnx
    else:
        print(f"{model.name}: {result.path} (opset {result.opset}, dynamic batch); ONNX Runtime vs PyTorch on "
              f"{result.device} max |diff| {result.max_abs_diff:.2e} on batches {list(result.batches)}")
        path = result.path
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, args.out)
        print(f"copied to {args.out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from posetrack.assemble import calibrate_model, device_for

    device = device_for(args.device or "cpu")  # a bad --device is refused before any model is fetched
    calib, folder = calibrate_model(_model(args), args.synthetic, args.images, args.method, device)
    m = calib.manifest
    seed = f", seed {m.seed}" if m.seed is not None else ""
    print(f"calibrated {m.model} on {m.count} inputs ({m.source}{seed}): {m.tensors} activations, "
          f"INT8 models use the {m.default_method} ranges; wrote {folder}/manifest.json and ranges.json")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from posetrack.assemble import build_engine, tensorrt_input

    model = _model(args)
    path = tensorrt_input(model, args.precision)
    print(f"{args.precision} ONNX for TensorRT: {path}", flush=True)  # useful on its own: trtexec builds from it
    plan, what = build_engine(model, path, args.precision, args.max_batch, args.device)
    print(f"engine: {plan} ({what})")
    return 0
