"""Argument types, the option groups several commands share, and the one translation of flags into the options
record (``options_from_args``). Choice lists come from the modules that own them (light ones: ``--help`` never
imports torch).

Model input sizes are written as in checkpoint names, height x width (``256x192``); video frame sizes as width x
height (``640x360``); both parse to a named ``Size(width, height)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from posetrack.types import Size


def _two_ints(text: str, form: str) -> tuple[int, int]:
    """'AxB' → (A, B); ``form`` names the expected order in the error, e.g. 'HEIGHTxWIDTH such as 256x192'."""
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}") from None
    return a, b


def input_hxw(text: str) -> Size:
    """A network input written height x width (``256x192``, as in checkpoint names), or one number for a square
    (``640``, as Ultralytics' ``imgsz``)."""
    if text.isdigit():
        text = f"{text}x{text}"
    h, w = _two_ints(text, "HEIGHTxWIDTH such as 256x192")
    if h % 32 or w % 32 or h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"network input sides must be positive multiples of 32, got {text!r}")
    return Size(w, h)


def frame_wxh(text: str) -> Size:
    """A video frame size written width x height (``640x360``, as video sizes are written)."""
    w, h = _two_ints(text, "WIDTHxHEIGHT such as 640x360")
    if not (64 <= w <= 7680 and 64 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"frame size {text!r} outside 64x64 .. 7680x4320")
    return Size(w, h)


def folder(text: str) -> Path:
    """An output folder: absent (created when written) or an existing folder, not a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder (it is created if missing)")
    return path


def positive(kind: type) -> Callable[[str], float | int]:
    """A parser of positive ``kind`` (int or float) values."""
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value
    return parse


def nonnegative(text: str) -> int:
    """A whole number, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number 0 or more, got {text!r}")
    return int(text)


def share(text: str) -> float:
    """A number from 0 to 1 (a score, a threshold)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def name_list(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """A parser of comma-separated names, each one of ``choices``."""
    def parse(text: str) -> list[str]:
        names = [v for v in text.split(",") if v]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}; got {text!r}")
        return names
    return parse


# ----------------------------------------------------------------------------------------- option groups


def add_device_arg(p: argparse.ArgumentParser | argparse._ArgumentGroup, what: str,
                   default: str = "a CUDA GPU if there is one, else the CPU") -> None:
    """``--device cpu|cuda|cuda:N|N``; ``what`` says what runs there."""
    p.add_argument("--device", metavar="DEVICE", help=f"cpu, cuda, cuda:N or N: where {what} (default: {default})")


def add_pose_model_args(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--pose-model", metavar="NAME|FILE",
                   help="pose model: a name from `posetrack models`, or an official / MMPose HRNet checkpoint "
                        "(default: hrnet_w32_posetrack18_256x192, fetched once)")
    p.add_argument("--pose-config", metavar="CONFIG", help="for a checkpoint file: w32 or w48 (default: read from "
                                                          "its weights)")
    p.add_argument("--pose-input", type=input_hxw, metavar="HxW",
                   help="for a checkpoint file: its input, height x width (default: from the file name, else 256x192)")
    p.add_argument("--pose-layout", choices=("coco17", "posetrack17"),
                   help="for a checkpoint file: its joints (default: posetrack17 if the name says posetrack, else "
                        "coco17)")


def add_detector_args(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--detector", metavar="NAME|FILE",
                   help="person detector: a name from `posetrack models`, or an ONNX export (YOLOv8/11, YOLOv5/v7, "
                        "raw YOLOX, MMDeploy RTMDet/YOLOX, post-NMS: the layout is read from its outputs) "
                        "(default: rtmdet_nano_person, fetched once)")
    p.add_argument("--detector-preprocess", metavar="NAME|JSON",
                   help="for an ONNX file: ultralytics (RGB/255, centred letterbox), yolox (raw BGR), rtmdet (BGR, "
                        "mean/std), imagenet, or a JSON object (default: a sidecar FILE.json or pipeline.json beside "
                        "it, else what its output layout's family uses; what the file is taken to be is said at "
                        "start-up)")
    p.add_argument("--detector-class", type=nonnegative, metavar="N",
                   help="the class index of person in the detector's output (default: 0, person in COCO exports)")
    p.add_argument("--conf", type=share, metavar="SCORE", help="detector score floor (default: the model's)")
    p.add_argument("--iou", type=share, metavar="IOU", help="detector NMS overlap (default: the model's)")
    p.add_argument("--imgsz", type=input_hxw, metavar="HxW|N",
                   help="detector input, height x width or one side (default: the model's)")


def add_run_args(p: argparse.ArgumentParser, default_out: Path) -> None:
    """Everything a tracking run takes (``run``, ``demo``); every default None, so that a ``--config`` file's
    settings stand unless a flag is given."""
    from posetrack.options import BACKENDS, PRECISIONS

    p.add_argument("--out", type=folder, default=default_out, help=f"output folder (default: {default_out}/)")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="options from a JSON or TOML file (sections detector, pose, tracker, output, runtime); "
                        "flags given as well override it")
    models = p.add_argument_group("models")
    add_pose_model_args(models)
    add_detector_args(models)
    models.add_argument("--detections", type=Path, metavar="FILE",
                        help="precomputed boxes instead of a detector: COCO detection results, image_id = frame index")
    runtime = p.add_argument_group("runtime")
    runtime.add_argument("--backend", choices=BACKENDS,
                         help="auto (default: TensorRT where it runs, else PyTorch on a CUDA GPU, else ONNX Runtime), "
                              "torch, ort, trt")
    runtime.add_argument("--precision", choices=PRECISIONS,
                         help="fp32 (default), fp16, bf16 (PyTorch), int8 (calibrated Q/DQ models)")
    runtime.add_argument("--detector-precision", choices=PRECISIONS, help="the detector's own (default: --precision)")
    add_device_arg(runtime, "the networks run")
    runtime.add_argument("--detect-every", type=positive(int), metavar="K",
                         help="run the detector on every K-th frame and follow people by their poses in between "
                              "(default: 1, every frame)")
    runtime.add_argument("--flip-test", action="store_true", default=None,
                         help="average with mirrored crops (slower, more accurate)")
    runtime.add_argument("--max-persons", type=positive(int), help="poses per frame at most (default: 50)")
    runtime.add_argument("--torch-compile", action="store_true", default=None,
                         help="torch.compile the pose network (--backend torch; compiling takes a minute, then faster)")
    runtime.add_argument("--sequential", action="store_true", default=None,
                         help="run the stages one after another (for comparison)")
    out = p.add_argument_group("outputs")
    out.add_argument("--keypoint-threshold", "--keep-score", dest="keypoint_threshold", type=share, metavar="SCORE",
                     help="keypoints scoring below this are not written or drawn (default: 0.3)")
    out.add_argument("--no-video", dest="video", action="store_false", default=None,
                     help="do not write the annotated video")
    out.add_argument("--coco", action="store_true", default=None,
                     help="also write OUT/<stem>.coco.json (COCO keypoint results)")
    out.add_argument("--show", action="store_true", default=None,
                     help="display the annotated frames (needs a display; q stops)")
    out.add_argument("--draw-boxes", action="store_true", default=None,
                     help="also draw each person's box in the video and the window")
    out.add_argument("--trail", type=nonnegative, metavar="N",
                     help="draw each track's path over its last N frames (default: 0, none)")
    out.add_argument("--line-width", type=positive(int), metavar="PX",
                     help="skeleton line width in pixels (default: 2 per 360 pixels of the frame's shorter side)")
    out.add_argument("--stream-json", metavar="PATH|-",
                     help="one JSON line per frame (track ids, boxes, keypoints, latency) to PATH or stdout (-), "
                          "flushed as written, for another program to read")
    out.add_argument("--json", type=Path, metavar="FILE",
                     help="also write the run summary (FPS, stage FPS, latency percentiles, drops) as JSON")
    live = p.add_argument_group("live sources (camera index, rtsp://, rtmp://, http(s)://, tcp://, udp://, srt://)")
    live.add_argument("--buffer", choices=("latest", "all"),
                      help="latest: work on the newest frame and drop the ones the pipeline cannot keep up with "
                           "(the default for live sources: latency stays bounded); all: drop nothing (files)")
    live.add_argument("--reconnect", type=nonnegative, metavar="N",
                      help="reopen a stream that breaks off up to N times, waiting 0.5, 1, 2, 4, 8 s (default: 0)")


# (options section, field, argparse dest) of every flag that sets an option
_FLAGS = (
    ("pose", "model", "pose_model"), ("pose", "config", "pose_config"), ("pose", "input_size", "pose_input"),
    ("pose", "layout", "pose_layout"), ("pose", "precision", "precision"), ("pose", "flip_test", "flip_test"),
    ("pose", "max_persons", "max_persons"),
    ("detector", "model", "detector"), ("detector", "preprocess", "detector_preprocess"),
    ("detector", "person_class", "detector_class"), ("detector", "conf", "conf"),
    ("detector", "iou", "iou"), ("detector", "imgsz", "imgsz"), ("detector", "detections", "detections"),
    ("detector", "precision", "precision"), ("detector", "precision", "detector_precision"),
    ("detector", "every", "detect_every"),
    ("runtime", "backend", "backend"), ("runtime", "device", "device"), ("runtime", "torch_compile", "torch_compile"),
    ("runtime", "sequential", "sequential"),
    ("output", "keypoint_threshold", "keypoint_threshold"), ("output", "video", "video"), ("output", "coco", "coco"),
    ("output", "show", "show"), ("output", "stream_json", "stream_json"), ("output", "draw_boxes", "draw_boxes"),
    ("output", "trail", "trail"), ("output", "line_width", "line_width"),
    ("runtime", "buffer", "buffer"), ("runtime", "reconnect", "reconnect"),
)


def options_from_args(args: argparse.Namespace, base: Any = None) -> Any:
    """The options record of the parsed flags: ``base`` (default: the defaults), then ``--config FILE``, then every
    flag given (later entries of ``_FLAGS`` win: ``--detector-precision`` over ``--precision``)."""
    from posetrack.options import Options

    options = base if base is not None else Options()
    if getattr(args, "config", None) is not None:
        options = Options.from_file(args.config, options)
    changes: dict[str, dict[str, Any]] = {}
    for section, name, dest in _FLAGS:
        value = getattr(args, dest, None)
        if value is not None:
            changes.setdefault(section, {})[name] = str(value) if name == "model" else value
    return options.updated(changes, "options")


def pose_options_record(args: argparse.Namespace) -> Any:
    """The pose model record a command's ``--pose-model`` (and its companions) name; default the run's default."""
    from posetrack.assemble import pose_record

    return pose_record(options_from_args(args).pose)
