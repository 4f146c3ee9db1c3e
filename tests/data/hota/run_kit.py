"""Runs the official PoseTrack21 kit on every scenario here and writes its numbers to ``<scenario>/expected.json``.

Run it in a throwaway environment of its own, never the project's (the kit needs NumPy < 1.24):

    python -m venv /tmp/kitenv
    /tmp/kitenv/bin/pip install numpy==1.23.5 scipy==1.10.1 shapely==1.8.5.post1
    git clone https://github.com/anDoer/PoseTrack21 /tmp/PoseTrack21      # the kit: eval/posetrack21
    PYTHONPATH=/tmp/PoseTrack21/eval/posetrack21 /tmp/kitenv/bin/python tests/data/hota/run_kit.py

The kit (commit 3e61960) runs unchanged; each scenario is copied to a temporary folder first, since the kit writes
a results file into the prediction folder.
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import posetrack21.trackeval as trackeval

HERE = Path(__file__).parent
FIELDS = ["HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr", "HOTA_TP", "HOTA_FN", "HOTA_FP"]


def run_kit(scenario: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(scenario / "gt", Path(tmp) / "gt")
        shutil.copytree(scenario / "pred", Path(tmp) / "pred")
        eval_config = {**trackeval.Evaluator.get_default_eval_config(), "PRINT_RESULTS": False,
                       "TIME_PROGRESS": False, "LOG_ON_ERROR": None}
        dataset_config = {**trackeval.datasets.PoseTrack.get_default_dataset_config(),
                          "GT_FOLDER": f"{tmp}/gt/", "TRACKERS_FOLDER": f"{tmp}/pred/", "PRINT_CONFIG": False}
        out, _ = trackeval.Evaluator(eval_config).evaluate([trackeval.datasets.PoseTrack(dataset_config)],
                                                           [trackeval.metrics.HOTAeypoints()])
    res = out["PoseTrack"]["pred"]["COMBINED_SEQ"]["person"]["HOTAeypoints"]
    return {"total": {k: float(np.mean(res[k][:, -1])) for k in FIELDS[:8]},
            "per_alpha": {k: [float(v) for v in res[k][:, -1]] for k in FIELDS},
            "per_joint": {k: [float(v) for v in res[k][:, :-1].mean(0)] for k in FIELDS[:8]}}


def main() -> None:
    for scenario in sorted(p for p in HERE.iterdir() if (p / "gt").is_dir()):
        result = run_kit(scenario)
        (scenario / "expected.json").write_text(json.dumps(result, indent=1))
        print(scenario.name, {k: round(v, 4) for k, v in result["total"].items()}, file=sys.stderr)


if __name__ == "__main__":
    main()
