"""Assembling a runnable pipeline from user options: which models (shipped demo models, a user's HRNet
checkpoint, a user's YOLO ONNX), which backend (torch, ONNX Runtime; TensorRT where installed), and where the
exported ONNX files are cached.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

from posetrack.backends import Backend, OrtBackend, TorchBackend, default_providers
from posetrack.detect import YoloDetector
from posetrack.errors import PosetrackError
from posetrack.export import export_onnx
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.detector import PersonDetector, YoloLayout
from posetrack.models.hrnet import hrnet
from posetrack.pose import TopDownConfig, TopDownEstimator
from posetrack.skeleton import COCO17, POSETRACK17, Skeleton

WEIGHTS = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class PoseModel:
    """An HRNet to run: named config, weights file, input (width, height), joint layout."""

    config: str
    weights: Path
    input_size: tuple[int, int]
    skeleton: Skeleton


DEMO_POSE = PoseModel("demo", WEIGHTS / "pose_demo.pth", (96, 128), POSETRACK17)
DEMO_DETECTOR_WEIGHTS = WEIGHTS / "detector_demo.pth"
DEMO_DETECTOR_INPUT = (320, 192)


def engine_dir() -> Path:
    """Where exported / built engines are cached: $POSETRACK_ENGINES, else the repository's ``engines/``, else
    ``~/.cache/posetrack/engines``."""
    if os.environ.get("POSETRACK_ENGINES"):
        return Path(os.environ["POSETRACK_ENGINES"])
    repo = Path(__file__).resolve().parent.parent / "engines"
    return repo if repo.is_dir() and os.access(repo, os.W_OK) else Path.home() / ".cache" / "posetrack" / "engines"


def file_digest(*parts: Path | str, length: int = 12) -> str:
    """Short SHA-256 over files' bytes and strings (cache keys)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(Path(part).read_bytes() if isinstance(part, Path) else part.encode())
    return h.hexdigest()[:length]


def cached_onnx(model: torch.nn.Module, name: str, key: str, input_size: tuple[int, int], output_name: str,
                atol: float = 1e-4) -> Path:
    """The ONNX export of ``model``, made once per ``key`` (weights + config digest) and reused; ``atol`` is the
    export's parity bar."""
    path = engine_dir() / f"{name}-{key}.onnx"
    if path.is_file():
        try:
            onnx.checker.check_model(str(path))
            return path
        except onnx.checker.ValidationError:
            path.unlink()  # a damaged cache entry is rebuilt, never used
    return export_onnx(model, path, input_size, output_name=output_name, atol=atol).path


def make_backend(kind: str, model: torch.nn.Module, name: str, key: str, input_size: tuple[int, int],
                 output_name: str, threads: int | None = None, atol: float = 1e-4) -> Backend:
    """A backend for ``model``: ``torch``, ``ort``, ``trt`` or ``auto`` (best available: ONNX Runtime here)."""
    if kind == "torch":
        return TorchBackend(model, output_names=(output_name,))
    if kind == "trt":
        raise PosetrackError("--backend trt: TensorRT is not installed on this machine; use ort or torch")
    if kind not in ("ort", "auto"):
        raise PosetrackError(f"unknown backend {kind!r}; use auto, torch, ort or trt")
    return OrtBackend(cached_onnx(model, name, key, input_size, output_name, atol), default_providers(), threads)


def load_pose(spec: PoseModel) -> torch.nn.Module:
    """The HRNet of ``spec`` with its weights (float16 files load as float32)."""
    if not spec.weights.is_file():
        raise PosetrackError(f"{spec.weights}: pose weights not found")
    return load_checkpoint(hrnet(spec.config, spec.skeleton.num_joints), spec.weights).eval()


def build_estimator(spec: PoseModel, backend: str = "auto", threads: int | None = None,
                    flip_test: bool = False) -> TopDownEstimator:
    model = load_pose(spec)
    w, h = spec.input_size
    key = file_digest(spec.weights, f"{spec.config}:{w}x{h}:{spec.skeleton.name}")
    return TopDownEstimator(make_backend(backend, model, f"pose_{spec.config}_{h}x{w}", key, spec.input_size,
                                         "heatmaps", threads),
                            config=TopDownConfig(input_size=spec.input_size, skeleton=spec.skeleton, refine="dark",
                                                 flip_test=flip_test))


def build_detector(onnx_path: Path | None = None, backend: str = "auto", threads: int | None = None,
                   conf_threshold: float = 0.3) -> YoloDetector:
    """The shipped detector, or a user's YOLO-layout ONNX (Ultralytics export: RGB / 255 input, class 0 person)."""
    if onnx_path is not None:
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise PosetrackError(f"{onnx_path}: detector ONNX not found")
        runner = OrtBackend(onnx_path, default_providers(), threads)
        shape = runner.session.get_inputs()[0].shape
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
            raise PosetrackError(f"{onnx_path}: expected a fixed (N, 3, H, W) input, got {shape}")
        return YoloDetector(runner, (shape[3], shape[2]), conf_threshold, normalise="unit")
    if not DEMO_DETECTOR_WEIGHTS.is_file():
        raise PosetrackError(f"{DEMO_DETECTOR_WEIGHTS}: detector weights not found")
    net = PersonDetector()
    net.load_state_dict({k: v.float() for k, v in torch.load(DEMO_DETECTOR_WEIGHTS, weights_only=True).items()})
    wrapped = YoloLayout(net.eval()).eval()
    w, h = DEMO_DETECTOR_INPUT
    key = file_digest(DEMO_DETECTOR_WEIGHTS, f"detector:{w}x{h}")
    # outputs are box coordinates in input pixels (up to hundreds): parity within 1e-3 px
    return YoloDetector(make_backend(backend, wrapped, f"detector_demo_{h}x{w}", key, DEMO_DETECTOR_INPUT, "output",
                                     threads, atol=1e-3), DEMO_DETECTOR_INPUT, conf_threshold)


def user_pose_model(config: str, weights: Path, input_size: tuple[int, int]) -> PoseModel:
    """An official / MMPose COCO checkpoint the user supplies (COCO-17 layout)."""
    return PoseModel(config, Path(weights), input_size, COCO17)
