"""Argument types and the option groups several commands share. Choice lists come from the modules that own them.

Model input sizes are written as in checkpoint names, height x width (``256x192``); video frame sizes as width x
height (``640x360``); both parse to (width, height).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def _two_ints(text: str, form: str) -> tuple[int, int]:
    """'AxB' → (A, B); ``form`` names the expected order in the error, e.g. 'HEIGHTxWIDTH such as 256x192'."""
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}") from None
    return a, b


def size_hw(text: str) -> tuple[int, int]:
    """'256x192' (height x width, as in checkpoint names) → (width, height)."""
    h, w = _two_ints(text, "HEIGHTxWIDTH such as 256x192")
    if h % 32 or w % 32 or h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"HRNet input sides must be positive multiples of 32, got {text!r}")
    return w, h


def folder(text: str) -> Path:
    """An output folder: absent (created when written) or an existing folder, not a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    return path


def hxw(size_wh: tuple[int, int]) -> str:
    """(width, height) → "HxW", the form model input sizes are written in."""
    return f"{size_wh[1]}x{size_wh[0]}"


def size_wh(text: str) -> tuple[int, int]:
    """'640x360' (width x height, as video sizes are written) → (width, height)."""
    w, h = _two_ints(text, "WIDTHxHEIGHT such as 640x360")
    if not (64 <= w <= 7680 and 64 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"frame size {text!r} outside 64x64 .. 7680x4320")
    return w, h


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


def add_pose_args(p: argparse.ArgumentParser) -> None:
    from posetrack.models.hrnet import CONFIGS

    p.add_argument("--pose-weights", type=Path, help="official / MMPose COCO HRNet checkpoint instead of the demo model")
    p.add_argument("--pose-config", default="w32", choices=sorted(CONFIGS), help="config of --pose-weights (default: w32)")
    p.add_argument("--pose-input", type=size_hw, default=(192, 256), metavar="HxW",
                   help="input of --pose-weights, height x width (default: 256x192)")


def pose_record(args: argparse.Namespace):
    """The pose model record the options name: ``--pose-weights`` (with its config and input), else the demo model."""
    from posetrack.models.zoo import DEMO_POSE, user_pose

    return user_pose(args.pose_config, args.pose_weights, args.pose_input) if args.pose_weights else DEMO_POSE


def add_which_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=["pose", "detector"], required=True,
                   help="pose: the demo HRNet, or --pose-weights; detector: the shipped detector")
    add_pose_args(p)


def add_model_args(p: argparse.ArgumentParser) -> None:
    from posetrack.models.hrnet import CONFIGS

    p.add_argument("--config", default="w32", choices=sorted(CONFIGS), help="HRNet configuration (default: w32)")
    p.add_argument("--weights", type=Path, help="official or MMPose checkpoint (.pth); default: random init")
    p.add_argument("--input-size", type=size_hw, default=(192, 256), metavar="HxW",
                   help="network input, height x width as in checkpoint names (default: 256x192)")
    p.add_argument("--joints", type=int, default=17, help="heatmap channels (default: 17)")


def add_device_arg(p: argparse.ArgumentParser, what: str,
                   default: str = "a CUDA GPU if there is one, else the CPU") -> None:
    """``--device cpu|cuda|cuda:N``; ``what`` says what runs there."""
    p.add_argument("--device", metavar="DEVICE", help=f"cpu, cuda or cuda:N: where {what} (default: {default})")
