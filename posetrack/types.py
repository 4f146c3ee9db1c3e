"""The values that flow between pipeline stages.

Frame ──> Detections ──> Poses ──> TrackedPoses, and ``FrameResult`` (all of one frame) for the sinks. Arrays
are numpy; shapes and units are in each field.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple, TypeVar

import numpy as np

from posetrack.skeleton import Skeleton


class Size(NamedTuple):
    """An image or network input size in pixels, by name: ``Size(width=192, height=256)``. It is a (width, height)
    tuple, so code that unpacks ``w, h = size`` reads it; written as text it is ``HxW`` for network inputs (as in
    checkpoint names, ``256x192``) and ``WxH`` for frames (``640x360``)."""

    width: int
    height: int

    @property
    def hxw(self) -> str:
        return f"{self.height}x{self.width}"

    @property
    def wxh(self) -> str:
        return f"{self.width}x{self.height}"


def parse_hxw(text: str) -> Size | None:
    """A network input written height x width (``256x192``, as in checkpoint names), or one number for a square
    (``640``, as Ultralytics' ``imgsz``); None if the text is neither (the caller says where and why)."""
    text = text.strip().lower()
    pair = _two_ints(f"{text}x{text}" if text.isdigit() else text)
    return Size(pair[1], pair[0]) if pair else None


def parse_wxh(text: str) -> Size | None:
    """A frame size written width x height (``640x360``, as video sizes are written); None if it is not one."""
    pair = _two_ints(text.strip().lower())
    return Size(*pair) if pair else None


def _two_ints(text: str) -> tuple[int, int] | None:
    parts = text.split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def parse_position(text: str) -> tuple[float, str] | None:
    """A position in a source written as a frame index (``300``) or seconds with an ``s`` suffix (``12.5s``):
    (value, ``"frame"`` or ``"s"``); None if the text is neither."""
    text = text.strip().lower()
    try:
        if text.endswith("s"):
            seconds = float(text[:-1])
            return (seconds, "s") if seconds >= 0 and math.isfinite(seconds) else None
        return (float(int(text)), "frame") if int(text) >= 0 else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Span:
    """The frames of a source a run takes: from ``start`` up to (not including) ``end`` (None: to the end), every
    ``stride``-th. Frame indices are the source's."""

    start: int = 0
    end: int | None = None
    stride: int = 1

    @classmethod
    def of(cls, start: str | None, end: str | None, stride: int, fps: float) -> Span:
        """The span of ``--start``/``--end`` texts (``parse_position``; seconds at ``fps``)."""
        return cls(frame_at(str(start), fps) if start else 0, frame_at(str(end), fps) if end else None, stride)

    def __contains__(self, index: int) -> bool:
        return self.start <= index and (self.end is None or index < self.end) and (index - self.start) % self.stride == 0

    def past(self, index: int) -> bool:
        """Whether no frame from ``index`` on is in the span."""
        return self.end is not None and index >= self.end

    def count(self, frames: int | None) -> int | None:
        """How many of a source's ``frames`` (None: unknown) are in the span."""
        if frames is None:
            return None
        stop = frames if self.end is None else min(frames, self.end)
        return max(0, -(-(stop - self.start) // self.stride))

    @property
    def everything(self) -> bool:
        return self == Span()


def frame_at(text: str, fps: float) -> int:
    """The first frame at a ``parse_position`` text: the index itself, or the first frame at or after that many
    seconds at ``fps`` (frame i is at i / fps)."""
    value, unit = parse_position(text) or (0.0, "frame")
    return int(value) if unit == "frame" else math.ceil(value * fps - 1e-9)


T = TypeVar("T")


class DeviceCopies:
    """A frame's copies on devices, each made once, by the first stage that asks, and shared with the later ones;
    safe to use from several stage threads (a second asker waits for the first's copy instead of making its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._copies: dict[str, Any] = {}

    def get_or_make(self, key: str, make: Callable[[], T]) -> T:
        """The copy under ``key`` (e.g. ``"cuda:0"``), made by ``make()`` if there is none yet."""
        with self._lock:
            if key not in self._copies:
                self._copies[key] = make()
            return self._copies[key]

    def __len__(self) -> int:
        return len(self._copies)

    def keys(self) -> list[str]:
        """The devices a copy was made for."""
        with self._lock:
            return list(self._copies)


@dataclass(frozen=True)
class Frame:
    """One decoded video frame.

    Attributes:
        index: 0-based frame number in the source.
        timestamp: seconds from the start of the source (the container's time stamp where it has one).
        image: (H, W, 3) uint8, BGR.
        captured: ``time.monotonic()`` when the frame was read (latency is measured from it).
        on_device: the image's copies on devices (``device.frames.frame_on_device``); empty on a CPU run.
        file: the image file the frame was read from (an image folder's, by name), None for a video.
    """

    index: int
    timestamp: float
    image: np.ndarray
    captured: float = field(default_factory=time.monotonic, compare=False)
    on_device: DeviceCopies = field(default_factory=DeviceCopies, compare=False, repr=False)
    file: str | None = None


@dataclass
class Detections:
    """Person boxes of one frame.

    Attributes:
        boxes: (N, 4) float32, x1, y1, x2, y2 in image pixels.
        scores: (N,) float32 detection confidence in [0, 1].
    """

    boxes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.scores) != len(self.boxes):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


@dataclass
class Poses:
    """Keypoints of the persons of one frame.

    Attributes:
        keypoints: (N, K, 2) float32, x/y in image pixels.
        scores: (N, K) float32 keypoint confidence (heatmap peak value).
        boxes: (N, 4) float32, the person boxes the poses were estimated in (x1, y1, x2, y2).
        box_scores: (N,) float32 detection confidence of those boxes.
        skeleton: the joint layout of axis K.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray
    skeleton: Skeleton

    def __len__(self) -> int:
        return len(self.keypoints)

    def take(self, rows: np.ndarray) -> Poses:
        """The poses selected by ``rows`` (indices or a boolean mask), same type."""
        return replace(self, **{f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "skeleton"})


P = TypeVar("P", bound="Poses")


def concat_poses(a: P, b: P) -> P:
    """The poses of ``a`` followed by those of ``b`` (same type and skeleton)."""
    arrays: dict[str, Any] = {f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)])
                              for f in fields(a) if f.name != "skeleton"}
    return replace(a, **arrays)


@dataclass
class TrackedPoses(Poses):
    """Poses with identities.

    Attributes:
        track_ids: (N,) int64 identity of each pose, stable over frames.
    """

    track_ids: np.ndarray


@dataclass
class FrameResult:
    """One frame through the pipeline, as sinks receive it.

    Attributes:
        frame: the decoded frame. detections: its person boxes (empty where the detector did not run).
        poses: the tracked poses. fps: end-to-end frames per second of the run when this frame came out.
        keyframe: whether the detector ran on this frame (``Pipeline.detect_every``).
        latency: seconds from the frame's capture (``Frame.captured``) to its result.
    """

    frame: Frame
    detections: Detections
    poses: TrackedPoses
    fps: float = 0.0
    keyframe: bool = True
    latency: float = 0.0
