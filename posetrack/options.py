"""One record of every setting of a run, each default written here once: the detector, the pose model, the
tracker, the outputs and the runtime. The command line builds it from its flags, Python from keywords
(``Options.create(pose="...", device="cuda")``), a file from JSON or TOML (``Options.from_file``, ``posetrack run
--config FILE``), in the spirit of MMPose's inferencer configs::

    # run.toml
    [pose]
    model = "hrnet_w32_coco_256x192"
    precision = "fp16"
    [detector]
    model = "yolox_m_humanart"
    conf = 0.4
    every = 3
    [tracker]
    max_age = 30
    [output]
    keypoint_threshold = 0.4

Every stage reads its own part, so a batch worker, the demo and ``posetrack run`` build the same pipeline from the
same record (it is picklable: workers receive it).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from posetrack.annotate import DrawStyle
from posetrack.backends.select import BACKENDS, PRECISIONS
from posetrack.errors import PosetrackError
from posetrack.io.posetrack_json import KEYPOINT_THRESHOLD
from posetrack.pipeline import MAX_PERSONS, QUEUE_SIZE, RECOVER_SCORE
from posetrack.track import FlowConfig, OneEuroConfig, TrackerConfig
from posetrack.types import Size

# What `posetrack run` and `create_pipeline` use when no model is named: MMPose's PoseTrack18 HRNet-W32 (the model
# this project is built around) and RTMDet-nano person (the anchors' real-time detector, 0.31 GFLOPs), fetched on
# first use. `posetrack demo` and the tests use the shipped synthetic-world models (DEMO_MODELS), offline.
DEFAULT_POSE = "hrnet_w32_posetrack18_256x192"
DEFAULT_DETECTOR = "rtmdet_nano_person"
DEMO_POSE, DEMO_DETECTOR = "pose_demo", "detector_demo"
__all__ = ["BACKENDS", "DEFAULT_DETECTOR", "DEFAULT_POSE", "PRECISIONS", "DetectorOptions", "Options", "OutputOptions",
           "PoseOptions", "RuntimeOptions"]


@dataclass(frozen=True)
class DetectorOptions:
    """Attributes:
        model: a registered detector (``posetrack models``) or an ONNX file.
        detections: precomputed boxes (COCO detection results, ``image_id`` = frame index) instead of a network.
        conf / iou: score floor and NMS overlap (None: the model's).
        imgsz: network input (None: the model's; a fixed-size export takes its own only).
        preprocess: a user's ONNX: preprocessing name or JSON (None: its sidecar, else what its layout implies).
        person_class: the class index of "person" (None: the model's; 0 for a user's COCO export).
        precision: ``fp32``, ``fp16``, ``bf16`` or ``int8``.
        every: run the detector on every K-th frame (keyframes) and follow people by their poses in between.
    """

    model: str = DEFAULT_DETECTOR
    detections: Path | None = None
    conf: float | None = None
    iou: float | None = None
    imgsz: Size | None = None
    preprocess: str | None = None
    person_class: int | None = None
    precision: str = "fp32"
    every: int = 1

    def __post_init__(self) -> None:
        _check(self, precision=self.precision in PRECISIONS, every=self.every >= 1,
               person_class=self.person_class is None or self.person_class >= 0,
               conf=self.conf is None or 0 <= self.conf <= 1, iou=self.iou is None or 0 < self.iou <= 1)


@dataclass(frozen=True)
class PoseOptions:
    """Attributes:
        model: a registered pose model or a checkpoint file.
        config / input_size / layout: for a checkpoint file: HRNet config (None: read from the weights), input
            (None: from the file name, else 256x192), joints ``coco17`` / ``posetrack17`` (None: from the name).
        precision: ``fp32``, ``fp16``, ``bf16`` or ``int8``.
        flip_test: average with mirrored crops. max_persons: poses per frame at most.
        recover_score: a person tracked last frame whom no box covers now is looked for at a box made from their
            pose, and kept when the mean keypoint score there reaches this (None: never).
    """

    model: str = DEFAULT_POSE
    config: str | None = None
    input_size: Size | None = None
    layout: str | None = None
    precision: str = "fp32"
    flip_test: bool = False
    max_persons: int = MAX_PERSONS
    recover_score: float | None = RECOVER_SCORE

    def __post_init__(self) -> None:
        _check(self, precision=self.precision in PRECISIONS, max_persons=self.max_persons >= 1,
               recover_score=self.recover_score is None or 0 <= self.recover_score <= 1,
               layout=self.layout in (None, "coco17", "posetrack17"))


@dataclass(frozen=True)
class OutputOptions:
    """Attributes:
        keypoint_threshold: keypoints scoring below it are not written or drawn.
        video / coco / show: the annotated MP4, the COCO keypoints JSON, a display window.
        stream_json: one JSON line per frame to this file, or ``-`` for stdout (``sinks.JsonLinesSink``).
        draw_boxes / trail / line_width: what the video and the window draw besides skeletons and ids
            (``annotate.DrawStyle``).
    """

    keypoint_threshold: float = KEYPOINT_THRESHOLD
    video: bool = True
    coco: bool = False
    show: bool = False
    stream_json: str | None = None
    draw_boxes: bool = False
    trail: int = 0
    line_width: int | None = None

    def __post_init__(self) -> None:
        _check(self, keypoint_threshold=0 <= self.keypoint_threshold <= 1, trail=self.trail >= 0,
               line_width=self.line_width is None or self.line_width >= 1)

    def style(self) -> DrawStyle:
        """How the annotated frames are drawn."""
        return DrawStyle(self.keypoint_threshold, self.draw_boxes, True, self.trail, self.line_width)


@dataclass(frozen=True)
class RuntimeOptions:
    """Attributes:
        backend: ``auto``, ``torch``, ``ort``, ``trt`` (``backends.select``). device: ``cpu``, ``cuda``, ``cuda:N``, N
            (None: a CUDA GPU if there is one). cores: CPU cores the networks may use (None: all).
        sequential: run the stages one after another instead of overlapped. torch_compile: ``torch.compile`` the
            pose network (the PyTorch backend). queue_size: frames in flight between two stages (None: 4, and 1
            for a source read with ``buffer="latest"``, whose latency stays bounded only if few frames wait; see
            ``queues``).
        buffer: ``latest`` (keep only the newest frame; the default for cameras and streams) or ``all`` (drop
            nothing; the default for files). reconnect: reopen a live source that breaks off up to this many times.
    """

    backend: str = "auto"
    device: str | None = None
    cores: int | None = None
    sequential: bool = False
    torch_compile: bool = False
    queue_size: int | None = None
    buffer: str | None = None
    reconnect: int = 0

    def __post_init__(self) -> None:
        _check(self, backend=self.backend in BACKENDS, queue_size=self.queue_size is None or self.queue_size >= 1,
               cores=self.cores is None or self.cores >= 1, buffer=self.buffer in (None, "latest", "all"),
               reconnect=self.reconnect >= 0)


    def queues(self) -> int:
        """Frames in flight between two stages: ``queue_size``, else 1 when reading newest frames only (``buffer``
        latest, as ``VideoReader`` resolved it for the source), else 4."""
        if self.queue_size is not None:
            return self.queue_size
        return 1 if self.buffer == "latest" else QUEUE_SIZE


_RULES = {"precision": f"one of {', '.join(PRECISIONS)}", "backend": f"one of {', '.join(BACKENDS)}",
          "every": "at least 1",
          "person_class": "0 or more", "conf": "between 0 and 1", "iou": "above 0, at most 1", "max_persons": "at least 1",
          "recover_score": "between 0 and 1, or None", "layout": "coco17 or posetrack17",
          "keypoint_threshold": "between 0 and 1", "queue_size": "at least 1", "cores": "at least 1",
          "buffer": "latest or all", "reconnect": "0 or more", "trail": "0 or more", "line_width": "at least 1"}


def _check(section: Any, **ok: bool) -> None:
    """Refuse a value outside its range, naming the section, the field and the rule (one line, for files too)."""
    for name, fine in ok.items():
        if not fine:
            where = type(section).__name__.removesuffix("Options").lower()
            raise PosetrackError(f"{where}.{name} = {getattr(section, name)!r}: must be {_RULES[name]}")


@dataclass(frozen=True)
class Options:
    """Every setting of a run (see the module docstring)."""

    detector: DetectorOptions = field(default_factory=DetectorOptions)
    pose: PoseOptions = field(default_factory=PoseOptions)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    output: OutputOptions = field(default_factory=OutputOptions)
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)

    @classmethod
    def demo(cls, **changes: Any) -> Options:
        """The shipped synthetic-world models (offline), with ``replaced``'s keywords."""
        return cls().replaced(DEMO_POSE, DEMO_DETECTOR, **changes)

    @classmethod
    def create(cls, pose: str | None = None, detector: str | None = None, device: str | None = None,
               precision: str | None = None, **changes: Any) -> Options:
        """The defaults with ``replaced``'s changes."""
        return cls().replaced(pose, detector, device, precision, **changes)

    def replaced(self, pose: str | None = None, detector: str | None = None, device: str | None = None,
                 precision: str | None = None, **changes: Any) -> Options:
        """These options with ``pose`` / ``detector`` (model names or files), ``device``, ``precision`` (both
        networks) and any field as ``section__field=value`` (``detector__conf=0.5``, ``tracker__max_age=30``)."""
        nested: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            section, sep, name = key.partition("__")
            if not sep:
                raise PosetrackError(f"option {key!r}: write it as section__field, e.g. detector__conf")
            nested.setdefault(section, {})[name] = value
        for section, name, value in (("pose", "model", pose), ("detector", "model", detector),
                                     ("runtime", "device", device), ("pose", "precision", precision),
                                     ("detector", "precision", precision)):
            if value is not None:
                nested.setdefault(section, {})[name] = value
        return self.updated(nested)

    def updated(self, changes: Mapping[str, Mapping[str, Any]], where: str = "options") -> Options:
        """These options with ``{section: {field: value}}`` changed (values as JSON or TOML give them)."""
        sections = {f.name: f for f in fields(self)}
        out: dict[str, Any] = {}
        for section, values in changes.items():
            if section not in sections:
                raise PosetrackError(f"{where}: unknown section {section!r}; use {', '.join(sections)}")
            if not isinstance(values, Mapping):
                raise PosetrackError(f"{where}: [{section}] must be a table of settings")
            out[section] = _updated(getattr(self, section), values, f"{where}: {section}")
        return replace(self, **out)

    @classmethod
    def from_file(cls, path: str | Path, base: Options | None = None) -> Options:
        """Options from a JSON or TOML file (``.toml``), over ``base`` (default: the defaults)."""
        path = Path(path)
        try:
            text = path.read_text()
            if path.suffix.lower() == ".toml":
                import tomllib

                doc = tomllib.loads(text)
            else:
                doc = json.loads(text)
        except FileNotFoundError:
            raise PosetrackError(f"{path}: no such options file") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
            raise PosetrackError(f"{path}: not a readable options file ({exc})") from None
        if not isinstance(doc, dict):
            raise PosetrackError(f"{path}: expected sections (detector, pose, tracker, output, runtime)")
        return (base or cls()).updated(doc, str(path))

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-able values (callables and paths as text)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


_NESTED = {"flow": FlowConfig, "smoothing": OneEuroConfig}


def _updated(record: Any, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(record)}
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise PosetrackError(f"{where}.{name}: unknown setting; known: {', '.join(known)}")
        if name in _NESTED and isinstance(value, Mapping):
            value = _updated(_NESTED[name](), value, f"{where}.{name}")
        elif name in ("imgsz", "input_size") and isinstance(value, str):
            try:
                h, w = (int(v) for v in value.lower().split("x"))
            except ValueError:
                raise PosetrackError(f"{where}.{name}: {value!r} is not HEIGHTxWIDTH") from None
            value = Size(w, h)
        elif name == "detections" and isinstance(value, str):
            value = Path(value)
        changes[name] = value
    try:
        return replace(record, **changes)
    except (TypeError, ValueError) as exc:
        raise PosetrackError(f"{where}: {exc}") from None
