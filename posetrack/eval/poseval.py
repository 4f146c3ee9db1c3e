"""PoseTrack multi-person pose estimation (mAP) and tracking (MOTA, MOTP, precision, recall) metrics, computed
as the official evaluator poseval (commit 4258a15, motmetrics 1.4.0) computes them, quirks included.

What poseval does, and so what this module does:

* Files: one JSON per sequence, same name in the ground-truth and prediction folders; frames paired by position.
  15 joints are scored (ears are not). A keypoint is absent only when it is exactly (0, 0, 0).
* Frames whose ground truth has no person are dropped with their predictions. Keypoints strictly inside a
  ground-truth ignore region are deleted on both sides; a person left without keypoints is deleted.
* Matching (per frame): a predicted joint matches a ground-truth joint within PCKh@0.5 (half of 0.6 x the
  head-box diagonal). Each prediction picks the person it matches best (fraction of that person's joints);
  each person keeps the best of the predictions that picked it.
* mAP: per joint, the predicted joints' scores ranked, labels from the matching above, VOC-style AP; a joint
  never predicted has AP 0. Keypoints without scores rank at -9999.
* Tracking (per joint, per sequence, with CLEAR-MOT bookkeeping as motmetrics does it): the last frame of each
  sequence is left out; a frame without predicted people counts one miss and one false positive per joint
  (placeholder ids 0); MOTP is ``100 (1 - ΣD / detections)`` where ΣD sums every distance in motmetrics' event
  table — raw pairs, matches, switches and the transfer/ascend/migrate annotations alike.
* Totals: plain means over the 15 joints, NaN skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from posetrack.errors import PosetrackError
from posetrack.eval.clear import MotAccumulator
from posetrack.io.posetrack_json import MAX_TRACK_ID, PoseTrackFrame, PoseTrackSequence, read_sequence
from posetrack.skeleton import POSETRACK17

# poseval's joint order and printed names ("neck" is PoseTrack 2018's head_bottom).
JOINTS = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
          "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "head_bottom", "nose",
          "head_top")
PRINTED = tuple("neck" if j == "head_bottom" else j for j in JOINTS)
_FROM_PT17 = np.array([POSETRACK17.index(j) for j in JOINTS])
GROUPS = {
    "head": ("head_top", "head_bottom", "nose"), "shoulder": ("right_shoulder", "left_shoulder"),
    "elbow": ("right_elbow", "left_elbow"), "wrist": ("right_wrist", "left_wrist"),
    "hip": ("right_hip", "left_hip"), "knee": ("right_knee", "left_knee"), "ankle": ("right_ankle", "left_ankle"),
}
NJ = len(JOINTS)
PCKH_THRESHOLD = 0.5
MIN_SCORE = -9999.0


@dataclass
class _People:
    """One side (ground truth or predictions) of one frame, in poseval's joint order."""

    track_ids: np.ndarray  # (N,)
    points: np.ndarray  # (N, 15, 2) float64
    present: np.ndarray  # (N, 15) bool
    scores: np.ndarray  # (N, 15) float64, MIN_SCORE where the file gives none
    head_sizes: np.ndarray | None  # (N,) 0.6 x head-box diagonal

    def __len__(self) -> int:
        return len(self.track_ids)

    def subset(self, keep: np.ndarray) -> _People:
        heads = None if self.head_sizes is None else self.head_sizes[keep]
        return _People(self.track_ids[keep], self.points[keep], self.present[keep], self.scores[keep], heads)


def _people(frame: PoseTrackFrame, id_offset: int) -> _People:
    scores = np.full((len(frame), NJ), MIN_SCORE)
    if frame.scores is not None:
        given = frame.scores[:, _FROM_PT17]
        scores = np.where(np.isnan(given), MIN_SCORE, given)
    heads = None
    if frame.head_boxes is not None:
        heads = 0.6 * np.linalg.norm(frame.head_boxes[:, 2:] - frame.head_boxes[:, :2], axis=1)
    return _People(frame.track_ids + id_offset, frame.keypoints[:, _FROM_PT17].astype(np.float64),
                   frame.flags[:, _FROM_PT17] > 0, scores, heads)


def _drop_ignored(people: _People, regions: list[np.ndarray]) -> _People:
    """Delete keypoints strictly inside an ignore region, then persons left with none."""
    if not regions or not len(people):
        return people
    present = people.present.copy()
    for poly in regions:
        contour = poly.astype(np.float32).reshape(-1, 1, 2)
        for n, j in zip(*np.nonzero(present)):
            x, y = people.points[n, j]
            if cv2.pointPolygonTest(contour, (float(x), float(y)), False) > 0:
                present[n, j] = False
    kept = _People(people.track_ids, people.points, present, people.scores, people.head_sizes)
    return kept.subset(np.asarray(present.any(1)))


@dataclass
class _FrameResult:
    scores: list[np.ndarray]  # per joint: scores of the predicted joints, in poseval's order
    labels: list[np.ndarray]  # per joint: 1 where that predicted joint matched
    n_gt: np.ndarray  # (15,) annotated ground-truth joints
    mot: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per joint: (gt ids, predicted ids, dist G x P)


def _match_frame(gt: _People, pr: _People) -> _FrameResult:
    n_gt = gt.present.sum(0)
    if len(gt) and len(pr):
        if gt.head_sizes is None:
            raise PosetrackError("ground truth without bbox_head: PCKh needs head boxes")
        both = pr.present[:, None, :] & gt.present[None, :, :]
        d = np.linalg.norm(gt.points[None] - pr.points[:, None], axis=-1) / gt.head_sizes[None, :, None]
        dist = np.where(both, d, np.inf)  # (P, G, 15)
        match = dist <= PCKH_THRESHOLD
        per_gt = gt.present.sum(1)
        pck = match.sum(2).astype(np.float64)
        pck = np.where(per_gt[None] > 0, pck / np.maximum(per_gt[None], 1), pck)
        best = np.argmax(pck, axis=1)  # each prediction keeps only its best person
        kept = np.zeros_like(pck)
        rows = np.arange(len(pr))
        kept[rows, best] = pck[rows, best]
        pr_to_gt = np.argmax(kept, axis=0)  # each person keeps the best prediction that chose it
        pr_to_gt[kept.max(axis=0) == 0] = -1
        labels_of = np.zeros((len(pr), NJ), bool)
        for p in range(len(pr)):
            g = np.flatnonzero(pr_to_gt == p)
            if len(g):
                labels_of[p] = match[p, g[0]]
        mot = []
        for j in range(NJ):
            gi, pi = np.flatnonzero(gt.present[:, j]), np.flatnonzero(pr.present[:, j])
            dj = dist[np.ix_(pi, gi)][:, :, j].T if len(gi) and len(pi) else np.zeros((len(gi), len(pi)))
            mj = match[np.ix_(pi, gi)][:, :, j].T if len(gi) and len(pi) else np.zeros((len(gi), len(pi)), bool)
            mot.append((gt.track_ids[gi], pr.track_ids[pi], np.where(mj, dj, np.nan)))
    else:
        labels_of = np.zeros((len(pr), NJ), bool)
        placeholder = (np.zeros(1, np.int64), np.zeros(1, np.int64), np.full((1, 1), np.nan))
        mot = [placeholder] * NJ
    scores = [pr.scores[pr.present[:, j], j] for j in range(NJ)]
    labels = [labels_of[pr.present[:, j], j] for j in range(NJ)]
    return _FrameResult(scores, labels, n_gt, mot)


def _voc_ap(scores: np.ndarray, labels: np.ndarray, total_positive: float) -> float:
    """Precision-recall ranking by score (poseval's sort), then VOC area under the precision envelope."""
    order = np.asarray(scores, np.float64).argsort()[::-1]
    hits = np.cumsum(np.asarray(labels)[order] == 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = hits / total_positive
    precision = hits / np.arange(1, len(order) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


@dataclass
class PoseTrackMetrics:
    """Per-joint metrics in percent, poseval's joint order (``JOINTS``), and the counts behind them."""

    ap: np.ndarray
    mota: np.ndarray
    motp: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    idf1: np.ndarray = field(default_factory=lambda: np.full(NJ, np.nan))
    idp: np.ndarray = field(default_factory=lambda: np.full(NJ, np.nan))
    idr: np.ndarray = field(default_factory=lambda: np.full(NJ, np.nan))

    def total(self, name: str) -> float:
        values = getattr(self, name)
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    def grouped(self, name: str) -> dict[str, float]:
        """Head/shoulder/.../ankle means (poseval's table columns) plus the total."""
        values = getattr(self, name)
        out = {g: float(np.mean([values[JOINTS.index(j)] for j in joints])) for g, joints in GROUPS.items()}
        out["total"] = self.total(name)
        return out

    def summary(self) -> dict[str, object]:
        """``{"mAP": {...}, "MOTA": {...}, "MOTP": ..., "precision": ..., "recall": ...}`` plus per-joint values."""
        out: dict[str, object] = {key: self.grouped(name) for key, name in
               (("mAP", "ap"), ("MOTA", "mota"), ("MOTP", "motp"), ("precision", "precision"), ("recall", "recall"))}
        out["per_joint"] = {
            PRINTED[j]: {"AP": float(self.ap[j]), "MOTA": float(self.mota[j]), "MOTP": float(self.motp[j]),
                         "precision": float(self.precision[j]), "recall": float(self.recall[j]),
                         **{k: float(v[j]) for k, v in self.counts.items()}}
            for j in range(NJ)
        }
        return out

    def identity(self) -> dict[str, float]:
        """``{"IDF1", "IDP", "IDR"}``: means over the joints, in percent (NaN skipped)."""
        return {"IDF1": self.total("idf1"), "IDP": self.total("idp"), "IDR": self.total("idr")}

    def table(self) -> str:
        """The two tables poseval prints, each under poseval's title."""
        def cells(values):
            return "".join("{:>5} &".format(f"{v:1.1f}") for v in values[:-1]) + "{:>5} \\\\".format(f"{values[-1]:1.1f}")
        ap = self.grouped("ap")
        mota = self.grouped("mota")
        head = "& Head & Shou & Elb  & Wri  & Hip  & Knee & Ankl & Total\\\\"
        mot_head = ("& MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTP & Prec & Rec  \\\\\n"
                    "& Head & Shou & Elb  & Wri  & Hip  & Knee & Ankl & Total& Total& Total& Total\\\\")
        mot_row = [*list(mota.values()), self.total("motp"), self.total("precision"), self.total("recall")]
        return (f"Average Precision (AP) metric:\n{head}\n&{cells(list(ap.values()))}\n\n"
                f"Multiple Object Tracking (MOT) metrics:\n{mot_head}\n&{cells(mot_row)}")


def evaluate(pairs: list[tuple[PoseTrackSequence, PoseTrackSequence]]) -> PoseTrackMetrics:
    """Evaluate (ground truth, prediction) sequence pairs, in the order given (poseval: folder order)."""
    frames_all: list[_FrameResult] = []
    accumulators = [MotAccumulator() for _ in range(NJ)]
    for index, (gt_seq, pr_seq) in enumerate(pairs):
        _check_pair(gt_seq, pr_seq)
        offset = index * MAX_TRACK_ID
        results = []
        for gt_frame, pr_frame in zip(gt_seq.frames, pr_seq.frames):
            if not len(gt_frame):
                continue  # frames without ground-truth people are dropped, predictions too
            gt = _drop_ignored(_people(gt_frame, offset), gt_frame.ignore_regions)
            pr = _drop_ignored(_people(pr_frame, offset), gt_frame.ignore_regions)
            results.append(_match_frame(gt, pr))
        if len(results) < 2:
            raise PosetrackError(f"{gt_seq.name}: {len(results)} frame(s) with ground-truth people; "
                                 "tracking evaluation needs at least 2 (poseval leaves the last one out)")
        frames_all += results
        seq_acc = [MotAccumulator() for _ in range(NJ)]
        for result in results[:-1]:  # poseval leaves each sequence's last frame out of the tracking metrics
            for j in range(NJ):
                seq_acc[j].update(*result.mot[j])
        for total, acc in zip(accumulators, seq_acc):
            for attr in ("matches", "switches", "misses", "false_positives", "sum_d"):
                setattr(total, attr, getattr(total, attr) + getattr(acc, attr))
            total.idtp += acc.identity_matches()
    return _metrics(frames_all, accumulators)


def _check_pair(gt: PoseTrackSequence, pr: PoseTrackSequence) -> None:
    if len(gt.frames) != len(pr.frames):
        raise PosetrackError(f"{pr.name}: {len(pr.frames)} prediction frames but {len(gt.frames)} ground-truth frames")
    for i, frame in enumerate(pr.frames):
        ids = frame.track_ids.tolist()
        if len(set(ids)) != len(ids):
            raise PosetrackError(f"{pr.name}: frame {i} repeats a track id")
        if ids and (max(ids) >= MAX_TRACK_ID or min(ids) < 0):
            raise PosetrackError(f"{pr.name}: frame {i} has a track id outside 0..{MAX_TRACK_ID - 1}")


def _metrics(frames: list[_FrameResult], accs: list[MotAccumulator]) -> PoseTrackMetrics:
    ap = np.zeros(NJ)
    n_gt = np.sum([f.n_gt for f in frames], axis=0) if frames else np.zeros(NJ)
    for j in range(NJ):
        scores = np.concatenate([f.scores[j] for f in frames]) if frames else np.zeros(0)
        if len(scores):
            labels = np.concatenate([f.labels[j] for f in frames])
            ap[j] = _voc_ap(scores, labels, n_gt[j]) * 100
    objects = np.array([a.objects for a in accs], np.float64)
    det = np.array([a.detections for a in accs], np.float64)
    fp = np.array([a.false_positives for a in accs], np.float64)
    misses = np.array([a.misses for a in accs], np.float64)
    switches = np.array([a.switches for a in accs], np.float64)
    sum_d = np.array([a.sum_d for a in accs])
    with np.errstate(divide="ignore", invalid="ignore"):
        obj = np.where(objects > 0, objects, np.nan)
        mota = 100 * (1 - (misses + switches + fp) / obj)
        motp = np.where(det > 0, 100 * (1 - sum_d / np.maximum(det, 1)), 0.0)
        precision = 100 * det / np.where(fp + det > 0, fp + det, np.nan)
        recall = 100 * det / obj
    idtp = np.array([a.idtp for a in accs], np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # motmetrics' quiet_divide: 0 / 0 is NaN
        idf1 = 100 * 2 * idtp / (objects + det + fp)
        idp = 100 * idtp / (det + fp)
        idr = 100 * idtp / objects
    counts = {"objects": objects, "misses": misses, "false_positives": fp, "switches": switches,
              "detections": det, "sum_d": sum_d, "idtp": idtp}
    return PoseTrackMetrics(ap, mota, motp, precision, recall, counts, idf1, idp, idr)


def read_pairs(gt: str | Path, pred: str | Path) -> list[tuple[PoseTrackSequence, PoseTrackSequence]]:
    """(ground truth, prediction) of every ``*.json`` of the ground-truth folder (or one file) and the file of the
    same name in ``pred``, in name order."""
    gt, pred = Path(gt), Path(pred)
    if not gt.exists():
        raise PosetrackError(f"{gt}: no such file or folder")
    gt_files = [gt] if gt.is_file() else sorted(gt.glob("*.json"))
    if not gt_files:
        raise PosetrackError(f"{gt}: no .json ground-truth files")
    pairs = []
    for gt_file in gt_files:
        pred_file = pred / gt_file.name if pred.is_dir() else pred
        if not pred_file.is_file():
            raise PosetrackError(f"{pred_file}: prediction file missing (needed for {gt_file.name})")
        pairs.append((read_sequence(gt_file), read_sequence(pred_file)))
    return pairs


def evaluate_folders(gt: str | Path, pred: str | Path) -> PoseTrackMetrics:
    """Evaluate every ``*.json`` of the ground-truth folder (or one file) against the same name in ``pred``."""
    return evaluate(read_pairs(gt, pred))
