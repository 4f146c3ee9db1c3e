"""Every setting of a run, each default and each rule written here once: the detector, the pose model, the keyframe
policy, the tracker (its optical flow and smoothing), the outputs and the runtime. The command line builds the
record from its flags (``cli.args`` generates them, help text included, from the fields below), Python from keywords
(``Options.create(pose="...", device="cuda")``), a file from JSON or TOML (``Options.from_file``, ``posetrack run
--config FILE``), in the spirit of MMPose's inferencer configs::

    # run.toml
    [pose]
    model = "hrnet_w32_coco_256x192"
    precision = "fp16"
    [detector]
    model = "yolox_m_humanart"
    conf = 0.4
    [keyframes]
    every = 3
    [tracker]
    max_age = 30
    [output]
    keypoint_threshold = 0.4

This module is the bottom floor: it imports only ``types`` and ``errors``, and every stage reads its own section
from here (``track`` its ``TrackerConfig``, ``annotate`` its ``DrawStyle``, the pipeline its ``KeyframeOptions``),
so a batch worker, the demo and ``posetrack run`` build the same pipeline from the same record (it is picklable:
workers receive it).

A field's metadata (``setting``) holds its help text and its rule; ``Section.__post_init__`` checks every rule, so
a bad value from a file, a flag or Python is refused with the same one line.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from posetrack.errors import PosetrackError, did_you_mean
from posetrack.types import Size, parse_hxw, parse_position

# What `posetrack run` and `create_pipeline` use when no model is named: MMPose's PoseTrack18 HRNet-W32 (the model
# this project is built around) and RTMDet-nano person (the anchors' real-time detector, 0.31 GFLOPs), fetched on
# first use. `posetrack demo` and the tests use the shipped synthetic-world models, offline.
DEFAULT_POSE = "hrnet_w32_posetrack18_256x192"
DEFAULT_DETECTOR = "rtmdet_nano_person"
DEMO_POSE, DEMO_DETECTOR = "pose_demo", "detector_demo"

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
BACKENDS = ("auto", "torch", "ort", "trt")
SIMILARITY_NAMES = ("pose+motion", "oks", "iou", "motion")  # track.similarity.SIMILARITIES holds one function each
BUFFERS = ("latest", "all")
KEYPOINT_THRESHOLD = 0.3  # poseval counts every keypoint written: the ones below this are left out (and not drawn)
QUEUE_SIZE = 4  # frames in flight between two stages: enough to keep every stage busy


# ------------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Rule:
    """What a value must be: ``ok(value)``, the words for it (``"at least 1"``), and for a choice its choices."""

    ok: Callable[[Any], bool]
    text: str
    choices: tuple[str, ...] | None = None


AT_LEAST_1 = Rule(lambda v: v >= 1, "at least 1")
NOT_NEGATIVE = Rule(lambda v: v >= 0, "0 or more")
POSITIVE = Rule(lambda v: v > 0, "above 0")
SHARE = Rule(lambda v: 0 <= v <= 1, "between 0 and 1")
OVERLAP = Rule(lambda v: 0 < v <= 1, "above 0, at most 1")


POSITION = Rule(lambda v: parse_position(str(v)) is not None, "a frame index (300) or seconds (12.5s)")


def one_of(choices: tuple[str, ...]) -> Rule:
    return Rule(lambda v: v in choices, f"one of {', '.join(choices)}", choices)


def setting(default: Any = dataclasses.MISSING, help: str = "", rule: Rule | None = None,
            default_factory: Callable[[], Any] | Any = dataclasses.MISSING, show_default: str | None = None) -> Any:
    """A field of an options section: its default, its help text (without the default, which ``cli.args`` adds
    from here) and its rule (None is always allowed where the default is None)."""
    metadata = {"help": help, "rule": rule, "show_default": show_default}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


class Section:
    """An options section: a frozen dataclass whose fields are ``setting``s, checked against their rules."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            rule, value = f.metadata.get("rule"), getattr(self, f.name)
            if rule is not None and value is not None and not rule.ok(value):
                raise PosetrackError(f"{section_name(self)}.{f.name} = {value!r}: must be {rule.text}")


def section_name(section: Any) -> str:
    return SECTION_NAMES[type(section)]


# ------------------------------------------------------------------------------------------------ sections


@dataclass(frozen=True)
class DetectorOptions(Section):
    model: str = setting(DEFAULT_DETECTOR, "person detector: a name from `posetrack models`, or an ONNX export "
                         "(YOLOv8/11, YOLOv5/v7, raw YOLOX, MMDeploy RTMDet/YOLOX, post-NMS: read by what it is, "
                         "and said at start-up)")
    detections: Path | None = setting(None, "precomputed boxes instead of a detector: COCO detection results "
                                      "(image_id = frame index) or a MOTChallenge det.txt (1-based frames)")
    conf: float | None = setting(None, "detector score floor", SHARE, show_default="the model's")
    iou: float | None = setting(None, "detector NMS overlap", OVERLAP, show_default="the model's")
    imgsz: Size | None = setting(None, "detector input, height x width or one side", show_default="the model's")
    preprocess: str | None = setting(None, "for an ONNX file: ultralytics (RGB/255, centred letterbox), yolox (raw "
                                     "BGR), rtmdet (BGR, mean/std), imagenet, or a JSON object",
                                     show_default="a sidecar FILE.json or pipeline.json, else its layout's family's")
    person_class: int | None = setting(None, "the class index of person in the detector's output", NOT_NEGATIVE,
                                       show_default="the model's; 0, person in COCO, for a file")
    precision: str = setting("fp32", "the detector's own precision", one_of(PRECISIONS),
                             show_default="--precision")


@dataclass(frozen=True)
class PoseOptions(Section):
    model: str = setting(DEFAULT_POSE, "pose model: a name from `posetrack models`, or an official / MMPose HRNet "
                         "checkpoint")
    config: str | None = setting(None, "for a checkpoint file: w32 or w48", show_default="read from its weights")
    input_size: Size | None = setting(None, "for a checkpoint file: its input, height x width",
                                      show_default="from the file name, else 256x192")
    layout: str | None = setting(None, "joints of a checkpoint file or of --poses: coco17 or posetrack17",
                                 one_of(("coco17", "posetrack17")),
                                 show_default="posetrack17 if a checkpoint's name says posetrack, else coco17")
    poses: Path | None = setting(None, "track poses another model made instead of running a pose model: COCO "
                                 "keypoint results, image_id = frame index (no network is built or fetched)")
    precision: str = setting("fp32", "fp32, fp16, bf16 (PyTorch), int8 (calibrated Q/DQ models)", one_of(PRECISIONS))
    flip_test: bool = setting(False, "average with mirrored crops: as MMPose measured its figures (twice the pose "
                              "network's work)")
    max_persons: int = setting(50, "poses per frame at most (the highest-scoring boxes)", AT_LEAST_1)


@dataclass(frozen=True)
class KeyframeOptions(Section):
    """The keyframe policy (``track.follow``): the detector's schedule, and how people are followed between."""

    every: int = setting(1, "run the detector on frames 0, K, 2K, ... and follow people by their poses in "
                         "between", AT_LEAST_1)
    redetect: bool = setting(True, "also run the detector off schedule when a followed person is lost or turns "
                             "uncertain, at a scene cut, or when nobody is followed; off: a strict schedule")
    recover_score: float | None = setting(0.5, "a pose found at a followed person's box (between keyframes, or for "
                                          "a person the detector missed) is kept when its mean keypoint score "
                                          "reaches this (None: no recovery; K must be 1)", SHARE)
    redetect_below: float = setting(0.5, "a followed pose whose mean keypoint score drops below this re-detects",
                                    SHARE)
    scene_cut: float = setting(50.0, "mean absolute difference (grey levels) of two frames' 32x18 thumbnails "
                               "above which a new shot begins", POSITIVE)
    recover_overlap: float = setting(0.5, "a missed person is looked for only where no posed person's box "
                                     "overlaps theirs this much (IoU)", OVERLAP)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.every > 1 and self.recover_score is None:
            raise PosetrackError("keyframes.every > 1 follows people by their poses: it needs keyframes.recover_score")


@dataclass(frozen=True)
class FlowConfig(Section):
    """Lucas–Kanade settings of the tracker's pose propagation (``track.flow``). Two pyramid levels above the base
    (not three) track the same on the validation clips (seeds 500, 501 of crowd, pan, crossing and hard at 1080p,
    pan at 640x360: identical MOTA and IDF1) for a tenth less tracker time; a smaller window (15) was faster still
    but switched more identities at 640x360 (benchmarks/host-stages)."""

    win_size: int = setting(21, "search window, pixels of the flow image", AT_LEAST_1)
    max_level: int = setting(2, "pyramid levels above the base", NOT_NEGATIVE)
    fb_threshold: float = setting(1.5, "largest forward-backward round-trip error of a trusted point, pixels",
                                  POSITIVE)
    max_side: int | None = setting(960, "the flow runs on the frame scaled so that its longer side is at most this "
                                   "(None: full size; a 1080p frame at half size costs a quarter)", AT_LEAST_1)
    camera: bool = setting(False, "measure the camera's motion on the background and take it out of the tracks' "
                           "box motion (track.camera; off by default: it changed nothing measurable on the synthetic "
                           "pans nor on the real clips, for about 2 ms a frame; the poses follow the flow either "
                           "way)")


@dataclass(frozen=True)
class OneEuroConfig(Section):
    """One-Euro smoothing of output keypoints (Casiez et al., CHI 2012; ``track.smoothing``)."""

    min_cutoff: float = setting(1.5, "cutoff at rest, Hz (lower: smoother, more lag)", POSITIVE)
    beta: float = setting(0.02, "cutoff increase per px/s of speed (higher: less lag when moving)", NOT_NEGATIVE)
    d_cutoff: float = setting(1.0, "cutoff of the speed estimate, Hz", POSITIVE)


@dataclass(frozen=True)
class TrackerConfig(Section):
    """Association settings (``track.tracker``).

    Attributes:
        similarity: a name of ``SIMILARITY_NAMES`` or any function ``(tracks, poses) -> (T, N)``.
        motion_weight: weight of the box IoU in ``"pose+motion"`` where both poses are fully trusted (the OKS has the
            rest; less trusted poses weigh less, ``track.similarity.pose_trust``).
        high_score / low_score: box scores from which a pose may start a track (and is matched in the first pass) /
            may continue one (second pass).
        min_hits: frames in a row a new track is matched in before it is output (tentative until then), unless its
            pose's mean keypoint score reaches ``sure_pose``. low_gate / tentative_gate: least box IoU of a
            second-pass match / of a tentative track's match.
        occluded: a person behind a collapsed pose: ``box`` (output with box and id, no scored joint) or ``hidden``.
        box: the output box: ``smoothed`` (the track's Kalman estimate) or ``detector`` (the pose's own box).
        duplicate_oks: OKS from which two poses of a frame are one collapsed pose (None: no such rule).
        appearance_weight: weight of the colour cue in the first pass, for tracks lost in the previous frame.
        flow: Lucas–Kanade settings for propagating poses, or None to compare poses where they were.
        assignment: ``"hungarian"`` (optimal) or ``"greedy"`` (best pairs first).
        min_similarity: pairs less similar than this are never matched (the gate).
        min_keypoint_score: keypoints below this score are ignored by OKS and by the flow.
        min_shared_keypoints: fewer confident joints in common than this → compare boxes instead.
        max_age: frames a track without a pose waits to be re-identified.
        smoothing: One-Euro filter of the output keypoints, or None.
        fps: frame rate (for smoothing).
    """

    similarity: str | Callable[..., Any] = setting("pose+motion", "pose+motion, oks, iou (boxes only) or motion",
                                                   Rule(lambda v: callable(v) or v in SIMILARITY_NAMES,
                                                        f"one of {', '.join(SIMILARITY_NAMES)}, or a function"))
    motion_weight: float = setting(0.3, "weight of the box IoU in pose+motion where the poses are fully trusted", SHARE)
    high_score: float = setting(0.7, "box score from which a pose may start a track (and is matched in the first "
                                "pass)", SHARE)
    low_score: float = setting(0.3, "box score from which a pose may continue a track (second pass)", SHARE)
    min_hits: int = setting(2, "frames in a row a new track must be matched in before it is output (tentative "
                            "until then; 1: at once)", AT_LEAST_1)
    sure_pose: float | None = setting(0.8, "a new track whose pose's mean keypoint score reaches this is output at "
                                      "once (None: only after min_hits)", SHARE)
    low_gate: float = setting(0.5, "least box IoU of a low-score match", SHARE)
    box: str = setting("smoothed", "the box output with a tracked pose: smoothed (its track's Kalman estimate) or "
                       "detector (the box the pose was estimated in)", one_of(("smoothed", "detector")))
    tentative_gate: float = setting(0.3, "least box IoU of a tentative track's match", SHARE)
    duplicate_oks: float | None = setting(0.95, "OKS from which two poses of a frame are one collapsed pose", SHARE)
    occluded: str = setting("box", "a person behind a collapsed pose: box (kept with their box and id, their joints "
                            "unscored) or hidden (left out)", one_of(("box", "hidden")))
    appearance_weight: float = setting(0.45, "weight of the colour cue for tracks lost in the previous frame", SHARE)
    flow: FlowConfig | None = setting(default_factory=FlowConfig)
    assignment: Literal["hungarian", "greedy"] = setting("hungarian", "hungarian (optimal) or greedy",
                                                         one_of(("hungarian", "greedy")))
    min_similarity: float = setting(0.2, "pairs less similar than this are never matched", SHARE)
    min_keypoint_score: float = setting(0.3, "keypoints below this are ignored by OKS and the flow", SHARE)
    min_shared_keypoints: int = setting(4, "fewer confident joints in common than this: compare boxes", AT_LEAST_1)
    max_age: int = setting(30, "frames a track without a pose waits to be re-identified", NOT_NEGATIVE)
    smoothing: OneEuroConfig | None = setting(None, "One-Euro smoothing of the output keypoints")
    fps: float = setting(25.0, "frame rate, for smoothing", POSITIVE)

    @classmethod
    def oks_only(cls) -> TrackerConfig:
        """Flow-propagated OKS alone, every pose tracked: no motion cue, score passes, collapsed-pose rule or
        colours (the baseline the other cues are measured against)."""
        return cls(similarity="oks", high_score=0.0, low_score=0.0, duplicate_oks=None, appearance_weight=0.0)


@dataclass(frozen=True)
class DrawStyle:
    """What an annotated frame shows (``annotate.draw_poses``; ``posetrack run --draw-boxes --trail N --line-width``).

    Attributes:
        keypoint_threshold: joints scoring below it are not drawn.
        boxes: each person's box, in its track's colour. ids: each track's id above its box.
        trail: frames of each track's path (the middle of its box's bottom edge, where it stands) drawn behind it.
        line_width: skeleton lines in pixels (None: 2 per 360 pixels of the frame's shorter side).
    """

    keypoint_threshold: float = KEYPOINT_THRESHOLD
    boxes: bool = False
    ids: bool = True
    trail: int = 0
    line_width: int | None = None


@dataclass(frozen=True)
class OutputOptions(Section):
    keypoint_threshold: float = setting(KEYPOINT_THRESHOLD, "keypoints scoring below this are not written or drawn",
                                        SHARE)
    video: bool = setting(True, "write the annotated video OUT/<stem>.mp4")
    coco: bool = setting(False, "also write OUT/<stem>.coco.json (COCO keypoint results)")
    show: bool = setting(False, "display the annotated frames in a window (q stops)")
    stream_json: str | None = setting(None, "one JSON line per frame (track ids, boxes, keypoints, latency) to PATH "
                                      "or stdout (-), flushed as written, for another program to read")
    mot: str | None = setting(None, "also write MOTChallenge text (frame,id,x,y,w,h,score,-1,-1,-1; frames and ids "
                              "from 1) to PATH (a .txt file), or to PATH/<stem>.txt for a folder (the layout "
                              "`posetrack eval --mot` and TrackEval read)")
    csv: str | None = setting(None, "also write a table, a row per person per frame per joint (frame, time, file, "
                              "track_id, joint, x, y, score, box; schemas/poses-csv.tableschema.json) to PATH (a "
                              ".csv file), or to PATH/<stem>.csv for a folder")
    draw_boxes: bool = setting(False, "also draw each person's box in the video and the window")
    trail: int = setting(0, "draw each track's path over its last N frames", NOT_NEGATIVE)
    line_width: int | None = setting(None, "skeleton line width in pixels", AT_LEAST_1,
                                     show_default="2 per 360 pixels of the frame's shorter side")

    def style(self) -> DrawStyle:
        """How the annotated frames are drawn."""
        return DrawStyle(self.keypoint_threshold, self.draw_boxes, True, self.trail, self.line_width)


@dataclass(frozen=True)
class RuntimeOptions(Section):
    backend: str = setting("auto", "auto (TensorRT where it runs, else PyTorch on a CUDA GPU, else ONNX Runtime), "
                           "torch, ort, trt", one_of(BACKENDS))
    device: str | None = setting(None, "cpu, cuda, cuda:N or N: where the networks run",
                                 show_default="a CUDA GPU if there is one, else the CPU")
    cores: int | None = setting(None, "CPU cores the networks may use", AT_LEAST_1, show_default="all")
    sequential: bool = setting(False, "run the stages one after another (for comparison)")
    torch_compile: bool = setting(False, "torch.compile the pose network (--backend torch; compiling takes a "
                                  "minute, then faster)")
    queue_size: int | None = setting(None, "frames in flight between two stages", AT_LEAST_1,
                                     show_default="1 for a source read newest-frame-only, else 4")
    buffer: str | None = setting(None, "latest: work on the newest frame and drop the ones the pipeline cannot keep "
                                 "up with (latency stays bounded); all: drop nothing", one_of(BUFFERS),
                                 show_default="latest for cameras and streams, all for files")
    reconnect: int = setting(0, "reopen a stream that breaks off up to N times, waiting 0.5, 1, 2, 4, 8 s",
                             NOT_NEGATIVE)
    start: str | None = setting(None, "first frame to track: a frame index (300) or seconds (12.5s); outputs keep "
                                "the source's frame numbers", POSITION, show_default="the first")
    end: str | None = setting(None, "stop before this frame: a frame index or seconds (20s)", POSITION,
                              show_default="the last")
    stride: int = setting(1, "track every Nth frame from the start", AT_LEAST_1)

    def __post_init__(self) -> None:
        super().__post_init__()
        start, end = parse_position(str(self.start or "")), parse_position(str(self.end or ""))
        if start and end and start[1] == end[1] and end[0] <= start[0]:  # in frames and seconds: at opening
            raise PosetrackError(f"runtime.end = {self.end!r} is not after runtime.start = {self.start!r}")


SECTIONS: dict[str, type] = {"detector": DetectorOptions, "pose": PoseOptions, "keyframes": KeyframeOptions,
                             "tracker": TrackerConfig, "output": OutputOptions, "runtime": RuntimeOptions}
SECTION_NAMES: dict[type, str] = {cls: name for name, cls in SECTIONS.items()} | {FlowConfig: "tracker.flow",
                                                                                  OneEuroConfig: "tracker.smoothing"}
_NESTED: dict[str, type] = {"flow": FlowConfig, "smoothing": OneEuroConfig}
_MOVED = {("detector", "every"): "keyframes.every", ("pose", "recover_score"): "keyframes.recover_score"}


@dataclass(frozen=True)
class Options:
    """Every setting of a run (see the module docstring)."""

    detector: DetectorOptions = field(default_factory=DetectorOptions)
    pose: PoseOptions = field(default_factory=PoseOptions)
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)
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
        networks) and any field as ``section__field=value`` (``detector__conf=0.5``, ``keyframes__every=3``)."""
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
        out: dict[str, Any] = {}
        for section, values in changes.items():
            if section not in SECTIONS:
                raise PosetrackError(f"{where}: unknown section {section!r}{did_you_mean(section, SECTIONS)}; use "
                                     f"{', '.join(SECTIONS)}")
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
            raise PosetrackError(f"{path}: expected sections ({', '.join(SECTIONS)})")
        return (base or cls()).updated(doc, str(path))

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-able values (callables and paths as text)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


def queue_size(runtime: RuntimeOptions, buffer: str) -> int:
    """Frames in flight between two stages for a source read with ``buffer``: ``runtime.queue_size``, else 1 when
    reading newest frames only (latency stays bounded only if few frames wait), else ``QUEUE_SIZE``."""
    if runtime.queue_size is not None:
        return runtime.queue_size
    return 1 if buffer == "latest" else QUEUE_SIZE


def convert(cls: type, name: str, value: Any, where: str) -> Any:
    """A value as a file or flag gives it (text) → the field's type: a size from ``HxW`` text, a path from text, a
    nested section from a table."""
    if name in _NESTED and isinstance(value, Mapping):
        return _updated(_NESTED[name](), value, f"{where}.{name}")
    kind = str(next(f.type for f in fields(cls) if f.name == name))
    if isinstance(value, str) and kind.startswith("Size"):
        size = parse_hxw(value)
        if size is None:
            raise PosetrackError(f"{where}.{name}: {value!r} is not HEIGHTxWIDTH (such as 256x192)")
        return size
    if isinstance(value, str) and kind.startswith("Path"):
        return Path(value)
    return value


def _updated(record: Any, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name for f in fields(record)}
    changes: dict[str, Any] = {}
    for name, value in values.items():
        moved = _MOVED.get((where.rsplit(": ", 1)[-1], name))
        if moved:
            raise PosetrackError(f"{where}.{name}: moved to {moved}")
        if name not in known:
            raise PosetrackError(f"{where}.{name}: unknown setting{did_you_mean(name, known)}; known: "
                                 f"{', '.join(sorted(known))}")
        changes[name] = convert(type(record), name, value, where)
    try:
        return replace(record, **changes)
    except (TypeError, ValueError) as exc:
        raise PosetrackError(f"{where}: {exc}") from None
