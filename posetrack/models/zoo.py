"""Model records: what a model *is*, in one frozen record per model, as timm's pretrained configs do.

A record holds the architecture config, the weights source, the input size, the normalisation and fill, the joint
layout, the output tensor's name, the calibration folder and set size, and the default thresholds. Everything
downstream reads the record: file stems (``stem``), cache keys (``compile.cache.model_key`` digests ``key_source``
and ``description``), the preprocessing description calibration caches are keyed by (``preprocessing()``), the
estimator's and detector's settings, the export's parity bar. The shipped models are ``DEMO_POSE`` and
``DEMO_DETECTOR``; a user's checkpoint or ONNX file becomes a record through ``user_pose`` / ``user_detector``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch

from posetrack.errors import PosetrackError
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.detector import PersonDetector, YoloLayout
from posetrack.models.hrnet import hrnet
from posetrack.skeleton import COCO17, POSETRACK17, Skeleton
from posetrack.transforms import MEAN_RGB, STD_RGB

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"

Normalise = Literal["imagenet", "unit"]


class ModelRecord(Protocol):
    """What the compile chain reads of any record (pose or detector); its cache key is
    ``compile.cache.model_key(record)``, a digest of ``key_source`` and ``description``."""

    @property
    def stem(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def key_source(self) -> Path | str: ...
    @property
    def calib_folder(self) -> str: ...
    @property
    def calib_count(self) -> int: ...
    @property
    def output_name(self) -> str: ...
    def preprocessing(self) -> dict: ...


@dataclass(frozen=True)
class PoseRecord:
    """A top-down HRNet.

    Attributes:
        config: HRNet configuration name (``models.hrnet.CONFIGS``).
        weights: checkpoint file (any format ``load_checkpoint`` reads); None: the architecture with random
            weights (seed 0), for speed measurements.
        input_size: network input (width, height).
        skeleton: joint layout of the output channels.
        padding: box enlargement before cropping (official 1.25).
        refine: heatmap decoding, ``"dark"`` or ``"argmax"``.
        output_name: the network's output tensor.
        calib_name: folder under ``calib/`` (default: from the stem).
        calib_count: default calibration set size (person crops).
    """

    config: str
    weights: Path | None
    input_size: tuple[int, int]
    skeleton: Skeleton
    padding: float = 1.25
    refine: Literal["dark", "argmax"] = "dark"
    output_name: str = "heatmaps"
    calib_name: str | None = None
    calib_count: int = 128

    @property
    def description(self) -> str:
        w, h = self.input_size
        return f"{self.config}:{w}x{h}:{self.skeleton.name}"

    @property
    def stem(self) -> str:
        """File stem of its exports, e.g. ``pose_demo_192x128`` (``_random`` for random weights)."""
        w, h = self.input_size
        return f"pose_{self.config}_{h}x{w}" + ("_random" if self.weights is None else "")

    @property
    def key_source(self) -> Path | str:
        """What the weights are: the file, or for random ones the seed and the torch version that drew them."""
        return self.weights if self.weights is not None else f"random seed 0, torch {torch.__version__}"

    @property
    def calib_folder(self) -> str:
        return self.calib_name or self.stem.replace("_", "-")

    def preprocessing(self) -> dict:
        """Everything that decides the network input of a crop (calibration caches are keyed by it)."""
        return {"kind": "topdown-crop", "input_size": list(self.input_size), "padding": self.padding,
                "mean_rgb": MEAN_RGB.tolist(), "std_rgb": STD_RGB.tolist(), "channels": "rgb"}


@dataclass(frozen=True)
class DetectorRecord:
    """A person detector whose (exported) network has the YOLO output layout [N, 4 + classes, candidates].

    Attributes:
        name: model name (file stems start with it).
        input_size: network input (width, height).
        weights: PyTorch weights of the shipped detector architecture, or None for a user's ONNX file.
        onnx: a user's exported ONNX file (run as it is, FP32), or None.
        normalise: ``"imagenet"`` (the shipped detector) or ``"unit"`` (Ultralytics: RGB / 255).
        fill: letterbox padding value.
        output_name: the network's output tensor.
        conf_threshold / iou_threshold: score floor and NMS overlap.
        calib_name / calib_count: folder under ``calib/`` and default calibration set size (frames).
        export_atol: parity bar of its ONNX export (outputs are pixel coordinates).
    """

    name: str
    input_size: tuple[int, int]
    weights: Path | None = None
    onnx: Path | None = None
    normalise: Normalise = "imagenet"
    fill: int = 114
    output_name: str = "output"
    conf_threshold: float = 0.3
    iou_threshold: float = 0.5
    calib_name: str | None = None
    calib_count: int = 256
    export_atol: float = 0.1

    @property
    def description(self) -> str:
        w, h = self.input_size
        return f"detector:{w}x{h}"

    @property
    def stem(self) -> str:
        w, h = self.input_size
        return f"{self.name}_{h}x{w}"

    @property
    def key_source(self) -> Path | str:
        source = self.onnx if self.onnx is not None else self.weights
        if source is None:
            raise PosetrackError(f"detector {self.name}: neither weights nor an ONNX file")
        return source

    @property
    def calib_folder(self) -> str:
        return self.calib_name or self.name.replace("_", "-")

    def preprocessing(self) -> dict:
        return {"kind": "letterbox", "input_size": list(self.input_size), "normalise": self.normalise,
                "fill": self.fill}


DEMO_POSE = PoseRecord("demo", WEIGHTS / "pose_demo.pth", (128, 192), POSETRACK17, calib_name="pose-demo",
                       calib_count=512)
DEMO_DETECTOR = DetectorRecord(
    "detector_demo", (448, 256), WEIGHTS / "detector_demo.pth",  # 640x360 frames letterbox to 448x252
    # Tuned on the 150-frame validation clips (crossing 90001, crowd 90002): MOTA 73.3 at 0.3, 75.7 at 0.5,
    # 77.1 at 0.6, 77.3 at 0.7, 75.1 at 0.8.
    conf_threshold=0.7,
    # Outputs are box coordinates in input pixels (up to hundreds): parity within a tenth of a pixel. PyTorch's own
    # first call in a long process (bench, after the pose model's sections) was up to 0.0136 px off a float64
    # reference in some runs (4 of 29 bench runs, most test-suite runs), its later calls 0.0004 px, so a bar of
    # 1e-3 px failed at random.
    export_atol=0.1,
)


def user_pose(config: str, weights: Path | None, input_size: tuple[int, int]) -> PoseRecord:
    """An official / MMPose COCO checkpoint the user supplies (COCO-17 layout); no weights: random ones."""
    return PoseRecord(config, None if weights is None else Path(weights), input_size, COCO17)


def user_detector(onnx: Path, input_size: tuple[int, int]) -> DetectorRecord:
    """A user's YOLO-layout ONNX (Ultralytics export: RGB / 255 input, class 0 person), threshold 0.3."""
    return DetectorRecord(Path(onnx).stem, input_size, onnx=Path(onnx), normalise="unit")


def load_pose(record: PoseRecord) -> torch.nn.Module:
    """The HRNet of ``record`` with its weights (float16 files load as float32), in eval mode."""
    if record.weights is None:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return hrnet(record.config, record.skeleton.num_joints).eval()
    if not record.weights.is_file():
        raise PosetrackError(f"{record.weights}: pose weights not found")
    return load_checkpoint(hrnet(record.config, record.skeleton.num_joints), record.weights).eval()


def load_detector(record: DetectorRecord) -> torch.nn.Module:
    """The shipped detector architecture with ``record``'s weights, wrapped in its YOLO-layout output."""
    if record.weights is None or not record.weights.is_file():
        raise PosetrackError(f"{record.weights}: detector weights not found")
    net = PersonDetector()
    net.load_state_dict({k: v.float() for k, v in torch.load(record.weights, weights_only=True).items()})
    return YoloLayout(net.eval()).eval()
