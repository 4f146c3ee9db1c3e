"""py-motmetrics' numbers for every sequence of a MOTChallenge folder, as its ``eval_motchallenge`` app computes
them (ground truth read with ``min_confidence=1``, IoU distance up to 0.5), per sequence and OVERALL. Runs in
motmetrics' own environment (``setup_peers.sh``) and imports nothing from posetrack.

    python peer_motmetrics.py GT_FOLDER PRED_FOLDER OUT.json
"""

import json
import sys
from collections import OrderedDict
from pathlib import Path

import motmetrics as mm

METRICS = ["num_objects", "num_predictions", "num_detections", "num_false_positives", "num_misses", "num_switches",
           "mostly_tracked", "partially_tracked", "mostly_lost", "num_fragmentations", "num_unique_objects", "mota",
           "motp", "idf1", "idp", "idr", "idtp", "recall", "precision"]


def main() -> None:
    gt_root, pred_root, out = map(Path, sys.argv[1:4])
    names = sorted(p.name for p in gt_root.iterdir() if (p / "gt" / "gt.txt").is_file())
    gt = OrderedDict((n, mm.io.loadtxt(gt_root / n / "gt" / "gt.txt", fmt="mot15-2D", min_confidence=1)) for n in names)
    ts = OrderedDict((n, mm.io.loadtxt(pred_root / f"{n}.txt", fmt="mot15-2D")) for n in names)
    accs = [mm.utils.compare_to_groundtruth(gt[n], ts[n], "iou", distth=0.5) for n in names]
    summary = mm.metrics.create().compute_many(accs, metrics=METRICS, names=names, generate_overall=True)
    rows = {name: {k: float(summary.loc[name, k]) for k in METRICS} for name in summary.index}
    out.write_text(json.dumps({"motmetrics": mm.__version__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
