"""PoseTrack-style identities: each person's box followed by a Kalman filter, each person's pose carried into the
next frame by optical flow, the frame's poses compared with the tracks by the IoU of the predicted boxes blended
with the OKS of the carried poses as far as the poses can be trusted, and assigned optimally in ByteTrack's passes.

As norfair's, the tracker is one call a frame: ``update(poses, image)`` returns everything a caller needs
(``TrackUpdate``: the tracked poses, where each person seen should be next frame, who went missing). A pipeline
that wants the optical flow computed while the frame's poses are still being estimated asks ``predict(image)``
first and hands the ``Prediction`` (a value, checked to be of the current state) to ``update``.

One frame, in order:
1. predict: every track's Kalman state moves one frame on (``track.kalman``), with the camera's motion, measured on
   the background, taken out first where ``flow.camera`` asks (``track.camera``); the poses seen last frame follow
   their joints' optical flow, the others their box;
2. collapsed poses: two poses of the frame that nearly coincide (OKS >= ``duplicate_oks``: the pose model put an
   occluded person's joints on the person in front) are one person's pose. Each pose of such a group is matched
   by its box alone, since its pose cannot tell the people apart, so the people behind keep their tracks (and
   identities) through their boxes; with ``occluded="box"`` they are output with their boxes and ids and no scored
   joint (the pose there is the front person's), with ``"hidden"`` left out; a hidden copy never starts a track;
3. first pass: the confirmed tracks vs the confident poses (box score >= ``high_score``) by the config's
   similarity: for ``pose+motion``, the IoU of the predicted boxes blended with OKS by how far the two poses can be
   trusted (``similarity.pose_trust``). For the tracks the previous frame did not see, the colours people wear
   (``track.appearance``) are blended in where they tell the candidates apart;
4. second pass: the confirmed tracks seen last frame and still unmatched vs the less confident poses
   (``low_score`` <= score < ``high_score``) by box IoU (ByteTrack's idea: a half-occluded person scores low but is
   still there); a low pose no track claims is dropped, never a new track;
5. tentative tracks (seen in one frame) vs the confident poses left, by box IoU; one not matched now is dropped;
6. lifecycle: a confident pose no track claims (box score >= ``high_score``) starts a tentative track, confirmed
   once matched in ``min_hits`` frames in a row (at once in a video's first frame, or where its pose is sure: mean
   keypoint score >= ``sure_pose``) and output only from then on; a
   confirmed track that finds no pose is kept, moving with its Kalman filter, for up to ``max_age`` frames, so it
   can be re-identified after an occlusion; then it ends. Identities are never reused;
7. recovery (optional, ``update(recover=...)``): the tracks seen in the previous frame that found no pose are
   offered to a function you pass in, which may find their people at their predicted boxes (the keyframe policy,
   ``track.follow``, does: people the detector missed); what it finds continues those tracks, and is output, but
   is not trusted to tell people apart in the next frame (only the pose model vouches for it).

The output box of a person is their track's Kalman estimate after this frame's box (``box="smoothed"``: steadier,
and on the real MOT clips it scores higher), or the box their pose was estimated in (``"detector"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from scipy.optimize import linear_sum_assignment

from posetrack.options import TrackerConfig
from posetrack.track import kalman
from posetrack.track.appearance import appearance_similarity, colour_signatures, distinctness
from posetrack.track.camera import camera_motion
from posetrack.track.flow import flow_scale, propagate, to_gray
from posetrack.track.oks import confident_oks
from posetrack.track.similarity import SIMILARITIES, Similarity, motion_similarity
from posetrack.track.smoothing import OneEuroSmoother
from posetrack.track.state import Tracks, concat
from posetrack.transforms import pose_boxes
from posetrack.types import Poses, TrackedPoses, concat_poses


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
class TrackUpdate:
    """What one ``PoseTracker.update`` gives.

    Attributes:
        tracked: the poses given an identity, in input order (smoothed if configured), then those ``recover`` found.
        kept: (N,) int64 indices into the input poses of the first part of ``tracked`` (the others were below
            ``low_score``, hidden copies of another pose, or poses no track claimed that could not start one).
        proposals: where each person seen in this frame should be in the next (``PoseTracker.proposals``).
        missing: the tracks seen in the previous frame that found no pose in this one (nor by ``recover``), at
            their boxes moved into this frame.
    """

    tracked: TrackedPoses
    kept: np.ndarray
    proposals: Proposals
    missing: Proposals


@dataclass(frozen=True)
class Prediction:
    """The tracks moved into one frame (``PoseTracker.predict``): a value ``update`` takes, made of the tracker's
    state after its last update (``generation``) and refused for any other."""

    generation: int
    tracks: Tracks | None
    gray: np.ndarray | None


@dataclass(frozen=True)
class Matches:
    """One frame's association: track rows (M,) matched with pose indices (M,), the poses that may start tracks,
    and which poses are hidden copies of another's (N,) bool."""

    rows: np.ndarray
    cols: np.ndarray
    starters: np.ndarray
    hidden: np.ndarray


Recover = Callable[[Proposals, TrackedPoses], tuple[np.ndarray, Poses]]
"""``recover(missing, tracked) -> (ids, poses)``: of the ``missing`` tracks (ids and boxes moved into this frame),
the ids whose people were found (given what is ``tracked`` already) and their poses."""


def assign(similarity: np.ndarray, gate: float, method: str = "hungarian") -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the matched pairs, each at least ``gate`` similar.

    ``hungarian`` maximises the total margin by which the matched pairs clear the gate, leaving a row or column
    unmatched where that pays (the cost-limited assignment of SORT, ByteTrack and BoT-SORT): one clear match beats
    two doubtful ones. (Maximising plain total similarity would rather match a track to the wrong one of two people
    who just parted, if that lets a lost track take the other.) ``greedy`` takes the most similar remaining pair
    first.
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
    t, n = similarity.shape
    big = 1e6
    costs = np.full((t + n, n + t), big)
    costs[:t, :n] = np.where(allowed, gate - similarity, big)  # a match: minus its margin above the gate
    costs[np.arange(t), n + np.arange(t)] = 0.0  # a row left unmatched
    costs[t + np.arange(n), np.arange(n)] = 0.0  # a column left unmatched
    costs[t:, n:] = 0.0
    rows, cols = linear_sum_assignment(costs)
    keep = (rows < t) & (cols < n)
    rows, cols = rows[keep], cols[keep]
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
        self._generation = 0
        self._next_id = 0
        self._smoother = OneEuroSmoother(self.config.smoothing, self.config.fps) if self.config.smoothing else None

    def predict(self, image: np.ndarray | None) -> Prediction:
        """Every track moved into the frame ``image`` (step 1), for ``update(prediction=...)``; the tracker itself is
        not changed. ``update`` predicts itself when given none."""
        cfg = self.config
        gray = scale = None
        if image is not None and cfg.flow is not None:
            gray, scale = to_gray(image, cfg.flow.max_side), flow_scale(image.shape, cfg.flow.max_side)
        tracks = None if self._tracks is None else self._tracks.take(np.arange(len(self._tracks)))
        if tracks is not None:
            self._move(tracks, gray, scale or 1.0)
        return Prediction(self._generation, tracks, gray)

    def update(self, poses: Poses, image: np.ndarray | None = None, *, prediction: Prediction | None = None,
               can_start: np.ndarray | None = None, recover: Recover | None = None) -> TrackUpdate:
        """Associate this frame's poses with the tracks.

        Args:
            poses: the frame's poses (keypoints (N, K, 2) image pixels, scores (N, K), boxes (N, 4), box scores
                (N,)).
            image: the frame (H, W, 3) BGR, for optical flow and colours; without it poses are compared unmoved.
            prediction: ``predict(image)`` made since the last update (None: predicted now).
            can_start: (N,) bool, the poses that may start a track (default all); poses estimated at a track's
                own box (``proposals``) continue tracks only.
            recover: looks for the people of tracks that found no pose (step 7), or None.
        Returns:
            ``TrackUpdate``.
        Raises:
            ValueError: a ``prediction`` made before the last update (of another state of the tracks).
        """
        cfg = self.config
        prediction = prediction if prediction is not None else self.predict(image)
        if prediction.generation != self._generation:
            raise ValueError("a Prediction made before the last update: predict the frame after updating the last")
        first_frame = self._generation == 0
        self._generation += 1
        self._prev_gray = prediction.gray
        tracks = prediction.tracks if prediction.tracks is not None else Tracks.new(np.zeros(0, np.int64), poses,
                                                                                    np.zeros(0, int))
        signatures = (colour_signatures(image, poses.boxes) if image is not None and cfg.appearance_weight > 0
                      else None)
        found = self._associate(tracks, poses, signatures)
        starters = found.starters if can_start is None else found.starters[np.asarray(can_start, bool)[found.starters]]

        ids = np.full(len(poses), -1, np.int64)
        ids[found.cols] = tracks.ids[found.rows]
        matched_before = np.zeros(len(tracks), bool)
        matched_before[found.rows] = True
        tracks.since_seen += 1
        tracks.hits[~matched_before] = 0
        self._absorb(tracks, found.rows, poses, found.cols, signatures, known=~found.hidden[found.cols])
        born = np.setdiff1d(starters, found.cols)
        ids[born] = np.arange(self._next_id, self._next_id + len(born))
        self._next_id += len(born)
        alive = np.where(tracks.confirmed, tracks.since_seen <= cfg.max_age, tracks.since_seen == 0)
        output = np.zeros(len(poses), bool)
        output[found.cols] = tracks.confirmed[found.rows]
        boxes = poses.boxes.copy()
        if cfg.box == "smoothed":  # the Kalman filter's box after this frame's measurement
            boxes[found.cols] = tracks.boxes[found.rows]
        tracks = tracks.take(alive)
        sure = self._sure(poses.take(born), first_frame)
        self._tracks = concat(tracks, Tracks.new(ids[born], poses, born, signatures, sure))
        output[born] = sure
        if cfg.occluded == "hidden":
            output &= ~found.hidden
        kept = np.flatnonzero(output)
        tracked = self._output(replace(poses, boxes=boxes), kept, ids, found.hidden)
        missing = self._missing()
        if recover is not None and len(missing):
            found_ids, recovered = recover(missing, tracked)
            if len(found_ids):
                tracked = concat_poses(tracked, self._reclaim(found_ids, recovered))
                missing = self._missing()
        return TrackUpdate(self._smoothed(tracked), kept, self.proposals(), missing)

    def _sure(self, new: Poses, first_frame: bool) -> np.ndarray:
        """(N,) bool: which new tracks are output at once: all in a video's first frame (nobody is tracked yet) or
        with ``min_hits`` 1, else those whose pose is sure (mean keypoint score >= ``sure_pose``); the others wait
        to be matched ``min_hits`` times (a false detection rarely is, twice in a row)."""
        cfg = self.config
        if first_frame or cfg.min_hits <= 1:
            return np.ones(len(new), bool)
        if cfg.sure_pose is None or len(new) == 0:
            return np.zeros(len(new), bool)
        return new.scores.mean(1) >= cfg.sure_pose

    def _output(self, poses: Poses, kept: np.ndarray, ids: np.ndarray, hidden: np.ndarray) -> TrackedPoses:
        """The poses ``kept`` with their identities: a person hidden behind a collapsed pose with no scored joint
        (their box and id stand; the pose found there is another's)."""
        out = poses.take(kept)
        scores = np.where(hidden[kept][:, None], 0.0, out.scores).astype(np.float32)
        return TrackedPoses(out.keypoints, scores, out.boxes, out.box_scores, out.skeleton, ids[kept])

    def _smoothed(self, tracked: TrackedPoses) -> TrackedPoses:
        """The frame's output keypoints smoothed per track where configured (all of them: found by the detector or
        recovered, so that each track's filter sees every frame it is output in)."""
        if self._smoother is None or len(tracked) == 0:
            return tracked
        keypoints = np.array([self._smoother(int(i), kp) for i, kp in zip(tracked.track_ids, tracked.keypoints)],
                             np.float32).reshape(tracked.keypoints.shape)
        assert self._tracks is not None
        self._smoother.forget(set(self._tracks.ids.tolist()))
        return replace(tracked, keypoints=keypoints)

    def _associate(self, tracks: Tracks, poses: Poses, signatures: np.ndarray | None) -> Matches:
        """Steps 2-5 of the module docstring."""
        cfg = self.config
        hidden, collapsed = collapsed_poses(poses, cfg.duplicate_oks, cfg.min_keypoint_score, cfg.min_shared_keypoints)
        usable = poses.box_scores >= cfg.low_score
        high = np.flatnonzero(usable & (poses.box_scores >= cfg.high_score))
        low = np.flatnonzero(usable & (poses.box_scores < cfg.high_score))
        rows, cols = self._first_pass(tracks, poses, high, signatures, collapsed)
        # second pass: the confirmed tracks seen last frame vs the less confident poses
        active = np.flatnonzero(tracks.confirmed)
        free = np.setdiff1d(active[tracks.since_seen[active] == 0], rows)
        r2, c2 = assign(motion_similarity(tracks.take(free), poses.take(low)), cfg.low_gate, cfg.assignment)
        # tentative tracks vs the confident poses left
        left = np.setdiff1d(high, cols)
        tentative = np.flatnonzero(~tracks.confirmed)
        r3, c3 = assign(motion_similarity(tracks.take(tentative), poses.take(left)), cfg.tentative_gate,
                        cfg.assignment)
        rows = np.concatenate([rows, free[r2], tentative[r3]])
        cols = np.concatenate([cols, low[c2], left[c3]])
        starters = high[~hidden[high]] if cfg.occluded == "hidden" else high
        return Matches(rows, cols, starters, hidden)

    def _first_pass(self, tracks: Tracks, poses: Poses, high: np.ndarray, signatures: np.ndarray | None,
                    collapsed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step 3: confirmed track rows matched with pose indices of ``high``."""
        cfg = self.config
        active = np.flatnonzero(tracks.confirmed)
        first = self.similarity(tracks.take(active), poses.take(high))
        if signatures is not None:
            first = _with_colours(first, tracks.take(active), signatures[high], cfg.appearance_weight)
        by_box = np.flatnonzero(collapsed[high])
        first[:, by_box] = motion_similarity(tracks.take(active), poses.take(high[by_box]))
        rows, cols = assign(first, cfg.min_similarity, cfg.assignment)
        return active[rows], high[cols]

    def _missing(self) -> Proposals:
        """The confirmed tracks seen in the previous frame that found no pose in this one: ids (M,) int64, boxes
        (M, 4) float32 x1/y1/x2/y2 image pixels where their Kalman filters put them now, last box scores."""
        t = self._tracks
        assert t is not None
        rows = np.flatnonzero((t.since_seen == 1) & t.confirmed)
        return Proposals(t.ids[rows].copy(), t.boxes[rows], t.box_scores[rows].copy())

    def _reclaim(self, ids: np.ndarray, poses: Poses) -> TrackedPoses:
        """The missing tracks ``ids`` take the poses found at their boxes in this frame, as if they had matched,
        except that such a pose is not trusted to tell people apart next frame (no detector confirmed it: a pose
        model finds confident poses on anything, lampposts included; ``similarity.pose_trust``)."""
        t = self._tracks
        assert t is not None
        row_of = {int(i): r for r, i in enumerate(t.ids)}
        self._absorb(t, np.array([row_of[int(i)] for i in ids], int), poses, np.arange(len(ids)), detected=False)
        return TrackedPoses(poses.keypoints, poses.scores, poses.boxes, poses.box_scores, poses.skeleton,
                            np.asarray(ids, np.int64))

    def proposals(self, threshold: float | None = None) -> Proposals:
        """Where to look for the people seen in the last frame, in the next one: for each confirmed track seen a box
        made from its pose (``transforms.pose_boxes``: the extent of its confident joints, grown by 1.25) moved by
        its box's velocity, and the score of the box it was last matched by."""
        t = self._tracks
        if t is None:
            return Proposals.none()
        rows = np.flatnonzero((t.since_seen == 0) & t.confirmed)
        threshold = self.config.min_keypoint_score if threshold is None else threshold
        boxes = pose_boxes(t.keypoints[rows], t.scores[rows], threshold)
        boxes += np.tile(t.velocity[rows], 2).astype(np.float32)
        return Proposals(t.ids[rows].copy(), boxes, t.box_scores[rows].copy())

    def similarity(self, tracks: Tracks, poses: Poses) -> np.ndarray:
        """(T, N) similarity of the (predicted) tracks with the new poses."""
        return self._similarity(tracks, poses)

    def _absorb(self, tracks: Tracks, rows: np.ndarray, poses: Poses, cols: np.ndarray,
                signatures: np.ndarray | None = None, known: np.ndarray | None = None, detected: bool = True) -> None:
        """Tracks ``rows`` take poses ``cols``: their Kalman filters are corrected by the poses' boxes, their
        colours go into their running signatures, their poses become the tracks' (where ``known``; a hidden copy's
        pose is another person's, so such a track's pose becomes unknown; ``detected``: the poses are the frame's,
        False for those only ``recover`` found), and they are seen this frame."""
        tracks.mean[rows], tracks.cov[rows] = kalman.update(tracks.mean[rows], tracks.cov[rows], poses.boxes[cols])
        if signatures is not None:
            tracks.appearance[rows] = 0.8 * tracks.appearance[rows] + 0.2 * signatures[cols]
        known = np.ones(len(rows), bool) if known is None else known
        tracks.keypoints[rows[known]] = poses.keypoints[cols[known]]
        tracks.scores[rows[known]] = poses.scores[cols[known]]
        tracks.scores[rows[~known]] = 0.0
        tracks.box_scores[rows] = poses.box_scores[cols]
        tracks.detected[rows] = detected
        tracks.since_seen[rows] = 0
        tracks.hits[rows] += 1
        tracks.confirmed[rows] |= tracks.hits[rows] >= self.config.min_hits

    def _move(self, tracks: Tracks, gray: np.ndarray | None, scale: float) -> None:
        """Move every track into the current frame (step 1): the camera's motion out of the Kalman states, one
        frame of their own motion, and the poses seen last frame along their joints' optical flow (``gray``: the
        frame as ``to_gray`` made it, ``scale`` times its size), the others along their box."""
        flow, prev, before = self.config.flow, self._prev_gray, tracks.mean[:, :2].copy()
        seen = None if flow is None or gray is None or prev is None or gray.shape != prev.shape else (prev, gray)
        if seen is not None and flow is not None and flow.camera:
            tracks.mean = kalman.shifted(tracks.mean, camera_motion(*seen, tracks.boxes, flow, scale))
        tracks.mean, tracks.cov = kalman.predict(tracks.mean, tracks.cov)
        last = tracks.keypoints
        tracks.keypoints = last + (tracks.mean[:, :2] - before)[:, None, :].astype(np.float32)
        if seen is not None and flow is not None:
            live = tracks.since_seen == 0
            use = (tracks.scores >= self.config.min_keypoint_score) & live[:, None]
            moved, _ = propagate(*seen, last, use, flow, scale)
            tracks.keypoints[live] = moved[live]


def _with_colours(similarity: np.ndarray, tracks: Tracks, signatures: np.ndarray, weight: float) -> np.ndarray:
    """``similarity`` (T, N) with the colour cue blended in for the tracks the previous frame did not see (their
    position is least sure) where colours tell the candidates apart: by ``weight`` times how far a track's best
    colour match stands out from its second best (``appearance.distinctness``)."""
    colours = appearance_similarity(tracks.appearance, signatures)
    w = np.where(tracks.since_seen > 0, weight, 0.0)[:, None] * distinctness(colours)
    return (1 - w) * similarity + w * colours


def _similarity_function(cfg: TrackerConfig) -> Similarity:
    """The config's similarity as a ``(tracks, poses)`` function; the named OKS one takes the config's thresholds."""
    if callable(cfg.similarity):
        return cfg.similarity
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

