"""PoseTrack21 keypoint HOTA, computed as the official kit computes it (PoseTrack21 repository,
``eval/posetrack21``: ``trackeval/datasets/posetrack.py`` and ``trackeval/metrics/hota_pose.py``), quirks included.

What the kit does, and so what this module does:

* Frames: paired by position; frames whose ground truth is not ``is_labeled`` are dropped on both sides.
  15 joints (PoseTrack order without the ears). A keypoint counts when x > 0 and y > 0 (flags and scores are not
  looked at). Identities are the files' ``track_id``.
* Ignore regions (frames that have them): keypoints strictly inside a region are set to (0, 0) on both sides;
  a person left with every keypoint at x <= 0 and y <= 0 is deleted.
* Similarity of a ground-truth and a predicted joint: ``max(0, 1 - d / 0.5001)`` with d the distance over the
  person's head size (0.6 x the head-box diagonal); 0 where either joint is missing.
* Per frame and joint, one Hungarian matching on that similarity; for each α in 0.05, 0.10, ..., 0.95 the
  matched pairs with similarity >= α are true positives. DetA = TP / (TP + FN + FP); AssA, AssRe, AssPr from
  the per-identity-pair match counts as in HOTA; LocA = mean similarity of the true positives (1 without any).
* Totals: per sequence, every field per α and joint plus a joint column (mean, or sum for counts); sequences are
  combined by summing counts and TP-weighting AssA/AssRe/AssPr/LocA (the joint column too), then DetA/DetRe/DetPr
  and HOTA = √(DetA·AssA) are recomputed; a reported total is the mean over α of the joint column.
* The kit's bug (PoseTrack21 issue #10), reproduced by default: in a frame with no prediction, every
  ground-truth joint of the whole sequence is counted as a miss, and in a frame with no ground-truth person every
  predicted joint of the sequence as a false positive, instead of the frame's own (the kit itself stops with an
  error on such a frame before it gets there; its formula is applied). ``fix_empty_frames=True`` counts the
  frame's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from posetrack.errors import PosetrackError
from posetrack.io.posetrack_json import PoseTrackFrame, PoseTrackSequence

ALPHAS = np.arange(0.05, 0.99, 0.05)  # the kit's thresholds, bit for bit
NJ = 15
KIT_JOINTS = np.array([j for j in range(17) if j not in (3, 4)])  # PoseTrack-17 without the ears
EPS = np.finfo(float).eps
FIELDS = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr")


@dataclass
class _Side:
    """One side of one frame: identities (N,), joints (N, 15, 2) float64, head sizes (N,) (ground truth)."""

    ids: np.ndarray
    joints: np.ndarray
    heads: np.ndarray | None = None

    @property
    def valid(self) -> np.ndarray:
        return (self.joints[..., 0] > 0) & (self.joints[..., 1] > 0)

    def take(self, keep: np.ndarray) -> _Side:
        return _Side(self.ids[keep], self.joints[keep], None if self.heads is None else self.heads[keep])


def _side(frame: PoseTrackFrame, truth: bool, name: str) -> _Side:
    joints = np.where(frame.flags[:, KIT_JOINTS, None] > 0, frame.keypoints[:, KIT_JOINTS], 0.0).astype(np.float64)
    heads = None
    if truth and len(frame):
        if frame.head_boxes is None:
            raise PosetrackError(f"{name}: ground truth without bbox_head; HOTA needs head boxes")
        heads = 0.6 * np.linalg.norm(frame.head_boxes[:, 2:] - frame.head_boxes[:, :2], axis=1)
    return _Side(frame.track_ids.astype(np.int64), joints, heads)


def points_inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N, 2) points strictly inside the (P, 2) polygon, as (N,) bool: even-odd rule in float64, and a point on
    an edge is outside (Shapely's ``contains``, which the kit uses)."""
    if len(polygon) < 3 or not len(points):
        return np.zeros(len(points), bool)
    x, y = points[:, :1], points[:, 1:]
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = x < (x2 - x1) * (y - y1) / (y2 - y1) + x1
    on_edge = (((x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)) == 0) & (np.minimum(x1, x2) <= x) & (
        x <= np.maximum(x1, x2)) & (np.minimum(y1, y2) <= y) & (y <= np.maximum(y1, y2))
    return (((straddles & crossing).sum(1) % 2) == 1) & ~on_edge.any(1)


def _drop_ignored(side: _Side, regions: list[np.ndarray]) -> _Side:
    if not regions or not len(side.ids):
        return side
    flat = side.joints.reshape(-1, 2)
    inside = np.zeros(len(flat), bool)
    for poly in regions:
        inside |= points_inside(flat, np.asarray(poly, np.float64))
    joints = np.where(inside.reshape(side.joints.shape[:2])[..., None], 0.0, side.joints)
    kept = np.asarray(~((joints[..., 0] <= 0) & (joints[..., 1] <= 0)).all(1))
    return _Side(side.ids, joints, side.heads).take(kept)


def _similarity(gt: _Side, pr: _Side) -> np.ndarray:
    """(G, D, 15) keypoint similarity."""
    assert gt.heads is not None
    both = gt.valid[:, None, :] & pr.valid[None, :, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.linalg.norm(gt.joints[:, None] - pr.joints[None], axis=-1) / gt.heads[:, None, None]
    dist = np.where(both, dist, np.inf)
    return np.maximum((-1 / 0.5001) * dist + 1, 0)


def _relabel(ids: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    unique = np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.int64)
    return [np.searchsorted(unique, i) for i in ids], len(unique)


def _check_ids(sides: list[_Side], name: str, what: str) -> None:
    for t, side in enumerate(sides):
        if len(np.unique(side.ids)) != len(side.ids):
            raise PosetrackError(f"{name}: {what} repeats a track_id in labeled frame {t}")


def _sequence(gt_seq: PoseTrackSequence, pr_seq: PoseTrackSequence, fix_empty_frames: bool) -> dict[str, np.ndarray]:
    """The kit's per-sequence result: each field (19, 16) (15 joints + the joint column); counts as floats."""
    if len(gt_seq.frames) != len(pr_seq.frames):
        raise PosetrackError(f"{pr_seq.name}: {len(pr_seq.frames)} prediction frames but {len(gt_seq.frames)} "
                             "ground-truth frames")
    gts, prs = [], []
    for g, p in zip(gt_seq.frames, pr_seq.frames):
        if g.is_labeled:
            gts.append(_drop_ignored(_side(g, True, gt_seq.name), g.ignore_regions))
            prs.append(_drop_ignored(_side(p, False, pr_seq.name), g.ignore_regions))
    _check_ids(gts, gt_seq.name, "the ground truth")
    _check_ids(prs, pr_seq.name, "the prediction")
    gt_ids, n_gt_ids = _relabel([s.ids for s in gts])
    pr_ids, n_pr_ids = _relabel([s.ids for s in prs])
    gt_joints = sum((s.valid.sum(0) for s in gts), np.zeros(NJ, np.int64))
    pr_joints = sum((s.valid.sum(0) for s in prs), np.zeros(NJ, np.int64))
    shape = (len(ALPHAS), NJ)
    res = {k: np.zeros(shape) for k in ("TP", "FN", "FP", "AssA", "AssRe", "AssPr", "LocA")}
    if not any(len(s.ids) for s in prs) or not any(len(s.ids) for s in gts):
        res["FN" if not any(len(s.ids) for s in prs) else "FP"] = np.broadcast_to(
            (gt_joints if not any(len(s.ids) for s in prs) else pr_joints).astype(float), shape).copy()
        res["LocA"] = np.ones(shape)
        return _with_joint_column(final(res))
    gt_count = np.zeros((n_gt_ids, 1, NJ))
    pr_count = np.zeros((1, n_pr_ids, NJ))
    hits: list[tuple[np.ndarray, ...]] = []  # (α index, gt id, predicted id, joint) of every true positive
    for gt, pr, gi, pi in zip(gts, prs, gt_ids, pr_ids):
        gt_valid, pr_valid = gt.valid, pr.valid
        gt_count[gi, 0] += gt_valid
        pr_count[0, pi] += pr_valid
        if not len(gi) or not len(pi):
            if not len(gi):
                res["FP"] += pr_valid.sum(0) if fix_empty_frames else pr_joints
            else:
                res["FN"] += gt_valid.sum(0) if fix_empty_frames else gt_joints
            continue
        sim = _similarity(gt, pr)
        pairs = [linear_sum_assignment(-sim[:, :, j]) for j in range(NJ)]  # the kit: one matching per joint
        rows = np.concatenate([r for r, _ in pairs])
        cols = np.concatenate([c for _, c in pairs])
        joint = np.repeat(np.arange(NJ), [len(r) for r, _ in pairs])
        s = sim[rows, cols, joint]
        hit = s[None, :] >= ALPHAS[:, None] - EPS  # (19, M)
        per_joint = np.eye(NJ)[joint]  # (M, 15)
        tp = hit @ per_joint
        res["TP"] += tp
        res["FN"] += gt_valid.sum(0) - tp
        res["FP"] += pr_valid.sum(0) - tp
        res["LocA"] += (hit * s) @ per_joint
        a, m = np.nonzero(hit)
        hits.append((a, gi[rows[m]], pi[cols[m]], joint[m]))
    matches = np.zeros((len(ALPHAS), n_gt_ids, n_pr_ids, NJ))
    if hits:
        np.add.at(matches, tuple(np.concatenate(parts) for parts in zip(*hits)), 1)
    return _with_joint_column(finish(res, matches, gt_count, pr_count))


def finish(res: dict[str, np.ndarray], matches: np.ndarray, gt_count: np.ndarray,
           pr_count: np.ndarray) -> dict[str, np.ndarray]:
    """One sequence's HOTA fields from its counts (``res``: TP, FN, FP and the summed LocA of the true positives,
    per α) and its identity pairs: ``matches`` (19, G, P, ...) true positives of each ground-truth / predicted
    identity pair per α, ``gt_count`` (G, 1, ...) and ``pr_count`` (1, P, ...) each identity's detections (TrackEval's
    and the PoseTrack21 kit's association scores; the trailing axes are the kit's joints, or none for boxes)."""
    tp = np.maximum(1, res["TP"])
    union = np.maximum(1, gt_count + pr_count - matches)
    res["AssA"] = (matches * matches / union).sum((1, 2)) / tp
    res["AssRe"] = (matches * matches / np.maximum(1, gt_count)).sum((1, 2)) / tp
    res["AssPr"] = (matches * matches / np.maximum(1, pr_count)).sum((1, 2)) / tp
    res["LocA"] = np.maximum(1e-10, res["LocA"]) / np.maximum(1e-10, res["TP"])
    return final(res)


def final(res: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The detection fields and HOTA = √(DetA · AssA) from the counts and AssA."""
    tp, fn, fp = res["TP"], res["FN"], res["FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    return res


def _with_joint_column(res: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The kit's per-sequence joint column: the sum for counts, the mean for everything else."""
    return {k: np.concatenate([v, (v.sum if k in ("TP", "FN", "FP") else v.mean)(1, keepdims=True)], 1)
            for k, v in res.items()}


def combine(results: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Sequences' HOTA together, as TrackEval's ``combine_sequences`` and the kit do: counts summed, association
    and localisation weighted by true positives."""
    res = {k: np.sum([r[k] for r in results], axis=0) for k in ("TP", "FN", "FP")}
    weight = np.maximum(1.0, res["TP"])
    for k in ("AssA", "AssRe", "AssPr"):
        res[k] = np.sum([r[k] * r["TP"] for r in results], axis=0) / weight
    loc = np.sum([r["LocA"] * r["TP"] for r in results], axis=0)
    res["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, res["TP"])
    return final(res)


@dataclass
class HotaMetrics:
    """Keypoint HOTA of a set of sequences. ``per_alpha[field]``: (19,) values over ``ALPHAS`` (all joints);
    ``per_joint[field]``: (15,) means over α, the kit's joint order (``KIT_JOINTS``). Fractions (0..1), the
    kit's scale; ``totals()`` are the means over α."""

    per_alpha: dict[str, np.ndarray]
    per_joint: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]  # TP, FN, FP per α, all joints
    alphas: np.ndarray = field(default_factory=lambda: ALPHAS)

    def totals(self) -> dict[str, float]:
        return {k: float(self.per_alpha[k].mean()) for k in FIELDS}


def evaluate_hota(pairs: list[tuple[PoseTrackSequence, PoseTrackSequence]],
                  fix_empty_frames: bool = False) -> HotaMetrics:
    """Keypoint HOTA of (ground truth, prediction) sequence pairs, as the PoseTrack21 kit computes it (with
    ``fix_empty_frames``, without its empty-frame bug)."""
    if not pairs:
        raise PosetrackError("no sequences to evaluate")
    combined = combine([_sequence(g, p, fix_empty_frames) for g, p in pairs])
    return HotaMetrics({k: combined[k][:, NJ] for k in FIELDS}, {k: combined[k][:, :NJ].mean(0) for k in FIELDS},
                       {k: combined[k][:, NJ] for k in ("TP", "FN", "FP")})
