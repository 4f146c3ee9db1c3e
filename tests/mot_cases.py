"""The MOTChallenge cases ``posetrack eval --mot`` is checked on against py-motmetrics and TrackEval: hand-made
edge cases, and predictions made from the real sequences' ground truth by seeded perturbations (dropped boxes,
jitter, identity swaps, false positives), written to a folder in MOTChallenge's layout.

The reference values (``data/mot/reference.json``) come from the tools themselves, in environments of their own:
``python benchmarks/mot-eval/reference.py`` (it imports this module to write the very same files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Row = tuple[int, int, float, float, float, float, float]  # frame, id, x, y, w, h, conf


def _box(x: float, y: float, w: float = 40.0, h: float = 100.0) -> tuple[float, float, float, float]:
    return (x, y, w, h)


def edge_cases() -> dict[str, tuple[list[Row], list[Row], int]]:
    """name → (ground truth, predictions, sequence length), hand-made."""
    cases: dict[str, tuple[list[Row], list[Row], int]] = {}
    walk = [(t, i, *_box(50 + 10 * t + 200 * i, 80), 1.0) for t in range(1, 13) for i in (1, 2)]
    cases["perfect"] = (walk, [(f, i + 10, x, y, w, h, 0.9) for f, i, x, y, w, h, _ in walk], 12)
    # two people cross; the tracker swaps their identities at frame 7 and misses person 2 in frames 4-5
    cross = [(t, i, *_box(60 + 20 * t if i == 1 else 300 - 20 * t, 60), 1.0) for t in range(1, 13) for i in (1, 2)]
    swapped = [(f, (i if f < 7 else 3 - i) + 20, x + 3, y - 2, w, h, 0.8) for f, i, x, y, w, h, _ in cross
               if not (i == 2 and f in (4, 5))]
    cases["switch"] = (cross, swapped, 12)
    # gaps: a ground-truth person matched, missed, matched, missed, matched (fragmentations); a track born late
    frag = [(t, 1, *_box(100, 100), 1.0) for t in range(1, 16)] + [(t, 2, *_box(300, 100), 1.0) for t in range(1, 16)]
    frag_pred = [(t, 7, *_box(101, 99), 0.9) for t in range(1, 16) if t not in (4, 5, 9)] + \
                [(t, 8, *_box(302, 101), 0.9) for t in range(10, 16)]
    cases["fragments"] = (frag, frag_pred, 16)
    cases["empty-predictions"] = (walk, [], 12)
    # frames with predictions and no ground truth, and ground truth with no predictions
    gaps = [(t, 1, *_box(100, 50), 1.0) for t in (1, 2, 3, 8, 9)]
    gaps_pred = [(t, 5, *_box(102, 51), 0.7) for t in (1, 2, 5, 6, 9)]
    cases["empty-frames"] = (gaps, gaps_pred, 10)
    # IoU exactly 0.5 (a box half as wide, inside) is a match for motmetrics (distance <= 0.5); 0.49 is not
    edge = [(1, 1, 0.0, 0.0, 100.0, 100.0, 1.0), (1, 2, 400.0, 0.0, 100.0, 100.0, 1.0),
            (2, 1, 0.0, 0.0, 100.0, 100.0, 1.0), (2, 2, 400.0, 0.0, 100.0, 100.0, 1.0)]
    edge_pred = [(1, 1, 0.0, 0.0, 50.0, 100.0, 0.9), (1, 2, 400.0, 0.0, 49.0, 100.0, 0.9),
                 (2, 1, 0.0, 0.0, 50.0, 100.0, 0.9), (2, 2, 400.0, 0.0, 49.0, 100.0, 0.9)]
    cases["iou-half"] = (edge, edge_pred, 2)
    # ground-truth rows with confidence 0 are to be ignored (a prediction on one is a false positive)
    ignored = walk + [(t, 9, *_box(700, 80), 0.0) for t in range(1, 13)]
    cases["ignored-rows"] = (ignored, [*cases["perfect"][1], *[(t, 30, *_box(701, 81), 0.5) for t in range(1, 13)]],
                             12)
    cases["random"] = _random_case(np.random.default_rng(5))
    return cases


def _random_case(rng: np.random.Generator, people: int = 9, frames: int = 60) -> tuple[list[Row], list[Row], int]:
    gt: list[Row] = []
    start = rng.uniform(0, 600, (people, 2))
    velocity = rng.normal(0, 4, (people, 2))
    life = np.sort(rng.integers(1, frames + 1, (people, 2)), 1)
    for t in range(1, frames + 1):
        for i in range(people):
            if life[i, 0] <= t <= life[i, 1]:
                x, y = start[i] + velocity[i] * t
                gt.append((t, i + 1, round(float(x), 2), round(float(y), 2), 50.0, 120.0, 1.0))
    return gt, perturbed(gt, rng), frames


def perturbed(gt: list[Row], rng: np.random.Generator, drop: float = 0.1, jitter: float = 6.0, swaps: int = 3,
              false_positives: int = 12) -> list[Row]:
    """Predictions made from ground truth: boxes dropped and jittered, identities swapped from a frame on, and
    false positives added (identities offset by 1000, so that none equals a ground-truth one by chance)."""
    frames = sorted({r[0] for r in gt})
    ids = sorted({r[1] for r in gt})
    swap_at = {int(f): tuple(rng.choice(ids, 2, replace=False).tolist()) for f in rng.choice(frames, swaps)}
    mapping = {i: i for i in ids}
    out: list[Row] = []
    by_frame: dict[int, list[Row]] = {}
    for r in gt:
        by_frame.setdefault(r[0], []).append(r)
    for f in frames:
        if f in swap_at:
            a, b = swap_at[f]
            mapping[a], mapping[b] = mapping[b], mapping[a]
        for _, i, x, y, w, h, conf in by_frame[f]:
            if conf == 0 or rng.random() < drop:
                continue
            dx, dy, dw, dh = rng.normal(0, jitter, 4)
            out.append((f, mapping[i] + 1000, round(x + dx, 2), round(y + dy, 2), round(max(w + dw, 5), 2),
                        round(max(h + dh, 5), 2), round(float(rng.uniform(0.3, 1)), 4)))
    for k in range(false_positives):
        f = int(rng.choice(frames))
        out.append((f, 5000 + k, *(round(float(v), 2) for v in rng.uniform([0, 0, 20, 50], [600, 400, 80, 200])),
                    0.4))
    return sorted(out)


def real_cases(real: Path) -> dict[str, tuple[list[Row], list[Row], int]]:
    """The real sequences' ground truth, each with predictions perturbed from it (two seeds)."""
    from posetrack.io.mot import read_mot, read_seqinfo

    cases = {}
    for seq in ("TUD-Campus", "TUD-Stadtmitte"):
        boxes = read_mot(real / seq / "gt.txt")
        gt: list[Row] = [(int(f), int(i), *(float(v) for v in b), float(c))  # type: ignore[misc]
                         for f, i, b, c in zip(boxes.frames, boxes.ids, boxes.boxes, boxes.scores)]
        length = read_seqinfo(real / seq / "seqinfo.ini").length
        for seed in (1, 2):
            cases[f"{seq}-{seed}"] = (gt, perturbed(gt, np.random.default_rng(seed)), length)
    return cases


def write_case(gt_root: Path, pred_root: Path, name: str, gt: list[Row], pred: list[Row], length: int) -> None:
    """One case in MOTChallenge's layout: ``gt_root/<name>/gt/gt.txt`` + ``seqinfo.ini``, ``pred_root/<name>.txt``."""
    folder = gt_root / name
    (folder / "gt").mkdir(parents=True, exist_ok=True)
    pred_root.mkdir(parents=True, exist_ok=True)
    (folder / "gt" / "gt.txt").write_text("".join(_line(r) for r in gt))
    (folder / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nframeRate=25\nseqLength={length}\n"
                                        "imWidth=1000\nimHeight=600\nimExt=.jpg\n")
    (pred_root / f"{name}.txt").write_text("".join(_line(r) for r in pred))


def _line(r: Row) -> str:
    f, i, x, y, w, h, c = r
    return f"{f},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{c:g},-1,-1,-1\n"
