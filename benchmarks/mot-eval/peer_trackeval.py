"""TrackEval's HOTA for every sequence of a MOTChallenge folder (``MotChallenge2DBox``, benchmark MOT15, sequence
lengths from each ``seqinfo.ini``), per sequence and COMBINED_SEQ, each field the mean over its 19 α. Runs in
TrackEval's own environment (``setup_peers.sh``, TrackEval on PYTHONPATH) and imports nothing from posetrack.

    python peer_trackeval.py GT_FOLDER PRED_FOLDER OUT.json
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import trackeval

FIELDS = ["HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr"]


def main() -> None:
    gt_root, pred_root, out = map(Path, sys.argv[1:4])
    names = sorted(p.name for p in gt_root.iterdir() if (p / "gt" / "gt.txt").is_file())
    with tempfile.TemporaryDirectory() as work:
        trackers = Path(work) / "trackers"
        (trackers / "peer" / "data").mkdir(parents=True)
        for n in names:
            shutil.copy(pred_root / f"{n}.txt", trackers / "peer" / "data" / f"{n}.txt")
        evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False,
                                         "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
                                         "PLOT_CURVES": False, "DISPLAY_LESS_PROGRESS": True})
        dataset = trackeval.datasets.MotChallenge2DBox({
            "GT_FOLDER": str(gt_root), "TRACKERS_FOLDER": str(trackers), "BENCHMARK": "MOT15", "SPLIT_TO_EVAL": "train",
            "SKIP_SPLIT_FOL": True, "SEQ_INFO": dict.fromkeys(names), "TRACKERS_TO_EVAL": ["peer"],
            "PRINT_CONFIG": False})
        results, _ = evaluator.evaluate([dataset], [trackeval.metrics.HOTA({"PRINT_CONFIG": False})])
    seqs = results["MotChallenge2DBox"]["peer"]
    rows = {name: {f: float(np.mean(res["pedestrian"]["HOTA"][f])) for f in FIELDS} for name, res in seqs.items()}
    out.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
