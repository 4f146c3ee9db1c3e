"""Box tracking metrics of MOTChallenge files (``posetrack eval --mot GT PRED``), as the reference tools compute
them: CLEAR MOT (MOTA, MOTP, FP, FN, IDSW, MT / PT / ML, fragmentations) and identity (IDF1, IDP, IDR) as
py-motmetrics 1.4.0 does (its ``eval_motchallenge`` app: IoU distance, pairs up to 0.5 apart), box HOTA as
TrackEval does (``MotChallenge2DBox`` with the MOT15 benchmark's preprocessing, ``metrics.HOTA``).

What they do, and so what this module does:

* Ground truth: rows with confidence 0 are ignored (motmetrics reads ground truth with ``min_confidence=1``,
  TrackEval removes "zero-marked" rows); the class columns are not read (MOT15 has none).
* Boxes are compared by IoU of their ``x, y, w, h`` rectangles. CLEAR MOT pairs a ground-truth box and a
  prediction when their distance 1 − IoU is at most 0.5, keeping last frame's pairs first (``eval.clear``);
  frames are those of either file. MOTP here is the mean IoU of the matches (MOTChallenge's and TrackEval's
  convention), 1 − py-motmetrics' ``motp`` (a distance).
* MT / PT / ML: ground-truth identities matched in at least 80 %, 20-80 %, under 20 % of their frames; a
  fragmentation is a track going from matched to missed between its first and last match.
* HOTA: per frame, a Hungarian matching of score (IoU x the identities' global alignment), then for each α in
  0.05 … 0.95 the pairs with IoU ≥ α are true positives; DetA, AssA, LocA and HOTA = √(DetA · AssA) per α, reported
  as their mean over α. Sequences are combined by summing counts and weighting AssA / AssRe / AssPr / LocA by true
  positives. The sequence length is ``seqinfo.ini``'s (else the last frame of either file).
* Totals over sequences: counts summed, MOTA / IDF1 / precision / recall from the sums, MOTP weighted by matches.
  (Where a sequence has no match, py-motmetrics' OVERALL MOTP is NaN, its weighted mean taking the sequence's NaN;
  here it is the mean IoU over the matches that exist.) An undefined ratio (no object, no match) is NaN, null in
  JSON.

Every value is a fraction (``mota``: 0.823), or a count.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from posetrack.errors import PosetrackError
from posetrack.eval.clear import MotAccumulator
from posetrack.eval.hota import ALPHAS, EPS, FIELDS, combine, final, finish
from posetrack.io.mot import MotBoxes, read_mot, read_seqinfo

MAX_DISTANCE = 0.5  # 1 - IoU: motmetrics' ``distth``
CLEAR = ("mota", "motp", "idf1", "idp", "idr", "recall", "precision", "num_objects", "num_predictions", "tp", "fp",
         "fn", "idsw", "mt", "pt", "ml", "frag", "num_unique_objects")
HOTA = tuple(f.lower() for f in FIELDS)  # hota, deta, assa, loca, detre, detpr, assre, asspr
METRICS = CLEAR + HOTA


@dataclass(frozen=True)
class MotSequence:
    """One sequence to score: its name, ground truth (ignored rows removed), predictions, length in frames."""

    name: str
    gt: MotBoxes
    pred: MotBoxes
    length: int


def box_iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of (N, 4) and (M, 4) ``x, y, w, h`` boxes (0 where a box has no area or nothing overlaps)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.prod(np.maximum(hi - lo, 0), axis=-1)
    area_a, area_b = np.prod(a[:, 2:], axis=1), np.prod(b[:, 2:], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    inter[(area_a <= EPS)[:, None] | (area_b <= EPS)[None, :] | (union <= EPS)] = 0
    return inter / np.where(union <= EPS, 1.0, union)


# ---------------------------------------------------------------------------------------------- CLEAR MOT


@dataclass
class _Clear:
    """One sequence's CLEAR-MOT bookkeeping and, per ground-truth identity, its frames and matched frames in order."""

    acc: MotAccumulator = field(default_factory=MotAccumulator)
    states: dict[int, list[bool]] = field(default_factory=dict)

    def frame(self, gt: MotBoxes, pred: MotBoxes) -> None:
        dist = 1.0 - box_iou_xywh(gt.boxes, pred.boxes)
        dist[dist > MAX_DISTANCE] = np.nan
        matched = self.acc.update(gt.ids, pred.ids, dist)
        for oid, hit in zip(gt.ids.tolist(), matched.tolist()):
            self.states.setdefault(oid, []).append(hit)

    def counts(self) -> dict[str, float]:
        a = self.acc
        ratios = [sum(s) / len(s) for s in self.states.values()]
        return {"num_objects": a.objects, "num_predictions": a.predictions, "tp": a.detections,
                "fp": a.false_positives, "fn": a.misses, "idsw": a.switches, "idtp": a.identity_matches(),
                "iou_sum": a.detections - a.match_d, "mt": sum(r >= 0.8 for r in ratios),
                "pt": sum(0.2 <= r < 0.8 for r in ratios), "ml": sum(r < 0.2 for r in ratios),
                "frag": sum(_fragmentations(s) for s in self.states.values()), "num_unique_objects": len(ratios)}


def _fragmentations(hits: list[bool]) -> int:
    """Switches from matched to missed between the first and the last match."""
    on = [i for i, hit in enumerate(hits) if hit]
    if not on:
        return 0
    span = hits[on[0]:on[-1] + 1]
    return sum(1 for before, now in itertools.pairwise(span) if before and not now)


def clear_scores(c: dict[str, float]) -> dict[str, float]:
    """The ratios of summed CLEAR / identity counts."""
    def ratio(x: float, y: float) -> float:
        return x / y if y else float("nan")  # undefined (no object, no match): NaN, as motmetrics has it

    return {"mota": 1.0 - ratio(c["fn"] + c["idsw"] + c["fp"], c["num_objects"]), "motp": ratio(c["iou_sum"], c["tp"]),
            "idf1": ratio(2 * c["idtp"], c["num_objects"] + c["num_predictions"]),
            "idp": ratio(c["idtp"], c["num_predictions"]), "idr": ratio(c["idtp"], c["num_objects"]),
            "recall": ratio(c["tp"], c["num_objects"]), "precision": ratio(c["tp"], c["tp"] + c["fp"])}


# ---------------------------------------------------------------------------------------------- HOTA


def _hota_sequence(seq: MotSequence) -> dict[str, np.ndarray]:
    """TrackEval's HOTA of one sequence: per α, the counts and the association, localisation and detection fields."""
    n = len(ALPHAS)
    res = {k: np.zeros(n) for k in ("TP", "FN", "FP", "LocA")}
    if len(seq.pred) == 0 or len(seq.gt) == 0:
        res["FN" if len(seq.pred) == 0 else "FP"][:] = len(seq.gt) or len(seq.pred)
        res.update({"AssA": np.zeros(n), "AssRe": np.zeros(n), "AssPr": np.zeros(n), "LocA": np.ones(n)})
        return final(res)
    gt_ids, gt_index = np.unique(seq.gt.ids, return_inverse=True)
    pr_ids, pr_index = np.unique(seq.pred.ids, return_inverse=True)
    frames = []
    for t in range(1, seq.length + 1):
        g, p = seq.gt.frames == t, seq.pred.frames == t
        frames.append((gt_index[g], pr_index[p], box_iou_xywh(seq.gt.boxes[g], seq.pred.boxes[p])))
    potential = np.zeros((len(gt_ids), len(pr_ids)))
    gt_count, pr_count = np.zeros((len(gt_ids), 1)), np.zeros((1, len(pr_ids)))
    for g, p, sim in frames:
        denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
        sim_iou = np.zeros_like(sim)
        mask = denom > EPS
        sim_iou[mask] = sim[mask] / denom[mask]
        potential[g[:, None], p[None, :]] += sim_iou
        gt_count[g] += 1
        pr_count[0, p] += 1
    alignment = potential / (gt_count + pr_count - potential)
    matches = np.zeros((n, len(gt_ids), len(pr_ids)))
    for g, p, sim in frames:
        if len(g) == 0 or len(p) == 0:
            res["FP"] += len(p)
            res["FN"] += len(g)
            continue
        rows, cols = linear_sum_assignment(-(alignment[g[:, None], p[None, :]] * sim))
        for a, alpha in enumerate(ALPHAS):
            ok = sim[rows, cols] >= alpha - EPS
            r, c = rows[ok], cols[ok]
            res["TP"][a] += len(r)
            res["FN"][a] += len(g) - len(r)
            res["FP"][a] += len(p) - len(r)
            if len(r):
                res["LocA"][a] += sim[r, c].sum()
                matches[a][g[r], p[c]] += 1
    return finish(res, matches, gt_count, pr_count)


def hota_scores(res: dict[str, np.ndarray]) -> dict[str, float]:
    """TrackEval's final fields, each the mean over α, under lower-case names."""
    return {k.lower(): float(np.mean(res[k])) for k in FIELDS}


# ---------------------------------------------------------------------------------------------- the report


@dataclass
class MotReport:
    """Per sequence and in total: every metric of ``METRICS`` (fractions and counts)."""

    sequences: dict[str, dict[str, float]]
    total: dict[str, float]

    def to_json(self) -> dict[str, object]:
        """The metrics as JSON values (an undefined ratio, such as MOTP without a match, as null)."""
        def clean(m: dict[str, float]) -> dict[str, float | None]:
            return {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in m.items()}

        return {"sequences": {k: clean(v) for k, v in self.sequences.items()}, "total": clean(self.total)}

    def table(self) -> str:
        """A table for people: percentages for the ratios, counts as counts."""
        columns = ("mota", "idf1", "hota", "motp", "deta", "assa", "recall", "precision", "idsw", "fp", "fn", "mt",
                   "pt", "ml", "frag")
        rows = [("sequence", *(HEADERS.get(c, c.upper()) for c in columns))]
        for name, m in [*self.sequences.items(), ("total", self.total)]:
            rows.append((name, *(_cell(m[c]) for c in columns)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in
                                   enumerate(zip(row, widths))) for row in rows)


HEADERS = {"deta": "DetA", "assa": "AssA", "recall": "Rcll", "precision": "Prcn", "frag": "Frag"}


def _cell(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return "-" if np.isnan(value) else f"{100 * value:.1f}"


def evaluate_mot(sequences: list[MotSequence]) -> MotReport:
    """CLEAR MOT, identity and HOTA of each sequence and in total (see the module docstring)."""
    per: dict[str, dict[str, float]] = {}
    counts: list[dict[str, float]] = []
    hotas: list[dict[str, np.ndarray]] = []
    for seq in sequences:
        clear = _Clear()
        for t in sorted(set(seq.gt.frames.tolist()) | set(seq.pred.frames.tolist())):
            clear.frame(seq.gt.in_frame(t), seq.pred.in_frame(t))
        c = clear.counts()
        h = _hota_sequence(seq)
        counts.append(c)
        hotas.append(h)
        per[seq.name] = _metrics(c, h)
    total_counts = dict(sum((Counter(c) for c in counts), Counter()))
    total = _metrics({k: total_counts.get(k, 0) for k in counts[0]} if counts else {}, combine(hotas)) \
        if counts else {}
    return MotReport(per, total)


def _metrics(c: dict[str, float], h: dict[str, np.ndarray]) -> dict[str, float]:
    out = {k: float(v) for k, v in {**clear_scores(c), **hota_scores(h)}.items()}
    out.update({k: int(c[k]) for k in ("num_objects", "num_predictions", "tp", "fp", "fn", "idsw", "mt", "pt", "ml",
                                        "frag", "num_unique_objects")})
    return {k: out[k] for k in METRICS}


# ---------------------------------------------------------------------------------------------- files


def mot_sequence(name: str, gt_file: Path, pred_file: Path, length: int | None = None) -> MotSequence:
    """A sequence from its ground-truth and prediction files (ground-truth rows with confidence 0 ignored); the
    length from ``seqinfo.ini`` where known, else the last frame of either file.

    Raises:
        PosetrackError: a file that cannot be read, an identity twice in one frame, or predictions past the end.
    """
    gt, pred = read_mot(gt_file), read_mot(pred_file)
    gt = gt.take(gt.scores != 0)
    for boxes, path in ((gt, gt_file), (pred, pred_file)):
        pairs = Counter(zip(boxes.frames.tolist(), boxes.ids.tolist()))
        twice = next((k for k, n in pairs.items() if n > 1), None)
        if twice is not None:
            raise PosetrackError(f"{path}: identity {twice[1]} appears twice in frame {twice[0]}")
    last = int(max(gt.frames.max(initial=0), pred.frames.max(initial=0)))
    if length is not None and last > length:
        raise PosetrackError(f"{pred_file}: frame {last} is past the sequence's {length} frames (its seqinfo.ini)")
    return MotSequence(name, gt, pred, length or last)


def read_mot_sequences(gt: str | Path, pred: str | Path) -> list[MotSequence]:
    """The sequences to score: two files, or MOTChallenge's folders as TrackEval reads them (``GT/<seq>/gt/gt.txt``
    with ``GT/<seq>/seqinfo.ini``, predictions ``PRED/<seq>.txt``); a ``GT/<seq>/gt.txt`` beside its seqinfo.ini is
    read too.

    Raises:
        PosetrackError: a missing file or folder, no sequence, or a sequence without predictions (naming it).
    """
    gt, pred = Path(gt), Path(pred)
    for path in (gt, pred):
        if not path.exists():
            raise PosetrackError(f"{path}: no such file or folder")
    if gt.is_file() and pred.is_file():
        return [mot_sequence(pred.stem, gt, pred)]
    if gt.is_file() or pred.is_file():
        raise PosetrackError(f"give two files or two folders: {gt} and {pred}")
    sequences = []
    for folder in sorted(p for p in gt.iterdir() if p.is_dir()):
        truth = next((f for f in (folder / "gt" / "gt.txt", folder / "gt.txt") if f.is_file()), None)
        if truth is None:
            continue
        info = folder / "seqinfo.ini"
        length = read_seqinfo(info).length if info.is_file() else None
        mine = pred / f"{folder.name}.txt"
        if not mine.is_file():
            raise PosetrackError(f"{mine}: no predictions for sequence {folder.name} (PRED/<seq>.txt)")
        sequences.append(mot_sequence(folder.name, truth, mine, length))
    if not sequences:
        raise PosetrackError(f"{gt}: no sequences (expected GT/<seq>/gt/gt.txt)")
    return sequences
