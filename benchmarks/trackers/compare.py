"""PoseTracker against third-party box and keypoint trackers, all fed the very same per-frame poses.

    python benchmarks/trackers/compare.py --seeds 700,701 --out benchmarks/trackers        # the held-out report
    python benchmarks/trackers/compare.py --seeds 500,501,502,503,504,505 --out /tmp/val    # validation (tuning)

Steps:
1. record: every clip (preset x seed, 150 frames) is rendered, and the shipped detector (every box scoring at least
   0.1, with its score) and the shipped pose model give the per-frame poses once; a second recording takes the
   ground-truth boxes instead (score 1). Recordings are ``<work>/<clip>-<boxes>.npz`` next to the clip's MP4.
2. peers: ``peers.py`` runs in the peers' own environments (``setup_peers.sh``: boxmot + supervision in one,
   norfair in another, since their NumPy pins conflict) and writes one track id per recorded pose (-1: no output).
3. PoseTracker runs here on the same recordings: ``before`` = the tracker as it was before this study (no score
   threshold of its own, so it gets the poses of the boxes the shipped detector keeps, >= 0.7), ``posetrack`` =
   the current default.
4. oracle: each pose of a box scoring at least 0.3 (PoseTracker's ``low_score``) takes the ground-truth identity of
   the person its box matches (IoU >= 0.5, optimal per frame); unmatched poses get none. Not a tracker: what the
   very same poses score with perfect association, the ceiling of every tracker that outputs them unchanged.
5. scoring: the project's poseval (equal to the official one): MOTA, poseval's ID switches (summed over the 15
   joints), per-person identity switches (ground truth matched to outputs by box IoU >= 0.5), and ms per frame of
   the tracker's own update. A pose a tracker holds back (a detection at or above its own activation threshold that
   gets no id, e.g. an unconfirmed track) is counted both ways: left out, and as a one-frame track.

6. end to end (``--end-to-end``): ``posetrack run`` as shipped (detector, pose model, tracker, re-detection of
   missed people) on the same clips, scored by poseval: mAP and MOTA per preset.

Held out: the seeds given here are never used to tune anything; seeds 500-505 are the validation set.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from posetrack.assemble import build_detector, build_estimator, build_pipeline
from posetrack.demo import track_and_score
from posetrack.eval.tracking import evaluate_pairs
from posetrack.io.posetrack_json import PoseTrackSequence, poses_to_frame, read_sequence
from posetrack.io.sources import open_source
from posetrack.models import DEMO_POSE
from posetrack.options import Options, OutputOptions
from posetrack.synth import PRESETS, SyntheticVideo
from posetrack.synth.files import clip_name, write_clip
from posetrack.track import PoseTracker, TrackerConfig
from posetrack.track.oks import box_iou
from posetrack.types import Poses, TrackedPoses

HERE = Path(__file__).resolve().parent
FRAMES = 150
RECORD_THRESHOLD = 0.1  # every box the trackers may want, ByteTrack's low-score ones included
SHIPPED_THRESHOLD = 0.7  # what `posetrack run` keeps (DEMO_DETECTOR.conf_threshold)
ORACLE_THRESHOLD = TrackerConfig().low_score  # the least confident boxes PoseTracker uses
PEERS = {"boxmot-bytetrack": "boxmot", "boxmot-ocsort": "boxmot", "boxmot-botsort": "boxmot",
         "supervision-bytetrack": "boxmot", "norfair-keypoints": "norfair"}


@dataclass(frozen=True)
class Clip:
    preset: str
    seed: int

    @property
    def name(self) -> str:
        return clip_name(self.preset, self.seed)


def record(clip: Clip, work: Path) -> dict[str, Path]:
    """Render ``clip`` and record its per-frame poses on detector boxes and on ground-truth boxes."""
    scene = replace(PRESETS[clip.preset], frames=FRAMES)
    paths = {b: work / f"{clip.name}-{b}.npz" for b in ("detector", "gt")}
    if all(p.is_file() for p in paths.values()) and (work / f"{clip.name}.json").is_file():
        return paths  # recorded before (same clip, same models)
    video, _ = write_clip(scene, clip.seed, work, clip.name)
    options = Options.demo(runtime__backend="ort", detector__conf=RECORD_THRESHOLD)
    detector, estimator = build_detector(options), build_estimator(options)
    rows: dict[str, list] = {b: [] for b in paths}
    for (frame, truth), decoded in zip(SyntheticVideo(scene, clip.seed), open_source(video)):
        found = detector.detect(decoded)
        for boxes, scores, key in ((found.boxes, found.scores, "detector"),
                                   (truth.boxes, np.ones(len(truth), np.float32), "gt")):
            poses = estimator.estimate(decoded.image, boxes, scores)
            rows[key].append((frame.index, poses))
    w, h = scene.size
    for key, path in paths.items():
        items = rows[key]
        np.savez_compressed(
            path, frame=np.concatenate([np.full(len(p), i, np.int32) for i, p in items]),
            boxes=np.concatenate([p.boxes for _, p in items]), box_scores=np.concatenate([p.box_scores for _, p in items]),
            keypoints=np.concatenate([p.keypoints for _, p in items]), kp_scores=np.concatenate([p.scores for _, p in items]),
            frames=FRAMES, width=w, height=h, video=str(video))
    return paths


def by_frame(rec: dict[str, np.ndarray], skeleton) -> list[tuple[np.ndarray, Poses]]:
    """The recording's (row indices, Poses) per frame."""
    out = []
    for i in range(int(rec["frames"])):
        rows = np.flatnonzero(rec["frame"] == i)
        out.append((rows, Poses(rec["keypoints"][rows], rec["kp_scores"][rows], rec["boxes"][rows],
                                rec["box_scores"][rows], skeleton)))
    return out


def run_posetracker(rec: dict[str, np.ndarray], config: TrackerConfig, min_score: float) -> tuple[np.ndarray, float]:
    """Track ids (-1: not given the pose) and ms per frame of ``PoseTracker(config)`` over a recording, fed the
    poses of boxes scoring at least ``min_score``, with the decoded frames for its optical flow."""
    tracker = PoseTracker(config)
    ids = np.full(len(rec["frame"]), -1, np.int64)
    elapsed = 0.0
    for (rows, poses), frame in zip(by_frame(rec, DEMO_POSE.skeleton), open_source(Path(str(rec["video"])))):
        keep = poses.box_scores >= min_score
        start = time.perf_counter()
        update = tracker.update(poses.take(keep), frame.image)
        elapsed += time.perf_counter() - start
        ids[rows[keep][update.kept]] = update.tracked.track_ids
    return ids, elapsed / int(rec["frames"]) * 1e3


def box_matches(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rows of ``a``, rows of ``b``) of the box pairs an optimal one-to-one assignment by IoU matches
    with IoU >= 0.5; ``a`` (M, 4), ``b`` (N, 4) x1, y1, x2, y2."""
    if not len(a) or not len(b):
        return np.zeros(0, int), np.zeros(0, int)
    iou = box_iou(a.astype(np.float32), b.astype(np.float32))
    rows, cols = linear_sum_assignment(-iou)
    ok = iou[rows, cols] >= 0.5
    return rows[ok], cols[ok]


def oracle_ids(gt: PoseTrackSequence, rec: dict[str, np.ndarray]) -> np.ndarray:
    """Ground-truth identities of the recorded poses whose boxes (scoring >= ``ORACLE_THRESHOLD``) match a
    ground-truth box (``box_matches``); -1 for the others."""
    ids = np.full(len(rec["frame"]), -1, np.int64)
    for i, truth in enumerate(gt.frames):
        rows = np.flatnonzero((rec["frame"] == i) & (rec["box_scores"] >= ORACLE_THRESHOLD))
        mine, theirs = box_matches(rec["boxes"][rows], truth.boxes)
        ids[rows[mine]] = truth.track_ids[theirs]
    return ids


def run_peer(python: str, tracker: str, npz: Path, out: Path) -> tuple[np.ndarray, float, float]:
    """A peer tracker in its own environment: (ids, ms per frame, its activation threshold); a result newer than
    the recording and than ``peers.py`` is reused (peers do not change between runs of this script)."""
    newest = max(npz.stat().st_mtime, (HERE / "peers.py").stat().st_mtime)
    if not out.is_file() or out.stat().st_mtime < newest:
        subprocess.run([python, str(HERE / "peers.py"), tracker, str(npz), str(out)], check=True)
    result = np.load(out)
    return result["ids"], float(result["ms_per_frame"]), float(result["threshold"])


def prediction(gt: PoseTrackSequence, rec: dict[str, np.ndarray], ids: np.ndarray, threshold: float,
               held_back: str) -> PoseTrackSequence:
    """The PoseTrack prediction of one tracker's ids; ``held_back``: ``left out`` or ``one-frame tracks``."""
    ids = ids.copy()
    held = (ids < 0) & (rec["box_scores"] >= threshold)
    if held_back == "one-frame tracks":
        ids[held] = ids.max(initial=0) + 1 + np.arange(int(held.sum()))
    frames = []
    for rows, poses in by_frame(rec, DEMO_POSE.skeleton):
        keep = ids[rows] >= 0
        kept = poses.take(keep)
        frames.append(poses_to_frame(TrackedPoses(kept.keypoints, kept.scores, kept.boxes, kept.box_scores,
                                                  kept.skeleton, ids[rows][keep]), 0.3))
    return PoseTrackSequence(gt.name, gt.width, gt.height, frames)


def person_switches(gt: PoseTrackSequence, pr: PoseTrackSequence) -> int:
    """Identity switches counted per person: each ground-truth person matched to an output (``box_matches``); a
    switch is a matched output id differing from that person's previous matched id."""
    last: dict[int, int] = {}
    switches = 0
    for g, p in zip(gt.frames, pr.frames):
        for r, c in zip(*box_matches(g.boxes, p.boxes)):
            person, output = int(g.track_ids[r]), int(p.track_ids[c])
            switches += person in last and last[person] != output
            last[person] = output
    return switches


@dataclass(frozen=True)
class Row:
    boxes: str
    preset: str
    tracker: str
    held_back: str
    MOTA: float
    switches: float  # poseval, summed over joints
    person_switches: int
    ms_per_frame: float
    clips: int


def score(clips: list[Clip], truths: dict, recs: dict, results: dict, boxes: str, tracker: str,
          held_back: str) -> list[Row]:
    rows = []
    for preset in sorted({c.preset for c in clips}, key=list(PRESETS).index):
        mine = [c for c in clips if c.preset == preset]
        pairs = [(truths[c], prediction(truths[c], recs[c, boxes], *results[c, boxes, tracker][::2], held_back))
                 for c in mine]
        poseval = evaluate_pairs(pairs).poseval
        assert poseval is not None
        rows.append(Row(boxes, preset, tracker, held_back, float(poseval.total("mota")),
                        float(poseval.counts["switches"][:15].sum()), sum(person_switches(*p) for p in pairs),
                        float(np.mean([results[c, boxes, tracker][1] for c in mine])), len(mine)))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="700,701", help="comma-separated clip seeds (default: the held-out 700,701)")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets (default: all)")
    p.add_argument("--out", type=Path, default=HERE, help="report folder (default: benchmarks/trackers)")
    p.add_argument("--work", type=Path, default=Path("/tmp/posetrack-trackers"),
                   help="clips, recordings and tracker outputs (default: /tmp/posetrack-trackers)")
    p.add_argument("--peers-python", default=str(Path("/tmp/peers/bin/python")),
                   help="python of the boxmot + supervision environment (setup_peers.sh)")
    p.add_argument("--norfair-python", default=str(Path("/tmp/norfairenv/bin/python")),
                   help="python of the norfair environment (setup_peers.sh)")
    p.add_argument("--no-peers", action="store_true", help="PoseTracker variants only (tuning)")
    p.add_argument("--end-to-end", action="store_true", help="also `posetrack run` on the clips: mAP and MOTA")
    p.add_argument("--config", type=Path, help="an options file whose [tracker] table PoseTracker runs with (a variant)")
    args = p.parse_args()
    tracker = Options.from_file(args.config).tracker if args.config else TrackerConfig()
    clips = [Clip(pr, int(s)) for pr in args.presets.split(",") for s in args.seeds.split(",")]
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    recs, results = {}, {}
    truths = {}
    for clip in clips:
        paths = record(clip, work)
        truths[clip] = read_sequence(work / f"{clip.name}.json")
        for boxes, path in paths.items():
            recs[clip, boxes] = rec = dict(np.load(path))
            shipped = SHIPPED_THRESHOLD if boxes == "detector" else 0.0
            ids, ms = run_posetracker(rec, tracker, 0.0)
            results[clip, boxes, "posetrack"] = (ids, ms, tracker.high_score if boxes == "detector" else 0.0)
            before = TrackerConfig.oks_only()
            ids, ms = run_posetracker(rec, before, shipped)
            results[clip, boxes, "before"] = (ids, ms, shipped)
            results[clip, boxes, "oracle"] = (oracle_ids(truths[clip], rec), 0.0, ORACLE_THRESHOLD)
            if args.no_peers:
                continue
            for name, env in PEERS.items():
                python = args.peers_python if env == "boxmot" else args.norfair_python
                results[clip, boxes, name] = run_peer(python, name, path, work / f"{path.stem}-{name}.npz")
        print(f"tracked {clip.name}", file=sys.stderr, flush=True)
    trackers = ["posetrack", "before"] + ([] if args.no_peers else list(PEERS)) + ["oracle"]
    rows = [r for boxes in ("gt", "detector") for t in trackers for h in ("left out", "one-frame tracks")
            for r in score(clips, truths, recs, results, boxes, t, h)]
    runs = end_to_end(clips, work, args.config) if args.end_to_end else []
    write_report(rows, runs, clips, args.out)


def end_to_end(clips: list[Clip], work: Path, config: Path | None = None) -> list[dict]:
    """``posetrack run`` (shipped models, ONNX Runtime, FP32; ``config``: an options file) on every clip: mAP and
    MOTA per preset."""
    base = Options.from_file(config) if config else Options()
    pipeline = build_pipeline(base.replaced("demo", "demo", runtime__backend="ort"))
    per_clip = []
    for clip in clips:
        scored = track_and_score(work / f"{clip.name}.mp4", pipeline, work / "run" / clip.name,
                                 OutputOptions(video=False), progress=False)
        per_clip.append({"preset": clip.preset, "seed": clip.seed, "mAP": scored.metrics.total("ap"),
                         "MOTA": scored.report.headline()["MOTA"], "fps": scored.fps})
    return per_clip


def write_report(rows: list[Row], runs: list[dict], clips: list[Clip], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"clips": [asdict(c) for c in clips], "frames": FRAMES,
                                                  "rows": [asdict(r) for r in rows], "end_to_end": runs},
                                                 indent=1) + "\n")
    lines = [f"Clips: {', '.join(c.name for c in clips)} ({FRAMES} frames each).", ""]
    if runs:
        presets = list(dict.fromkeys(r["preset"] for r in runs))
        lines += ["### end to end (`posetrack run`, shipped models)", "", "| preset | mAP | MOTA | FPS |", "|---|---|---|---|"]
        for preset in presets:
            mine = [r for r in runs if r["preset"] == preset]
            lines.append(f"| {preset} | {np.mean([r['mAP'] for r in mine]):.1f} | "
                         f"{np.mean([r['MOTA'] for r in mine]):.1f} | {np.mean([r['fps'] for r in mine]):.1f} |")
        lines += [f"| mean | {np.mean([r['mAP'] for r in runs]):.1f} | {np.mean([r['MOTA'] for r in runs]):.1f} | "
                  f"{np.mean([r['fps'] for r in runs]):.1f} |", ""]
    for boxes in ("gt", "detector"):
        for held in ("left out", "one-frame tracks"):
            mine = [r for r in rows if r.boxes == boxes and r.held_back == held]
            presets = sorted({r.preset for r in mine}, key=list(PRESETS).index)
            lines += [f"### {boxes} boxes, held-back poses {held}", "",
                      "| tracker | " + " | ".join(f"{p} MOTA / sw / person sw" for p in presets)
                      + " | mean MOTA | sum sw | sum person sw | ms/frame |",
                      "|---|" + "---|" * (len(presets) + 4)]
            for tracker in dict.fromkeys(r.tracker for r in mine):
                t = [r for r in mine if r.tracker == tracker]
                cells = [f"{r.MOTA:.1f} / {r.switches:.0f} / {r.person_switches}" for r in t]
                lines.append(f"| {tracker} | " + " | ".join(cells) + f" | {np.mean([r.MOTA for r in t]):.2f} | "
                             f"{sum(r.switches for r in t):.0f} | {sum(r.person_switches for r in t)} | "
                             f"{np.mean([r.ms_per_frame for r in t]):.2f} |")
            lines.append("")
    (out / "tables.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
