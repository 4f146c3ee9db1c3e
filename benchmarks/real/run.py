"""posetrack against the box trackers on real footage (``../shared/real``): every tracker gets the same boxes and
the same real poses per frame, and every output is scored by ``posetrack eval --mot`` (equal to py-motmetrics and
TrackEval, ``tests/test_mot_eval.py``).

Rows, per sequence (TUD-Campus, TUD-Stadtmitte) and input (ground-truth boxes, public Faster R-CNN detections,
YOLOX-nano boxes), each with its real poses (``poses-*.npz`` → COCO keypoint results, ``convert.py``):

- ``posetrack``: ``posetrack run SOURCE --poses POSES.json`` (the tracker on its own, default settings);
- ``posetrack box-only``: the same with ``[tracker] similarity = "iou"`` from a ``--config`` file;
- the peers (``peers.py``, in their own environment, ``setup_peers.sh``): boxmot ByteTrack, OC-SORT, BoT-SORT
  (no ReID), supervision ByteTrack, their documented defaults at 25 fps;

and end to end (input ``run``): ``posetrack run SOURCE --detector yolox_nano_coco.onnx --pose-model demo`` (read
with no sidecar), with its default tracker and box-only.

    bash benchmarks/real/setup_peers.sh                 # once: the peers' environment
    python benchmarks/real/run.py                       # → benchmarks/real/results.json and tables.md
    python benchmarks/real/run.py --no-peers --out /tmp/try --config my.toml   # a tracker variant, posetrack rows only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from convert import convert  # noqa: E402

from posetrack.eval.mot import evaluate_mot, mot_sequence  # noqa: E402
from posetrack.io.mot import read_seqinfo  # noqa: E402

REAL = Path(os.environ.get("POSETRACK_REAL_DATA") or ROOT.parent / "shared" / "real")
SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
INPUTS = {"gt": "ground-truth boxes", "det": "public Faster R-CNN", "yolox": "YOLOX-nano"}
PEERS = ("boxmot-bytetrack", "boxmot-ocsort", "boxmot-botsort", "supervision-bytetrack")
PEER_PYTHON = Path(os.environ.get("PEERS", "/tmp/peers-real")) / "env" / "bin" / "python"
SHOWN = ("mota", "idf1", "hota", "idsw", "fp", "fn", "tp")


def source(seq: str) -> Path:
    """What ``posetrack run`` reads: the image folder, or the H.264 re-encode where there is no folder."""
    folder = REAL / seq / "img1"
    return folder if folder.is_dir() else REAL / seq / f"{seq}.mp4"


def posetrack_run(args: list[str], out: Path, mot: Path) -> float:
    """``posetrack run ARGS`` writing its MOT file to ``mot``; returns the wall seconds."""
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "posetrack.cli", "run", *args, "--no-video", "--out", str(out),
                        "--mot", str(mot)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"posetrack run {' '.join(args)} failed:\n{r.stderr}")
    return time.perf_counter() - start


def score(seq: str, mot: Path) -> dict[str, float]:
    length = read_seqinfo(REAL / seq / "seqinfo.ini").length
    report = evaluate_mot([mot_sequence(seq, REAL / seq / "gt.txt", mot, length)])
    return report.sequences[seq]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=HERE)
    p.add_argument("--config", type=Path, help="a tracker variant's options file for the posetrack rows")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--no-end-to-end", action="store_true")
    args = p.parse_args()
    if not (REAL / "README.md").is_file():
        print(f"no real data at {REAL}: nothing to measure")
        return
    work = args.out / "work"
    iou = work / "box-only.toml"
    iou.parent.mkdir(parents=True, exist_ok=True)
    iou.write_text('[tracker]\nsimilarity = "iou"\n')
    config = ["--config", str(args.config)] if args.config else []
    rows = []
    for seq in SEQUENCES:
        for name in INPUTS:
            npz = REAL / seq / f"poses-{name}.npz"
            poses = convert(npz, work / seq / f"poses-{name}.json")
            runs = {"posetrack": config, "posetrack box-only": ["--config", str(iou)]}
            for tracker, extra in runs.items():
                mot = work / "mot" / tracker.replace(" ", "-") / f"{seq}-{name}.txt"
                seconds = posetrack_run([str(source(seq)), "--poses", str(poses), *extra], work / "out", mot)
                rows.append({"sequence": seq, "input": name, "tracker": tracker, "seconds": round(seconds, 1),
                             **score(seq, mot)})
            for peer in () if args.no_peers else PEERS:
                mot = work / "mot" / peer / f"{seq}-{name}.txt"
                subprocess.run([str(PEER_PYTHON), "-W", "ignore", str(HERE / "peers.py"), peer, str(npz),
                                str(source(seq)), str(mot)], check=True, capture_output=True)
                rows.append({"sequence": seq, "input": name, "tracker": peer, **score(seq, mot)})
            print(f"{seq} {name}: " + "  ".join(f"{r['tracker']} {100 * r['mota']:.1f}/{100 * r['idf1']:.1f}"
                                              for r in rows if r["sequence"] == seq and r["input"] == name),
                  flush=True)
        if not args.no_end_to_end:
            detector = ["--detector", str(REAL / "models" / "yolox_nano_coco.onnx"), "--pose-model", "demo"]
            for tracker, extra in {"posetrack": config, "posetrack box-only": ["--config", str(iou)]}.items():
                mot = work / "mot" / f"run-{tracker.replace(' ', '-')}" / f"{seq}.txt"
                seconds = posetrack_run([str(source(seq)), *detector, *extra], work / "out", mot)
                rows.append({"sequence": seq, "input": "run", "tracker": tracker, "seconds": round(seconds, 1),
                             **score(seq, mot)})
    (args.out / "results.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    (args.out / "tables.md").write_text(tables(rows))
    print(f"wrote {args.out / 'results.json'} and {args.out / 'tables.md'}")


def tables(rows: list[dict]) -> str:
    """One Markdown table per sequence and input: MOTA / IDF1 / HOTA in percent, switches, FP, FN."""
    out = []
    for seq in SEQUENCES:
        for name, title in {**INPUTS, "run": "end to end, YOLOX-nano + demo poses"}.items():
            mine = [r for r in rows if r["sequence"] == seq and r["input"] == name]
            if not mine:
                continue
            out += [f"### {seq}, {title}", "", "| tracker | MOTA | IDF1 | HOTA | IDSW | FP | FN |",
                    "|---|---|---|---|---|---|---|"]
            out += [f"| {r['tracker']} | {100 * r['mota']:.1f} | {100 * r['idf1']:.1f} | {100 * r['hota']:.1f} | "
                    f"{r['idsw']} | {r['fp']} | {r['fn']} |" for r in mine]
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
