"""The values that flow between pipeline stages.

Frame ──> Detections ──> Poses ──> TrackedPoses, and ``FrameResult`` (all of one frame) for the sinks. Arrays
are numpy; shapes and units are in each field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

import numpy as np

from posetrack.skeleton import Skeleton


@dataclass(frozen=True)
class Frame:
    """One decoded video frame.

    Attributes:
        index: 0-based frame number in the source.
        timestamp: seconds from the start of the source.
        image: (H, W, 3) uint8, BGR.
        on_device: the same image uploaded by the first stage that needed it on a device, by device (a
            ``device.streams.Handoff`` on CUDA, a tensor otherwise), for the later stages; empty on a CPU run.
    """

    index: int
    timestamp: float
    image: np.ndarray
    on_device: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


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
        frame: the decoded frame. detections: its person boxes. poses: the tracked poses.
        fps: end-to-end frames per second of the run when this frame came out (for overlays).
    """

    frame: Frame
    detections: Detections
    poses: TrackedPoses
    fps: float = 0.0
