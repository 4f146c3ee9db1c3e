"""posetrack against the box trackers on real footage (``../shared/real``): every tracker gets the same boxes and
the same real poses per frame, and every output is scored by ``posetrack eval --mot`` (equal to py-motmetrics and
TrackEval, ``tests/test_mot_eval.py``).

Rows, per sequence (TUD-Campus, TUD-Stadtmitte) and input (ground-truth boxes, public Faster R-CNN detections,
YOLOX-nano boxes), each with its real poses (``poses-*.npz`` → COCO keypoint results, ``convert.py``):

- ``posetrack``: ``posetrack run SOURCE --poses POSES.json`` (the tracker on its own, default settings: output
  boxes are the tracks' Kalman estimates);
- ``posetrack detector boxes``: the same with ``[tracker] box = "detector"`` (each output box the input box);
- ``posetrack box-only``: the same with ``[tracker] similarity = "iou"`` from a ``--config`` file;
- the peers (``peers.py``, in their own environment, ``setup_peers.sh``): boxmot ByteTrack, OC-SORT, BoT-SORT
  (no ReID), supervision ByteTrack, their documented defaults at 25 fps, each output box the input box it tracks
  (as the issue's baselines were scored), and the boxmot ones again with their own (Kalman) boxes;

and end to end (input ``run``): ``posetrack run SOURCE --detector yolox_nano_coco.onnx --pose-model demo`` (read
with no sidecar), with its default tracker and box-only.

    bash benchmarks/real/setup_peers.sh                 # once: the peers' environment
    python benchmarks/real/run.py                       # → benchmarks/real/results.json and tables.md
    python benchmarks/real/run.py --no-peers --out /tmp/try --config my.toml   # a variant as the posetrack row
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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
OWN_BOXES = ("boxmot-bytetrack", "boxmot-ocsort", "boxmot-botsort")  # supervision outputs the input boxes
VARIANTS = {"posetrack": "", "posetrack detector boxes": '[tracker]\nbox = "detector"\n',
            "posetrack box-only": '[tracker]\nsimilarity = "iou"\n'}
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
    p.add_argument("--work", type=Path, help="keep the converted poses and every MOT file there (default: a "
                                             "temporary folder)")
    args = p.parse_args()
    if not (REAL / "README.md").is_file():
        print(f"no real data at {REAL}: nothing to measure")
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="posetrack-real-"))
    work.mkdir(parents=True, exist_ok=True)
    configs = {}
    for tracker, text in VARIANTS.items():
        path = work / f"{tracker.replace(' ', '-')}.toml"
        path.write_text(text)
        configs[tracker] = ["--config", str(args.config if args.config and tracker == "posetrack" else path)]
    rows = []
    for seq in SEQUENCES:
        for name in INPUTS:
            npz = REAL / seq / f"poses-{name}.npz"
            poses = convert(npz, work / seq / f"poses-{name}.json")
            for tracker, config in configs.items():
                mot = work / "mot" / tracker.replace(" ", "-") / f"{seq}-{name}.txt"
                seconds = posetrack_run([str(source(seq)), "--poses", str(poses), *config], work / "out", mot)
                rows.append({"sequence": seq, "input": name, "tracker": tracker, "seconds": round(seconds, 1),
                             **score(seq, mot)})
            for peer, own in [] if args.no_peers else [(p, False) for p in PEERS] + [(p, True) for p in OWN_BOXES]:
                label = f"{peer} (own boxes)" if own else peer
                mot = work / "mot" / label.replace(" ", "-") / f"{seq}-{name}.txt"
                subprocess.run([str(PEER_PYTHON), "-W", "ignore", str(HERE / "peers.py"), peer, str(npz),
                                str(source(seq)), str(mot), *(["own"] if own else [])], check=True,
                               capture_output=True)
                rows.append({"sequence": seq, "input": name, "tracker": label, **score(seq, mot)})
            print(f"{seq} {name}: " + "  ".join(f"{r['tracker']} {100 * r['mota']:.1f}/{100 * r['idf1']:.1f}"
                                              for r in rows if r["sequence"] == seq and r["input"] == name),
                  flush=True)
        if not args.no_end_to_end:
            detector = ["--detector", str(REAL / "models" / "yolox_nano_coco.onnx"), "--pose-model", "demo"]
            for tracker in ("posetrack", "posetrack box-only"):
                mot = work / "mot" / f"run-{tracker.replace(' ', '-')}" / f"{seq}.txt"
                seconds = posetrack_run([str(source(seq)), *detector, *configs[tracker]], work / "out", mot)
                rows.append({"sequence": seq, "input": "run", "tracker": tracker, "seconds": round(seconds, 1),
                             **score(seq, mot)})
    (args.out / "results.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    (args.out / "tables.md").write_text(tables(rows))
    print(f"wrote {args.out / 'results.json'} and {args.out / 'tables.md'}")


def tables(rows: list[dict]) -> str:
    """The aims first (posetrack against the best peer of each case, end to end against its own box-only mode),
    then one Markdown table per sequence and input: MOTA / IDF1 / HOTA in percent, switches, FP, FN."""
    out = ["### posetrack against the best box tracker (each metric's best of the peers' rows)", "",
           "| sequence, input | posetrack MOTA / IDF1 / IDSW | best peer MOTA | best peer IDF1 | dMOTA | dIDF1 |",
           "|---|---|---|---|---|---|"]
    for seq in SEQUENCES:
        for name, title in INPUTS.items():
            mine = [r for r in rows if r["sequence"] == seq and r["input"] == name]
            ours = next((r for r in mine if r["tracker"] == "posetrack"), None)
            peers = [r for r in mine if not r["tracker"].startswith("posetrack")]
            if ours is None or not peers:
                continue
            mota, idf1 = max(peers, key=lambda r: r["mota"]), max(peers, key=lambda r: r["idf1"])
            out.append(f"| {seq}, {title} | {100 * ours['mota']:.1f} / {100 * ours['idf1']:.1f} / {ours['idsw']} | "
                       f"{100 * mota['mota']:.1f} ({mota['tracker']}) | {100 * idf1['idf1']:.1f} ({idf1['tracker']}) | "
                       f"{100 * (ours['mota'] - mota['mota']):+.1f} | {100 * (ours['idf1'] - idf1['idf1']):+.1f} |")
    out.append("")
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
