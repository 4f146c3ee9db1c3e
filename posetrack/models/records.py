"""Model records: what a model *is*, one frozen record per model, as timm's pretrained configs are.

A record holds the architecture and its config, where the weights come from (shipped, downloaded, or a user's
file) with their checksum, the input size, the joint layout, the preprocessing (channel order, mean / std,
letterbox placement and fill), the output layout, the calibration folder and set size, the default thresholds, the
page that documents the model and the accuracy its source reports. Everything downstream reads the record: file
stems (``stem``), cache keys (``compile.cache.model_key`` digests ``key_source`` and ``description``), the
preprocessing calibration caches are keyed by (``preprocessing()``), the estimator's and detector's settings, the
export's parity bar. The registry (``models.registry``) names the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Protocol

import torch

from posetrack.models.hub import Remote, local_path
from posetrack.models.layouts import LAYOUTS
from posetrack.skeleton import Skeleton
from posetrack.transforms import IMAGENET, Preprocess
from posetrack.types import Size

Weights = Path | Remote | None  # a local file, a file to fetch, or nothing (random weights / not a torch model)


class ModelRecord(Protocol):
    """What the compile chain reads of any record (pose or detector); its cache key is
    ``compile.cache.model_key(record)``, a digest of ``key_source`` and ``description``."""

    @property
    def name(self) -> str: ...
    @property
    def task(self) -> str: ...
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
    @property
    def input_size(self) -> Size: ...
    @property
    def export_atol(self) -> float: ...
    @property
    def synthetic_calibration(self) -> bool: ...
    def preprocessing(self) -> dict: ...


def weights_path(weights: Weights) -> Path | None:
    """The local file of ``weights`` (a Remote's place in the cache, fetched or not)."""
    return local_path(weights) if isinstance(weights, Remote) else weights


def _stem(name: str, size: Size) -> str:
    suffix = f"_{size.hxw}"
    return name if name.endswith(suffix) else name + suffix


@dataclass(frozen=True)
class PoseRecord:
    """A top-down HRNet.

    Attributes:
        name: registry name (``hrnet_w32_posetrack18_256x192``); file stems start with it.
        config: HRNet configuration (``models.hrnet.CONFIGS``).
        input_size: network input.
        skeleton: joint layout of the output channels (COCO-17, or PoseTrack-17 for PoseTrack-trained models).
        weights: the checkpoint (any format ``load_checkpoint`` reads): shipped, to fetch, or None for random
            weights (seed 0, speed measurements).
        preprocess: pixel normalisation of the crops (HRNet: RGB, ImageNet statistics).
        padding: box enlargement before cropping (official 1.25).
        refine: heatmap decoding, ``"dark"`` or ``"argmax"``.
        output_name: the network's output tensor. export_atol: parity bar of its ONNX export (heatmap values).
        calib_name / calib_count: folder under ``calib/`` (default: from the stem) and calibration set size (crops).
        synthetic_calibration: the synthetic world is representative of its inputs (models trained on it); a real
            model is calibrated on real frames only.
        page / reported: the page documenting the model, and the accuracy it reports there.
        aliases: other names the registry finds it by.
    """

    task: ClassVar[str] = "pose"
    name: str
    config: str
    input_size: Size
    skeleton: Skeleton
    weights: Weights
    preprocess: Preprocess = IMAGENET
    padding: float = 1.25
    refine: Literal["dark", "argmax"] = "dark"
    output_name: str = "heatmaps"
    export_atol: float = 1e-4
    calib_name: str | None = None
    calib_count: int = 128
    synthetic_calibration: bool = False
    page: str = ""
    reported: str = ""
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", Size(*self.input_size))

    @property
    def description(self) -> str:
        w, h = self.input_size
        return f"{self.config}:{w}x{h}:{self.skeleton.name}"

    @property
    def stem(self) -> str:
        """File stem of its exports, e.g. ``pose_demo_192x128`` (``_random`` for random weights)."""
        return _stem(self.name, self.input_size) + ("_random" if self.weights is None else "")

    @property
    def source(self) -> Weights:
        """Where its model file comes from (the checkpoint)."""
        return self.weights

    @property
    def weights_file(self) -> Path | None:
        return weights_path(self.weights)

    @property
    def key_source(self) -> Path | str:
        """What the weights are: the file, or for random ones the seed and the torch version that drew them."""
        path = self.weights_file
        return path if path is not None else f"random seed 0, torch {torch.__version__}"

    @property
    def calib_folder(self) -> str:
        return self.calib_name or self.stem.replace("_", "-")

    def preprocessing(self) -> dict:
        """Everything that decides the network input of a crop (calibration caches are keyed by it)."""
        p = self.preprocess
        return {"kind": "topdown-crop", "input_size": list(self.input_size), "padding": self.padding,
                "mean_rgb": list(p.mean), "std_rgb": list(p.std), "channels": p.channels}


@dataclass(frozen=True)
class DetectorRecord:
    """A person detector: the shipped architecture with its weights, or an exported ONNX network of any common
    layout (``models.layouts``: Ultralytics YOLOv8/11, YOLOv5/v7, raw YOLOX, MMDeploy end2end, post-NMS; ``auto``
    reads it from the network's outputs when it first runs).

    Attributes:
        name: registry name; file stems start with it.
        input_size: network input.
        weights: PyTorch weights of the shipped detector architecture (None for an ONNX model).
        onnx: an exported network (a user's file, or one to fetch), run as it is; None for the shipped one.
        preprocess: channel order, normalisation and letterbox of the frames.
        layout: its output layout, or ``"auto"``.
        person_class: the class index of "person".
        conf_threshold / iou_threshold: score floor and NMS overlap.
        batch: the fixed batch of an ONNX network exported with one (None: any batch).
        why: for a user's file, how each setting above was chosen (``(field, reason)`` pairs: "read from its output
            [1, 3549, 85]", "its sidecar", ...), what ``models.user_files.choice_line`` says at start-up.
        calib_name / calib_count: folder under ``calib/`` and calibration set size (frames).
        export_atol: parity bar of its ONNX export (outputs are pixel coordinates).
        synthetic_calibration / page / reported / aliases: as ``PoseRecord``'s.
    """

    task: ClassVar[str] = "detector"
    name: str
    input_size: Size
    weights: Path | None = None
    onnx: Path | Remote | None = None
    preprocess: Preprocess = IMAGENET
    layout: str = "auto"
    person_class: int = 0
    conf_threshold: float = 0.3
    iou_threshold: float = 0.5
    batch: int | None = None
    why: tuple[tuple[str, str], ...] = ()
    output_name: str = "output"
    calib_name: str | None = None
    calib_count: int = 256
    export_atol: float = 0.1
    synthetic_calibration: bool = False
    page: str = ""
    reported: str = ""
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", Size(*self.input_size))
        if self.layout not in LAYOUTS:
            raise ValueError(f"detector {self.name}: layout {self.layout!r}; use one of {', '.join(LAYOUTS)}")

    @property
    def description(self) -> str:
        w, h = self.input_size
        return f"detector:{w}x{h}"

    @property
    def stem(self) -> str:
        return _stem(self.name, self.input_size)

    @property
    def source(self) -> Weights:
        """Where its model file comes from: the ONNX network, else the shipped architecture's weights."""
        return self.onnx if self.onnx is not None else self.weights

    @property
    def onnx_file(self) -> Path | None:
        return weights_path(self.onnx)

    @property
    def key_source(self) -> Path | str:
        source = self.onnx_file or self.weights
        if source is None:
            raise ValueError(f"detector {self.name}: neither weights nor an ONNX file")
        return source

    @property
    def calib_folder(self) -> str:
        return self.calib_name or self.name.replace("_", "-")

    def preprocessing(self) -> dict:
        return {"kind": "letterbox", "input_size": list(self.input_size), **self.preprocess.describe()}


Record = PoseRecord | DetectorRecord
