"""The ``posetrack`` argument parser: one sub-command per job, registered by the module of its command group."""

from __future__ import annotations

import argparse

from posetrack.cli import bench, compile, data, track, train


def build_parser() -> argparse.ArgumentParser:
    """The parser; its command modules import torch and friends while registering (inside ``main``'s Ctrl-C
    handling, not when the CLI module loads)."""
    parser = argparse.ArgumentParser(
        prog="posetrack",
        description="Real-time multi-person pose tracking with HRNet: PyTorch models, ONNX / TensorRT engines.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    track.register(sub)
    compile.register(sub)
    bench.register(sub)
    data.register_synth(sub)
    data.register_eval(sub)
    train.register(sub)
    return parser
