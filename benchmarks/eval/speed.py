"""How long the tracking metrics take on a PoseTrack21-validation-sized set: 170 synthetic sequences x 60 labeled
frames x 8 people, predictions with keypoint noise, 10 % misses and an identity shift half-way.

    python benchmarks/eval/speed.py
"""

from __future__ import annotations

import time

import numpy as np

from posetrack.eval.hota import evaluate_hota
from posetrack.eval.tracking import evaluate_pairs
from posetrack.io.posetrack_json import PoseTrackFrame, PoseTrackSequence


def sequences(count: int = 170, frames: int = 60, people: int = 8, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    pairs = []
    for s in range(count):
        start, velocity = rng.uniform(50, 600, (people, 2)), rng.normal(0, 2, (people, 2))
        size, template = rng.uniform(10, 30, people), rng.normal(0, 2, (17, 2))
        gt, pred = [], []
        for t in range(frames):
            kp = start[:, None] + t * velocity[:, None] + template[None] * size[:, None, None]
            flags = np.ones((people, 17), np.int8)
            head = np.concatenate([kp[:, 2] - size[:, None] / 2, kp[:, 2] + size[:, None] / 2], 1)
            gt.append(PoseTrackFrame(np.arange(people), kp, flags, np.zeros((people, 4)), head_boxes=head))
            keep = rng.random(people) > 0.1
            ids = np.arange(people)[keep]
            if t > frames // 2:
                ids = (ids + 1) % people
            noisy = kp[keep] + rng.normal(0, 1.5, kp[keep].shape)
            pred.append(PoseTrackFrame(ids, noisy, flags[keep], np.zeros((len(ids), 4)),
                                       scores=np.ones((len(ids), 17))))
        name = f"{s:06d}_mpii_test"
        pairs.append((PoseTrackSequence(name, 1280, 720, gt), PoseTrackSequence(name, 1280, 720, pred)))
    return pairs


def main() -> None:
    pairs = sequences()
    start = time.perf_counter()
    hota = evaluate_hota(pairs)
    print(f"hota: {time.perf_counter() - start:.1f} s (HOTA {100 * hota.totals()['HOTA']:.1f})")
    start = time.perf_counter()
    report = evaluate_pairs(pairs, ("poseval", "idf1"))
    assert report.poseval is not None
    print(f"poseval + idf1: {time.perf_counter() - start:.1f} s (MOTA {report.poseval.total('mota'):.1f}, "
          f"IDF1 {report.poseval.total('idf1'):.1f})")


if __name__ == "__main__":
    main()
