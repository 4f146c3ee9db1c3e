"""Record what py-motmetrics and TrackEval say about the MOT cases of ``tests/mot_cases.py``, for
``tests/test_mot_eval.py`` to hold ``posetrack eval --mot`` to (1e-6).

    TRACKEVAL=/path/to/TrackEval bash benchmarks/mot-eval/setup_peers.sh
    TRACKEVAL=/path/to/TrackEval python benchmarks/mot-eval/reference.py   # writes tests/data/mot/reference.json
    (TRACKEVAL_COMMIT=<sha> names the commit of an exported tree that is no git checkout)

The cases are written to a temporary folder in MOTChallenge's layout (the real ones only where ../shared/real
exists) and scored by each tool in its own environment (``peer_*.py``); nothing of theirs enters the project.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from mot_cases import edge_cases, real_cases, write_case  # noqa: E402

PEERS = Path(os.environ.get("PEERS", "/tmp/peers-mot"))
REAL = ROOT.parent / "shared" / "real"
OUT = ROOT / "tests" / "data" / "mot" / "reference.json"


def peer(env: str, script: str, gt: Path, pred: Path, extra_path: str | None = None) -> dict:
    out = gt.parent / f"{script}.json"
    environ = {**os.environ, **({"PYTHONPATH": extra_path} if extra_path else {})}
    subprocess.run([str(PEERS / env / "bin" / "python"), str(Path(__file__).parent / script), str(gt), str(pred),
                    str(out)], check=True, env=environ)
    return json.loads(out.read_text())


def main() -> None:
    trackeval = os.environ["TRACKEVAL"]
    reference: dict[str, dict] = {}
    groups = {"edge": edge_cases(), **({"real": real_cases(REAL)} if (REAL / "README.md").is_file() else {})}
    for group, cases in groups.items():
        with tempfile.TemporaryDirectory() as work:
            gt, pred = Path(work) / "gt", Path(work) / "pred"
            for name, (truth, found, length) in cases.items():
                write_case(gt, pred, name, truth, found, length)
            mm = peer("mm", "peer_motmetrics.py", gt, pred)
            te = peer("te", "peer_trackeval.py", gt, pred, trackeval)
        commit = os.environ.get("TRACKEVAL_COMMIT") or subprocess.run(
            ["git", "-C", trackeval, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        reference[group] = {"motmetrics": mm["rows"], "trackeval": te["rows"],
                            "versions": {"motmetrics": mm["motmetrics"], "trackeval": commit or "?"}}
        print(f"{group}: {len(cases)} cases scored by motmetrics {mm['motmetrics']} and TrackEval")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
