"""PoseTrack-style identities: propagate each track's pose into the current frame with optical flow, compare it
with the new poses by OKS blended with the IoU of the track's motion-predicted box, and assign optimally.

One frame, in order:
1. predict: every track moves into the frame (optical flow of its pose; camera motion and its own velocity);
2. collapsed poses: two poses of the frame that nearly coincide (OKS >= ``duplicate_oks``: the pose model put an
   occluded person's joints on the person in front) are one person's pose. Each pose of such a group is matched
   by its box's motion alone, since its pose cannot tell the people apart, so the people behind keep their tracks
   (and identities) through their boxes until they step out again; but only the pose of the box reaching lowest
   (the person in front) is output, and the hidden copies never start a track;
3. first pass: tracks vs the confident poses (box score >= ``high_score``) by the config's similarity;
   For the tracks the previous frame did not see, whose position is least sure, the colours people wear
   (``track.appearance``) are blended in: they re-identify someone who walked behind another;
4. second pass: the tracks still unmatched vs the less confident poses (``low_score`` <= score < ``high_score``)
   by motion-box IoU (ByteTrack's idea: a half-occluded person scores low but is still there); a low pose no
   track claims is dropped, never a new track;
5. lifecycle: a confident pose no track claims starts a track; a track that finds no pose is kept, moving with
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
from posetrack.track.appearance import appearance_similarity, colour_signatures
from posetrack.track.flow import FlowConfig, flow_scale, propagate, to_gray
from posetrack.track.oks import confident_oks
from posetrack.track.similarity import SIMILARITIES, Similarity, motion_similarity
from posetrack.track.smoothing import OneEuroConfig, OneEuroSmoother
from posetrack.track.state import Tracks, concat
from posetrack.transforms import pose_boxes
from posetrack.types import Poses, TrackedPoses


@dataclass(frozen=True)
class Proposals:
    """Boxes where the tracks seen last frame should be now (``PoseTracker.proposals``).

    Attributes:
        ids: (M,) int64 track ids. boxes: (M, 4) float32 x1, y1, x2, y2 image pixels. scores: (M,) float32 score of
        the box each track was last matched by.
    """

    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    @classmethod
    def none(cls) -> Proposals:
        return cls(np.zeros(0, np.int64), np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class TrackerConfig:
    """Association settings.

    Attributes:
        similarity: a name of ``track.similarity.SIMILARITIES`` (``"pose+motion"``, ``"oks"``, ``"iou"``,
            ``"motion"``) or any function ``(tracks, poses) -> (T, N)``.
        motion_weight: weight of the motion-box IoU in ``"pose+motion"`` (the pose's OKS has the rest).
        high_score / low_score: box scores from which a pose may start a track / may continue one (second pass).
        low_gate: least motion-box IoU of a second-pass match.
        duplicate_oks: OKS from which two poses of a frame are one collapsed pose (None: no such rule).
        appearance_weight: weight of the colour cue (``track.appearance``) in the first pass, for tracks lost in
            the previous frame (0: off; needs the image).
        flow: Lucas–Kanade settings for propagating poses, or None to compare poses where they were.
        assignment: ``"hungarian"`` (optimal) or ``"greedy"`` (best pairs first).
        min_similarity: pairs less similar than this are never matched (the gate).
        min_keypoint_score: keypoints below this score are ignored by OKS and by the flow.
        min_shared_keypoints: fewer confident joints in common than this → compare boxes instead.
        max_age: frames a track without a pose waits to be re-identified.
        smoothing: One-Euro filter of the output keypoints, or None.
        fps: frame rate (for smoothing).
    """

    similarity: str | Similarity = "pose+motion"
    motion_weight: float = 0.3
    high_score: float = 0.7
    low_score: float = 0.3
    low_gate: float = 0.5
    duplicate_oks: float | None = 0.95
    appearance_weight: float = 0.45
    flow: FlowConfig | None = field(default_factory=FlowConfig)
    assignment: Literal["hungarian", "greedy"] = "hungarian"
    min_similarity: float = 0.2
    min_keypoint_score: float = 0.3
    min_shared_keypoints: int = 4
    max_age: int = 15
    smoothing: OneEuroConfig | None = None
    fps: float = 25.0

    @classmethod
    def oks_only(cls) -> TrackerConfig:
        """Flow-propagated OKS alone, every pose tracked: no motion cue, score passes, collapsed-pose rule or
        colours (the baseline the other cues are measured against)."""
        return cls(similarity="oks", high_score=0.0, low_score=0.0, duplicate_oks=None, appearance_weight=0.0)


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
        self._predicted = False
        self._next_id = 0
        self.kept = np.zeros(0, np.int64)
        self._smoother = OneEuroSmoother(self.config.smoothing, self.config.fps) if self.config.smoothing else None

    def predict(self, image: np.ndarray | None) -> None:
        """Move every track into the frame ``image`` (step 1: optical flow of the poses seen last frame, camera
        motion plus own velocity for the lost ones). ``update`` does it itself when it was not called for the frame;
        a pipeline calls it early, while the frame's poses are still being estimated."""
        cfg = self.config
        gray = scale = None
        if image is not None and cfg.flow is not None:
            gray, scale = to_gray(image, cfg.flow.max_side), flow_scale(image.shape, cfg.flow.max_side)
        if self._tracks is not None:
            self._move(self._tracks, gray, scale or 1.0)
        self._prev_gray, self._predicted = gray, True

    def update(self, poses: Poses, image: np.ndarray | None = None, can_start: np.ndarray | None = None
               ) -> TrackedPoses:
        """Associate this frame's poses with the tracks.

        Args:
            poses: the frame's poses (keypoints (N, K, 2) image pixels, scores (N, K), boxes (N, 4), box scores
                (N,)).
            image: the frame (H, W, 3) BGR, for optical flow and colours; without it poses are compared unmoved.
            can_start: (N,) bool, the poses that may start a track (default all); poses estimated at a track's
                own box (``proposals``) continue tracks only.
        Returns:
            ``TrackedPoses``: the poses given an identity (smoothed if configured) with their ``track_ids``, in the
            input order; ``self.kept`` holds their indices into ``poses`` (the others were below ``low_score``,
            hidden copies of another pose, or poses no track claimed that could not start one).
        """
        cfg = self.config
        if not self._predicted:
            self.predict(image)
        self._predicted = False
        tracks = self._tracks if self._tracks is not None else Tracks.new(np.zeros(0, np.int64), poses, np.zeros(0, int))
        signatures = (colour_signatures(image, poses.boxes) if image is not None and cfg.appearance_weight > 0
                      else None)
        matched_rows, matched, starters, hidden = self._associate(tracks, poses, signatures)
        if can_start is not None:
            starters = starters[np.asarray(can_start, bool)[starters]]

        ids = np.full(len(poses), -1, np.int64)
        ids[matched] = tracks.ids[matched_rows]
        tracks.since_seen += 1
        self._absorb(tracks, matched_rows, poses, matched, signatures)
        born = np.setdiff1d(starters, matched)
        ids[born] = np.arange(self._next_id, self._next_id + len(born))
        self._next_id += len(born)
        tracks = tracks.take(tracks.since_seen <= cfg.max_age)
        self._tracks = concat(tracks, Tracks.new(ids[born], poses, born, signatures))

        self.kept = np.flatnonzero((ids >= 0) & ~hidden)
        out = poses.take(self.kept)
        keypoints = out.keypoints
        if self._smoother is not None:
            keypoints = np.array([self._smoother(int(i), kp) for i, kp in zip(ids[self.kept], out.keypoints)],
                                 np.float32).reshape(out.keypoints.shape)
            self._smoother.forget(set(self._tracks.ids.tolist()))
        return TrackedPoses(keypoints, out.scores, out.boxes, out.box_scores, out.skeleton, ids[self.kept])

    def _associate(self, tracks: Tracks, poses: Poses,
                   signatures: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Steps 2-4 of the module docstring: (matched track rows, their pose indices, the indices of the poses that
        may start tracks (confident, not hidden), the hidden poses (N,) bool)."""
        cfg = self.config
        hidden, collapsed = collapsed_poses(poses, cfg.duplicate_oks, cfg.min_keypoint_score, cfg.min_shared_keypoints)
        usable = poses.box_scores >= cfg.low_score
        high = np.flatnonzero(usable & (poses.box_scores >= cfg.high_score))
        low = np.flatnonzero(usable & (poses.box_scores < cfg.high_score))

        first = self.similarity(tracks, poses.take(high))
        if signatures is not None:  # for the tracks the previous frame did not see: their position is least sure
            weight = np.where(tracks.since_seen > 0, cfg.appearance_weight, 0.0)[:, None]
            first = (1 - weight) * first + weight * appearance_similarity(tracks.appearance, signatures[high])
        by_box = np.flatnonzero(collapsed[high])
        first[:, by_box] = motion_similarity(tracks, poses.take(high[by_box]))
        rows, cols = assign(first, cfg.min_similarity, cfg.assignment)
        free = np.setdiff1d(np.arange(len(tracks)), rows)
        rows2, cols2 = assign(motion_similarity(tracks.take(free), poses.take(low)), cfg.low_gate, cfg.assignment)
        return (np.concatenate([rows, free[rows2]]), np.concatenate([high[cols], low[cols2]]), high[~hidden[high]],
                hidden)

    def missing(self) -> tuple[np.ndarray, np.ndarray]:
        """Tracks that had a pose in the previous frame but none in this one (call after ``update``): their ids
        (M,) int64 and boxes (M, 4) float32 x1/y1/x2/y2 image pixels, moved into this frame by the optical flow."""
        t = self._tracks
        if t is None:
            return np.zeros(0, np.int64), np.zeros((0, 4), np.float32)
        rows = np.flatnonzero(t.since_seen == 1)
        return t.ids[rows].copy(), t.boxes[rows].copy()

    def reclaim(self, ids: np.ndarray, poses: Poses) -> TrackedPoses:
        """Give the ``missing`` tracks ``ids`` the poses found at their boxes in this frame (people the detector
        missed), as if they had matched. Returns those poses with their track ids."""
        t = self._tracks
        if t is None:
            raise ValueError("reclaim() needs tracks: call update() first")
        row_of = {int(i): r for r, i in enumerate(t.ids)}
        self._absorb(t, np.array([row_of[int(i)] for i in ids], int), poses, np.arange(len(ids)))
        return TrackedPoses(poses.keypoints, poses.scores, poses.boxes, poses.box_scores, poses.skeleton,
                            np.asarray(ids, np.int64))

    def proposals(self, threshold: float | None = None) -> Proposals:
        """Where to look for the people seen in the last frame, in the next one (call after ``update``, before the
        next frame's ``predict``): for each such track a box made from its pose (``transforms.pose_boxes``: the
        extent of its confident joints, grown by 1.25) moved by its own velocity and the camera's, and the score of
        the box it was last matched by."""
        t = self._tracks
        if t is None:
            return Proposals.none()
        rows = np.flatnonzero(t.since_seen == 0)
        threshold = self.config.min_keypoint_score if threshold is None else threshold
        boxes = pose_boxes(t.keypoints[rows], t.scores[rows], threshold)
        boxes += np.tile(t.velocity[rows] + t.camera[rows], 2)
        return Proposals(t.ids[rows].copy(), boxes, t.box_scores[rows].copy())

    def similarity(self, tracks: Tracks, poses: Poses) -> np.ndarray:
        """(T, N) similarity of the (propagated) tracks with the new poses."""
        return self._similarity(tracks, poses)

    @staticmethod
    def _absorb(tracks: Tracks, rows: np.ndarray, poses: Poses, cols: np.ndarray,
                signatures: np.ndarray | None = None) -> None:
        """Tracks ``rows`` take poses ``cols`` (keypoints, scores, box; colours into their running signature),
        update their own velocity, and are seen this frame (``since_seen`` 0)."""
        centres = 0.5 * (poses.boxes[cols, :2] + poses.boxes[cols, 2:])
        gap = np.maximum(tracks.since_seen[rows][:, None], 1)  # frames since the last match (counting this one)
        own = (centres - tracks.anchor[rows] - tracks.camera[rows]) / gap
        tracks.velocity[rows] = 0.5 * tracks.velocity[rows] + 0.5 * own
        tracks.camera[rows] = 0.0
        tracks.matched_boxes[rows] = poses.boxes[cols]
        if signatures is not None:
            tracks.appearance[rows] = 0.8 * tracks.appearance[rows] + 0.2 * signatures[cols]
        tracks.keypoints[rows] = poses.keypoints[cols]
        tracks.scores[rows] = poses.scores[cols]
        tracks.boxes[rows] = poses.boxes[cols]
        tracks.box_scores[rows] = poses.box_scores[cols]
        tracks.since_seen[rows] = 0

    def _move(self, tracks: Tracks, gray: np.ndarray | None, scale: float) -> None:
        """Move every track into the current frame: flow for the tracks seen last frame (``gray``: the frame as
        ``to_gray`` made it, ``scale`` times its size), camera motion plus their own velocity for the lost ones."""
        flow = self.config.flow
        if (flow is None or gray is None or self._prev_gray is None or len(tracks) == 0
                or gray.shape != self._prev_gray.shape):
            return
        live = tracks.since_seen == 0
        use = (tracks.scores >= self.config.min_keypoint_score) & live[:, None]
        moved, camera = propagate(self._prev_gray, gray, tracks.keypoints, use, flow, scale)
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
    thresholds = {"min_keypoint_score": cfg.min_keypoint_score, "min_shared_keypoints": cfg.min_shared_keypoints}
    if cfg.similarity == "oks":
        return partial(SIMILARITIES["oks"], **thresholds)
    if cfg.similarity == "pose+motion":
        return partial(SIMILARITIES["pose+motion"], motion_weight=cfg.motion_weight, **thresholds)
    return SIMILARITIES[cfg.similarity]


def collapsed_poses(poses: Poses, min_oks: float | None, min_keypoint_score: float,
                    min_shared_keypoints: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Poses of one frame that collapsed onto one person: (hidden (N,) bool, collapsed (N,) bool).

    Two poses whose OKS (over at least ``min_shared_keypoints`` joints both hold with ``min_keypoint_score``) reaches
    ``min_oks`` are one person's pose: the occluded person's crop contains the occluder and the pose model found the
    occluder. Of each such group the pose of the box reaching lowest in the image stays (on a ground plane, the
    person nearest the camera is in front; on the validation clips this kept identities better than keeping the box
    that best fits the pose's extent: 51 vs 321 poseval switches on ground-truth boxes); the others are ``hidden``:
    copies of the front person's pose, not to be output. ``collapsed`` marks every pose of such a group, the hidden ones
    included: its pose cannot tell the people apart, its box can.
    """
    n = len(poses)
    none = np.zeros(n, bool)
    if min_oks is None or n < 2:
        return none, none.copy()
    sim, shared = confident_oks(poses.keypoints, poses.scores, poses.boxes, poses.keypoints, poses.scores, poses.boxes,
                                poses.skeleton.sigmas, min_keypoint_score)
    same = (sim >= min_oks) & (shared >= min_shared_keypoints)
    np.fill_diagonal(same, False)
    if not same.any():
        return none, none.copy()
    hidden = none.copy()
    for i in np.argsort(-poses.boxes[:, 3], kind="stable"):  # the front-most pose of a group claims it first
        if not hidden[i]:
            hidden |= same[i]
    return hidden, np.asarray(same.any(1))

