"""PoseTrack-style identities: propagate each track's pose into the current frame with optical flow, compare
it with the new poses by OKS (box IoU where a pose has too few confident joints), and assign optimally.

Track lifecycle: a pose no track claims starts a new track; a track that finds no pose is kept, moving with
the camera and its own velocity, for up to ``max_age`` frames, so it can be re-identified after an occlusion;
then it ends. Identities are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from posetrack.errors import PosetrackError
from posetrack.track.flow import FlowConfig, propagate, to_gray
from posetrack.track.similarity import SIMILARITIES, Similarity, oks_similarity
from posetrack.track.smoothing import OneEuroConfig, OneEuroSmoother
from posetrack.track.state import Tracks, concat
from posetrack.types import Poses, TrackedPoses


@dataclass(frozen=True)
class TrackerConfig:
    """Association settings.

    Attributes:
        similarity: ``"oks"`` (pose similarity, IoU fallback), ``"iou"`` (boxes only), or any function
            ``(tracks, poses) -> (T, N)`` (see ``track.similarity``).
        flow: Lucas–Kanade settings for propagating poses, or None to compare poses where they were.
        assignment: ``"hungarian"`` (optimal) or ``"greedy"`` (best pairs first).
        min_similarity: pairs less similar than this are never matched (the gate).
        min_keypoint_score: keypoints below this score are ignored by OKS and by the flow.
        min_shared_keypoints: fewer confident joints in common than this → compare boxes instead.
        max_age: frames a track without a pose waits to be re-identified.
        smoothing: One-Euro filter of the output keypoints, or None.
        fps: frame rate (for smoothing).
    """

    similarity: str | Similarity = "oks"
    flow: FlowConfig | None = field(default_factory=FlowConfig)
    assignment: Literal["hungarian", "greedy"] = "hungarian"
    min_similarity: float = 0.2
    min_keypoint_score: float = 0.3
    min_shared_keypoints: int = 4
    max_age: int = 15
    smoothing: OneEuroConfig | None = None
    fps: float = 25.0


def assign(similarity: np.ndarray, gate: float, method: str = "hungarian") -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the matched pairs, each at least ``gate`` similar.

    ``hungarian`` maximises the total similarity; ``greedy`` takes the most similar remaining pair first.
    """
    if similarity.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    allowed = similarity >= gate
    if method == "greedy":
        order = np.argsort(-similarity, axis=None, kind="stable")
        pairs: list[tuple[int, int]] = []
        used_r: set[int] = set()
        used_c: set[int] = set()
        for r, c in zip(*np.unravel_index(order, similarity.shape)):
            if allowed[r, c] and r not in used_r and c not in used_c:
                pairs.append((r, c))
                used_r.add(r)
                used_c.add(c)
        return np.array([r for r, _ in pairs], int), np.array([c for _, c in pairs], int)
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
        self._similarity = _similarity_function(self.config)
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (a new video)."""
        self._tracks: Tracks | None = None
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
        tracks = self._tracks if self._tracks is not None else Tracks.new(np.zeros(0, np.int64), poses, np.zeros(0, int))
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
        self._tracks = concat(tracks, Tracks.new(ids[born], poses, born))
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
        if t is None:
            raise ValueError("reclaim() needs tracks: call update() first")
        row_of = {int(i): r for r, i in enumerate(t.ids)}
        self._absorb(t, np.array([row_of[int(i)] for i in ids], int), poses, np.arange(len(ids)))
        return TrackedPoses(poses.keypoints, poses.scores, poses.boxes, poses.box_scores, poses.skeleton,
                            np.asarray(ids, np.int64))

    def similarity(self, tracks: Tracks, poses: Poses) -> np.ndarray:
        """(T, N) similarity of the (propagated) tracks with the new poses."""
        return self._similarity(tracks, poses)

    @staticmethod
    def _absorb(tracks: Tracks, rows: np.ndarray, poses: Poses, cols: np.ndarray) -> None:
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

    def _predict(self, tracks: Tracks, gray: np.ndarray | None) -> None:
        """Move every track into the current frame: flow for the tracks seen last frame, camera motion plus
        their own velocity for the lost ones."""
        flow = self.config.flow
        if (flow is None or gray is None or self._prev_gray is None or len(tracks) == 0
                or gray.shape != self._prev_gray.shape):
            return
        live = tracks.age == 0
        use = (tracks.scores >= self.config.min_keypoint_score) & live[:, None]
        moved, camera = propagate(self._prev_gray, gray, tracks.keypoints, use, flow)
        shift = np.where(live[:, None], (moved - tracks.keypoints).mean(1), camera + tracks.velocity)
        tracks.camera += camera
        tracks.keypoints[live] = moved[live]
        tracks.keypoints[~live] += shift[~live][:, None, :]
        tracks.boxes += np.tile(shift, 2)


def _similarity_function(cfg: TrackerConfig) -> Similarity:
    """The config's similarity as a ``(tracks, poses)`` function; the named OKS one takes the config's thresholds."""
    if callable(cfg.similarity):
        return cfg.similarity
    if cfg.similarity not in SIMILARITIES:
        raise PosetrackError(f"unknown similarity {cfg.similarity!r}; use {', '.join(SIMILARITIES)} or a function")
    if cfg.similarity == "oks":
        return partial(oks_similarity, min_keypoint_score=cfg.min_keypoint_score,
                       min_shared_keypoints=cfg.min_shared_keypoints)
    return SIMILARITIES[cfg.similarity]
