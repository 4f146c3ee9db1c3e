"""PoseTrack-style identities: propagate each track's pose into the current frame with optical flow, compare
it with the new poses by OKS (box IoU where a pose has too few confident joints), and assign optimally.

Track lifecycle: a pose no track claims starts a new track; a track that finds no pose is kept, moving with
the camera and its own velocity, for up to ``max_age`` frames, so it can be re-identified after an occlusion;
then it ends. Identities are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from posetrack.track.flow import FlowConfig, propagate, to_gray
from posetrack.track.oks import box_areas, box_iou, oks
from posetrack.track.smoothing import OneEuroConfig, OneEuroSmoother
from posetrack.types import Poses, TrackedPoses


@dataclass(frozen=True)
class TrackerConfig:
    """Association settings.

    Attributes:
        similarity: ``"oks"`` (pose similarity, IoU fallback) or ``"iou"`` (boxes only).
        flow: Lucas–Kanade settings for propagating poses, or None to compare poses where they were.
        assignment: ``"hungarian"`` (optimal) or ``"greedy"`` (best pairs first).
        min_similarity: pairs less similar than this are never matched (the gate).
        min_keypoint_score: keypoints below this score are ignored by OKS and by the flow.
        min_shared_keypoints: fewer confident joints in common than this → compare boxes instead.
        max_age: frames a track without a pose waits to be re-identified.
        smoothing: One-Euro filter of the output keypoints, or None.
        fps: frame rate (for smoothing).
    """

    similarity: Literal["oks", "iou"] = "oks"
    flow: FlowConfig | None = field(default_factory=FlowConfig)
    assignment: Literal["hungarian", "greedy"] = "hungarian"
    min_similarity: float = 0.2
    min_keypoint_score: float = 0.3
    min_shared_keypoints: int = 4
    max_age: int = 15
    smoothing: OneEuroConfig | None = None
    fps: float = 25.0


@dataclass
class _Tracks:
    """All tracks as arrays (T tracks, K joints)."""

    ids: np.ndarray  # (T,) int64
    keypoints: np.ndarray  # (T, K, 2) float32, last matched pose moved along to the current frame
    scores: np.ndarray  # (T, K) float32
    boxes: np.ndarray  # (T, 4) float32
    age: np.ndarray  # (T,) frames since the last match
    velocity: np.ndarray  # (T, 2) own motion of the box centre, px/frame, camera motion removed
    anchor: np.ndarray  # (T, 2) box centre at the last match
    camera: np.ndarray  # (T, 2) camera motion accumulated since the last match

    @classmethod
    def new(cls, ids: np.ndarray, poses: Poses, rows: np.ndarray) -> _Tracks:
        boxes = poses.boxes[rows].astype(np.float32)
        zeros = np.zeros((len(rows), 2), np.float32)
        return cls(ids, poses.keypoints[rows].astype(np.float32), poses.scores[rows].astype(np.float32), boxes,
                   np.zeros(len(rows), np.int64), zeros, 0.5 * (boxes[:, :2] + boxes[:, 2:]), zeros.copy())

    def take(self, keep: np.ndarray) -> _Tracks:
        return _Tracks(*(getattr(self, f)[keep] for f in _FIELDS))

    def __len__(self) -> int:
        return len(self.ids)


def assign(similarity: np.ndarray, gate: float, method: str = "hungarian") -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the matched pairs, each at least ``gate`` similar.

    ``hungarian`` maximises the total similarity; ``greedy`` takes the most similar remaining pair first.
    """
    if similarity.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    allowed = similarity >= gate
    if method == "greedy":
        order = np.argsort(-similarity, axis=None, kind="stable")
        rows, cols, used_r, used_c = [], [], set(), set()
        for r, c in zip(*np.unravel_index(order, similarity.shape)):
            if allowed[r, c] and r not in used_r and c not in used_c:
                rows.append(r), cols.append(c), used_r.add(r), used_c.add(c)
        return np.array(rows, int), np.array(cols, int)
    if method != "hungarian":
        raise ValueError(f"unknown assignment {method!r}; use 'hungarian' or 'greedy'")
    rows, cols = linear_sum_assignment(np.where(allowed, -similarity, 1e6))
    keep = allowed[rows, cols]
    return rows[keep], cols[keep]


class PoseTracker:
    """Give the poses of consecutive frames stable identities.

    Args:
        config: ``TrackerConfig``.
    """

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self._tracks: _Tracks | None = None
        self._prev_gray: np.ndarray | None = None
        self._next_id = 0
        self._smoother = OneEuroSmoother(self.config.smoothing, self.config.fps) if self.config.smoothing else None

    def update(self, poses: Poses, image: np.ndarray | None = None) -> TrackedPoses:
        """Associate this frame's poses with the tracks.

        Args:
            poses: the frame's poses (keypoints (N, K, 2) image pixels, scores (N, K), boxes (N, 4)).
            image: the frame (H, W, 3) BGR, for optical flow; without it poses are compared unmoved.
        Returns:
            ``TrackedPoses``: the same poses (smoothed if configured) with their ``track_ids`` (N,).
        """
        cfg = self.config
        tracks = self._tracks if self._tracks is not None else _Tracks.new(np.zeros(0, np.int64), poses, np.zeros(0, int))
        gray = to_gray(image) if (image is not None and cfg.flow is not None) else None
        self._predict(tracks, gray)
        similarity = self.similarity(tracks, poses)
        rows, cols = assign(similarity, cfg.min_similarity, cfg.assignment)

        ids = np.full(len(poses), -1, np.int64)
        ids[cols] = tracks.ids[rows]
        tracks.age += 1
        self._absorb(tracks, rows, poses, cols)
        born = np.flatnonzero(ids < 0)
        ids[born] = np.arange(self._next_id, self._next_id + len(born))
        self._next_id += len(born)
        tracks = tracks.take(tracks.age <= cfg.max_age)
        self._tracks = _concat(tracks, _Tracks.new(ids[born], poses, born))
        self._prev_gray = gray

        keypoints = poses.keypoints
        if self._smoother is not None:
            keypoints = np.array([self._smoother(int(i), kp) for i, kp in zip(ids, poses.keypoints)],
                                 np.float32).reshape(poses.keypoints.shape)
            self._smoother.forget(set(self._tracks.ids.tolist()))
        return TrackedPoses(keypoints, poses.scores, poses.boxes, poses.box_scores, poses.skeleton, ids)

    def missing(self) -> tuple[np.ndarray, np.ndarray]:
        """Tracks that had a pose in the previous frame but none in this one (call after ``update``): their ids
        (M,) int64 and boxes (M, 4) float32, moved into the current frame with their flow."""
        t = self._tracks
        if t is None:
            return np.zeros(0, np.int64), np.zeros((0, 4), np.float32)
        rows = np.flatnonzero(t.age == 1)
        return t.ids[rows], t.boxes[rows].copy()

    def reclaim(self, ids: np.ndarray, poses: Poses) -> TrackedPoses:
        """Give the ``missing`` tracks ``ids`` the poses found at their boxes in this frame (a re-detection the
        detector missed), as if they had matched. Returns those poses with their track ids."""
        t = self._tracks
        row_of = {int(i): r for r, i in enumerate(t.ids)}
        self._absorb(t, np.array([row_of[int(i)] for i in ids], int), poses, np.arange(len(ids)))
        return TrackedPoses(poses.keypoints, poses.scores, poses.boxes, poses.box_scores, poses.skeleton,
                            np.asarray(ids, np.int64))

    def similarity(self, tracks: _Tracks, poses: Poses) -> np.ndarray:
        """(T, N) similarity of the (propagated) tracks with the new poses."""
        cfg = self.config
        iou = box_iou(tracks.boxes, poses.boxes.astype(np.float32))
        if cfg.similarity == "iou" or len(tracks) == 0 or len(poses) == 0:
            return iou
        valid = (tracks.scores[:, None] >= cfg.min_keypoint_score) & (poses.scores[None] >= cfg.min_keypoint_score)
        areas = 0.5 * (box_areas(tracks.boxes)[:, None] + box_areas(poses.boxes)[None, :])
        sim, shared = oks(tracks.keypoints, poses.keypoints, poses.skeleton.sigmas, areas, valid)
        return np.where(shared >= cfg.min_shared_keypoints, sim, iou)

    @staticmethod
    def _absorb(tracks: _Tracks, rows: np.ndarray, poses: Poses, cols: np.ndarray) -> None:
        """Tracks ``rows`` take poses ``cols`` (keypoints, scores, box), update their own velocity, and are
        seen this frame (age 0)."""
        centres = 0.5 * (poses.boxes[cols, :2] + poses.boxes[cols, 2:])
        gap = tracks.age[rows][:, None] + 1
        own = (centres - tracks.anchor[rows] - tracks.camera[rows]) / gap
        tracks.velocity[rows] = 0.5 * tracks.velocity[rows] + 0.5 * own
        tracks.anchor[rows], tracks.camera[rows] = centres, 0.0
        tracks.keypoints[rows] = poses.keypoints[cols]
        tracks.scores[rows] = poses.scores[cols]
        tracks.boxes[rows] = poses.boxes[cols]
        tracks.age[rows] = 0

    def _predict(self, tracks: _Tracks, gray: np.ndarray | None) -> None:
        """Move every track into the current frame: flow for the tracks seen last frame, camera motion plus
        their own velocity for the lost ones."""
        if gray is None or self._prev_gray is None or len(tracks) == 0 or gray.shape != self._prev_gray.shape:
            return
        live = tracks.age == 0
        use = (tracks.scores >= self.config.min_keypoint_score) & live[:, None]
        moved, camera = propagate(self._prev_gray, gray, tracks.keypoints, use, self.config.flow)
        shift = np.where(live[:, None], (moved - tracks.keypoints).mean(1), camera + tracks.velocity)
        tracks.camera += camera
        tracks.keypoints[live] = moved[live]
        tracks.keypoints[~live] += shift[~live][:, None, :]
        tracks.boxes += np.tile(shift, 2)

    def reset(self) -> None:
        """Forget all tracks (a new video)."""
        self.__init__(self.config)


_FIELDS = ("ids", "keypoints", "scores", "boxes", "age", "velocity", "anchor", "camera")


def _concat(a: _Tracks, b: _Tracks) -> _Tracks:
    return _Tracks(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in _FIELDS))
