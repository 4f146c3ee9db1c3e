"""CLEAR-MOT bookkeeping (Bernardin & Stiefelhagen 2008) and the identity measures (Ristani et al. 2016), event for
event as py-motmetrics 1.4.0 keeps them: what poseval's tracking metrics (``eval.poseval``) and the box tracking
metrics of MOTChallenge files (``eval.mot``) are computed from."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.optimize import linear_sum_assignment


class MotAccumulator:
    """CLEAR-MOT event bookkeeping for one joint of one sequence, following motmetrics 1.4.0's ``update``:
    keep last frame's pairs where still within reach, assign the rest by minimum total distance (maximum
    number of pairs first), count switches, and sum every distance of the event table."""

    def __init__(self) -> None:
        self.pairs: dict[int, int] = {}  # object -> hypothesis it was last matched with
        self.owner: dict[int, int] = {}  # hypothesis -> object it was last assigned to
        self.matched_objects: set[int] = set()
        self.seen_hypotheses: set[int] = set()
        self.matches = self.switches = self.misses = self.false_positives = 0
        self.sum_d = 0.0  # every distance of the event table (raw pairs included: what poseval's MOTP sums)
        self.match_d = 0.0  # the distances of the MATCH and SWITCH events (what motmetrics' MOTP sums)
        # identity bookkeeping (IDF1): frames each object / hypothesis appears in, frames each pair is in reach
        self.object_frames: Counter[int] = Counter()
        self.hypothesis_frames: Counter[int] = Counter()
        self.pair_frames: Counter[tuple[int, int]] = Counter()
        self.idtp = 0  # identity true positives, summed over sequences in totals (``identity_matches`` per sequence)

    @property
    def objects(self) -> int:
        return self.matches + self.switches + self.misses

    @property
    def detections(self) -> int:
        return self.matches + self.switches

    def update(self, oids: np.ndarray, hids: np.ndarray, dist: np.ndarray) -> np.ndarray:
        """One frame: object ids (N,), hypothesis ids (M,), distances (N, M) (NaN: out of reach). Returns (N,) bool:
        the objects matched in this frame (a MATCH or a SWITCH)."""
        dist = dist.astype(np.float64).reshape(len(oids), len(hids)).copy()
        self.sum_d += float(dist[np.isfinite(dist)].sum())  # the RAW events
        self.object_frames.update(oids.tolist())
        self.hypothesis_frames.update(hids.tolist())
        self.pair_frames.update((int(oids[i]), int(hids[j])) for i, j in zip(*np.nonzero(np.isfinite(dist))))
        o_used = np.zeros(len(oids), bool)
        h_used = np.zeros(len(hids), bool)
        if len(oids) and len(hids):
            for i, o in enumerate(oids.tolist()):  # 1. keep established pairs
                if o not in self.pairs:
                    continue
                js = np.flatnonzero(~h_used & (hids == self.pairs[o]))
                if len(js) and np.isfinite(dist[i, js[0]]):
                    j = js[0]
                    o_used[i] = h_used[j] = True
                    self.matches += 1
                    self.sum_d += dist[i, j]
                    self.match_d += dist[i, j]
                    self.matched_objects.add(o)
                    self.seen_hypotheses.add(int(hids[j]))
            dist[o_used, :] = np.nan
            dist[:, h_used] = np.nan
            for i, j in zip(*_assign(dist)):  # 2. the rest by assignment
                o, h, d = int(oids[i]), int(hids[j]), dist[i, j]
                switch = o in self.pairs and self.pairs[o] != h
                if switch and h not in self.seen_hypotheses:
                    self.sum_d += d  # ASCEND event
                if h in self.owner and self.owner[h] != o:
                    if o not in self.matched_objects:
                        self.sum_d += d  # MIGRATE event
                    self.sum_d += d  # TRANSFER event
                self.seen_hypotheses.add(h)
                self.matched_objects.add(o)
                self.sum_d += d
                self.match_d += d
                self.switches += switch
                self.matches += not switch
                o_used[i] = h_used[j] = True
                self.pairs[o], self.owner[h] = h, o
        self.misses += int((~o_used).sum())
        self.false_positives += int((~h_used).sum())
        return o_used


    @property
    def predictions(self) -> int:
        return self.matches + self.switches + self.false_positives

    def identity_matches(self) -> int:
        """IDTP as motmetrics' global ID assignment finds it: objects and hypotheses paired one to one for the
        whole sequence so that the frames each pair spends within reach sum to the most (motmetrics minimises
        IDFP + IDFN over the same pairs, which is the same assignment)."""
        if not self.pair_frames:
            return 0
        objects = {o: i for i, o in enumerate(sorted({o for o, _ in self.pair_frames}))}
        hypotheses = {h: i for i, h in enumerate(sorted({h for _, h in self.pair_frames}))}
        together = np.zeros((len(objects), len(hypotheses)))
        for (o, h), n in self.pair_frames.items():
            together[objects[o], hypotheses[h]] = n
        rows, cols = linear_sum_assignment(-together)
        return int(together[rows, cols].sum())


def _assign(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment over finite entries, most pairs first (motmetrics' expensive-edge scheme)."""
    valid = np.isfinite(dist)
    if not valid.any():
        return np.zeros(0, int), np.zeros(0, int)
    costs = dist
    if not valid.all():
        big = 2 * min(dist.shape) * (np.abs(dist[valid]).max() + 1) + 1
        costs = np.where(valid, dist, big)
    rows, cols = linear_sum_assignment(costs)
    keep = valid[rows, cols]
    return rows[keep], cols[keep]
