"""Writes the HOTA test scenarios: ``<scenario>/gt/<seq>.json`` and ``<scenario>/pred/<seq>.json`` (PoseTrack
files with head boxes and ignore-region keys, which the PoseTrack21 kit requires).

    python tests/data/hota/make_scenarios.py    # rewrites the scenario folders (deterministic)

``expected.json`` in each folder holds the kit's numbers for it (``run_kit.py``, in the kit's own environment).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
# a standing figure in PoseTrack-17 order (nose, head_bottom, head_top, ears, shoulders, elbows, wrists, hips,
# knees, ankles), in units of the head size, origin at the neck
TEMPLATE = np.array([[0, -0.6], [0, 0], [0, -1.4], [-0.3, -0.7], [0.3, -0.7], [-0.8, 0.3], [0.8, 0.3], [-1.0, 1.6],
                     [1.0, 1.6], [-1.1, 2.8], [1.1, 2.8], [-0.5, 3.2], [0.5, 3.2], [-0.5, 4.8], [0.5, 4.8],
                     [-0.5, 6.4], [0.5, 6.4]])
NAMES = ["nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
         "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
         "right_ankle"]


def pose(neck: np.ndarray, size: float) -> np.ndarray:
    return neck + TEMPLATE * size


def annotation(image_id: int, track_id: int, kp: np.ndarray, size: float, scores: bool = True,
               head: bool = True) -> dict:
    """A person: keypoints (17, 2) with (0, 0) meaning absent."""
    flat = []
    for x, y in kp:
        flat += [round(float(x), 2), round(float(y), 2), 0 if x == 0 and y == 0 else 1]
    ann = {"image_id": image_id, "track_id": int(track_id), "keypoints": flat, "category_id": 1}
    if head:
        hx, hy = kp[2] - size * 0.5
        ann["bbox_head"] = [round(float(hx), 2), round(float(hy), 2), round(size, 2), round(size * 1.4, 2)]
    if scores:
        ann["scores"] = [0.9] * 17
    return ann


def sequence(name: str, frames: list[list[dict]], labeled: list[bool] | None = None,
             regions: list[list[np.ndarray]] | None = None) -> dict:
    images, anns = [], []
    for t, people in enumerate(frames):
        image_id = int(f"1{name.split('_')[0]}{t:04d}")
        polys = regions[t] if regions else []
        images.append({"file_name": f"images/val/{name}/{t:06d}.jpg", "id": image_id, "frame_id": image_id,
                       "vid_id": name.split("_")[0], "nframes": len(frames),
                       "is_labeled": True if labeled is None else labeled[t],
                       "ignore_regions_x": [[float(v) for v in p[:, 0]] for p in polys],
                       "ignore_regions_y": [[float(v) for v in p[:, 1]] for p in polys]})
        for k, person in enumerate(people):
            anns.append({**person, "image_id": image_id, "id": image_id * 100 + k})
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": NAMES}]}


def people(t: int, tracks: dict[int, tuple[np.ndarray, np.ndarray, float]]) -> dict[int, np.ndarray]:
    """Keypoints of each track at frame t: start (2,), velocity (2,), size."""
    return {tid: pose(start + t * vel, size) for tid, (start, vel, size) in tracks.items()}


TRACKS = {1: (np.array([100.0, 80.0]), np.array([4.0, 0.0]), 20.0),
          2: (np.array([400.0, 90.0]), np.array([-4.0, 0.0]), 18.0),
          3: (np.array([250.0, 60.0]), np.array([0.0, 1.0]), 12.0)}


def crowd_scene(rng: np.random.Generator, frames: int, noise: float, tracks=TRACKS):
    """Ground-truth frames and noisy predicted keypoints of the same people (dicts track -> (17, 2))."""
    gt, pred = [], []
    for t in range(frames):
        now = people(t, tracks)
        gt.append(now)
        pred.append({tid: kp + rng.normal(0, noise, kp.shape) for tid, kp in now.items()})
    return gt, pred


def as_frames(name: str, frames: list[dict[int, np.ndarray]], ids=lambda t, tid: tid, scores: bool = True,
              head: bool = True, sizes=TRACKS) -> list[list[dict]]:
    image = lambda t: int(f"1{name.split('_')[0]}{t:04d}")  # noqa: E731
    return [[annotation(image(t), ids(t, tid), kp, sizes[tid][2], scores, head) for tid, kp in frame.items()]
            for t, frame in enumerate(frames)]


def write(scenario: str, seqs: dict[str, tuple[dict, dict]]) -> None:
    for side in ("gt", "pred"):
        (HERE / scenario / side).mkdir(parents=True, exist_ok=True)
    for name, (gt, pred) in seqs.items():
        (HERE / scenario / "gt" / f"{name}.json").write_text(json.dumps(gt, separators=(",", ":")))
        (HERE / scenario / "pred" / f"{name}.json").write_text(json.dumps(pred, separators=(",", ":")))


def main() -> None:
    for old in HERE.iterdir():
        if old.is_dir() and (old / "gt").exists():
            shutil.rmtree(old)
    rng = np.random.default_rng(21)
    name = "000001_mpii_test"

    def simple(gt_frames, pred_frames, pred_ids=lambda t, tid: tid, **kw):
        return (sequence(name, as_frames(name, gt_frames), **kw),
                sequence(name, as_frames(name, pred_frames, pred_ids), **kw))

    gt, pred = crowd_scene(rng, 20, 1.0)
    write("perfect", {name: simple(gt, pred)})
    # identity swap: the same poses, tracks 1 and 2 exchange ids from frame 10 on
    write("swap", {name: simple(gt, pred, lambda t, tid: {1: 2, 2: 1}.get(tid, tid) if t >= 10 else tid)})
    # split: track 3 gets a new id from frame 7, and another from frame 14
    write("split", {name: simple(gt, pred, lambda t, tid: tid + 10 * (t // 7) if tid == 3 else tid)})
    # return after absence: track 2 is gone in frames 6-11 (both sides); the tracker gives it a new id after
    absent = [{k: v for k, v in f.items() if not (k == 2 and 6 <= t <= 11)} for t, f in enumerate(gt)]
    absent_pred = [{k: v for k, v in f.items() if not (k == 2 and 6 <= t <= 11)} for t, f in enumerate(pred)]
    write("return", {name: simple(absent, absent_pred, lambda t, tid: 7 if tid == 2 and t > 11 else tid)})
    # duplicates: a second prediction on track 1 (slightly off) in frames 3-12, with its own id
    dup_pred = as_frames(name, pred)
    for t in range(3, 13):
        twin = annotation(dup_pred[t][0]["image_id"], 50, pred[t][1] + 2.5, 20.0)
        dup_pred[t].append(twin)
    write("duplicates", {name: (sequence(name, as_frames(name, gt)), sequence(name, dup_pred))})
    # empty frames: in frames 4-6 the ground-truth people have no keypoint (box-only annotations, as PoseTrack21
    # has); frames 12-13 have no prediction at all (the kit then counts every ground-truth joint of the sequence
    # as missed: its empty-frame bug). Labeled frames without any ground-truth person crash the kit, so none here.
    empty_gt = [({k: np.zeros((17, 2)) for k in f} if 4 <= t <= 6 else f) for t, f in enumerate(gt)]
    empty_pred = [({} if 12 <= t <= 13 else f) for t, f in enumerate(pred)]
    write("empty_frames", {name: simple(empty_gt, empty_pred)})
    # ignore regions: a box over track 3's legs in every frame, and over all of track 2 in frames 0-4
    regions = []
    for t in range(20):
        legs = people(t, TRACKS)[3]
        polys = [np.array([[legs[11, 0] - 15, legs[11, 1] - 2], [legs[12, 0] + 15, legs[11, 1] - 2],
                           [legs[12, 0] + 15, legs[16, 1] + 10], [legs[11, 0] - 15, legs[16, 1] + 10]])]
        if t < 5:
            body = people(t, TRACKS)[2]
            polys.append(np.array([[body[:, 0].min() - 30, body[:, 1].min() - 30],
                                   [body[:, 0].max() + 30, body[:, 1].min() - 30],
                                   [body[:, 0].max() + 30, body[:, 1].max() + 30],
                                   [body[:, 0].min() - 30, body[:, 1].max() + 30]]))
        regions.append(polys)
    write("ignore_regions", {name: simple(gt, pred, regions=regions)})
    # unlabeled frames: every third frame is not labeled, its predictions are nonsense
    labeled = [t % 3 != 0 for t in range(20)]
    junk = [({9: pose(np.array([30.0, 30.0]), 10.0)} if not labeled[t] else f) for t, f in enumerate(pred)]
    sizes = {**TRACKS, 9: (None, None, 10.0)}
    write("unlabeled", {name: (sequence(name, as_frames(name, gt), labeled=labeled),
                               sequence(name, as_frames(name, junk, sizes=sizes), labeled=labeled))})
    # missing scores, keypoints at (0, 0) and at negative x, persons without any keypoint
    holes = []
    for t, f in enumerate(pred):
        frame = {}
        for tid, kp in f.items():
            kp = kp.copy()
            kp[(t + tid) % 17] = 0.0
            kp[(t * 3 + tid) % 17, 0] = -4.0
            frame[tid] = kp
        holes.append(frame)
    hole_frames = as_frames(name, holes, scores=False)
    hole_frames[5].append(annotation(hole_frames[5][0]["image_id"], 60, np.zeros((17, 2)), 10.0, scores=False))
    write("missing", {name: (sequence(name, as_frames(name, gt)), sequence(name, hole_frames))})
    # several sequences with everything at once: noise, swaps, misses, false positives
    seqs = {}
    for s in range(4):
        seq_name = f"00000{s + 2}_mpii_test"
        tracks = {tid: (rng.uniform([50, 40], [500, 150]), rng.normal(0, 3, 2), rng.uniform(10, 24))
                  for tid in range(1, 3 + s)}
        g, p = crowd_scene(rng, 15 + 3 * s, 0.8 + s, tracks)
        p = [{k: v for k, v in f.items() if rng.random() > 0.15} for f in p]  # misses
        for f in p:
            if rng.random() < 0.3:  # a false positive somewhere
                f[99] = pose(rng.uniform([50, 40], [500, 150]), 15.0)
        swap_at = int(rng.integers(3, 12))
        sizes = {**tracks, 99: (None, None, 15.0)}
        flip = lambda t, tid, swap_at=swap_at: {1: 2, 2: 1}.get(tid, tid) if t >= swap_at else tid  # noqa: E731
        seqs[seq_name] = (sequence(seq_name, as_frames(seq_name, g, sizes=tracks)),
                          sequence(seq_name, as_frames(seq_name, p, flip, sizes=sizes)))
    write("mixed", seqs)


if __name__ == "__main__":
    main()
