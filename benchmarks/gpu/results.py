"""The GPU check's results as clean JSON lines, one per aim of the GPU run, from the files ``check.sh`` wrote:

    python benchmarks/gpu/results.py gpu-report > gpu-report/results.jsonl

Each line: ``{"metric", "value", "unit", "aim", "held", "source"}``; ``value`` null (and ``why``) where the step
that measures it did not run or wrote nothing. Reads ``bench.jsonl`` (benchmarks/gpu/bench.py rows),
``demo.json`` and ``run1080.json`` (run summaries), ``util.csv`` (nvidia-smi utilisation samples, one a line
every 100 ms) and ``steady.txt`` (the sample counts when frames 60 and 540 of the 1080p run were written).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

AIMS = {  # metric → (aim, unit): the GPU run's aims (issue 28)
    "w32_256x192_fp16_b32_cuda_graphs_crops_per_s": (10_000, "crops/s"),
    "demo_cuda_fps": (300, "frames/s"),
    "run_1080p_16_people_fps": (200, "frames/s"),
    "gpu_busy_steady_pct": (70, "%"),
}


def _json_lines(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the step's own log lines around the rows
    return rows


def _summary(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def crops_per_s(rows: list[dict]) -> float | None:
    """W32 256x192 fp16 batch 32 with CUDA graphs (BatchNorm folded), from the bench rows."""
    for row in rows:
        if (row.get("section") == "network" and row.get("precision") == "fp16" and row.get("cuda_graphs") is True
                and row.get("batch") == 32 and not row.get("compiled") and row.get("batchnorm_folded", True)):
            return row["crops_per_s"]
    return None


def busy_pct(samples: list[str], steady: list[str]) -> float | None:
    """Median GPU utilisation over the samples taken between the two counts in ``steady`` (lines of util.csv
    written when the run's frame 60 and frame 540 came out), so warm-up and the tail stay out."""
    if len(steady) < 2:
        return None
    start, end = (int(v) for v in steady[:2])
    values = [float(v) for v in samples[start:end] if v.strip().replace(".", "", 1).isdigit()]
    return statistics.median(values) if values else None


def results(folder: Path) -> list[dict]:
    rows = _json_lines(folder / "bench.jsonl")
    demo, run = _summary(folder / "demo.json"), _summary(folder / "run1080.json")
    util = (folder / "util.csv").read_text().splitlines() if (folder / "util.csv").is_file() else []
    steady = (folder / "steady.txt").read_text().split() if (folder / "steady.txt").is_file() else []
    found = {
        "w32_256x192_fp16_b32_cuda_graphs_crops_per_s": (crops_per_s(rows), "bench.jsonl"),
        "demo_cuda_fps": (demo and demo["fps"], "demo.json"),
        "run_1080p_16_people_fps": (run and run["fps"], "run1080.json"),
        "gpu_busy_steady_pct": (busy_pct(util, steady), "util.csv, steady.txt"),
    }
    out = []
    for metric, (value, source) in found.items():
        aim, unit = AIMS[metric]
        line = {"metric": metric, "value": None if value is None else round(float(value), 1), "unit": unit,
                "aim": aim, "held": None if value is None else float(value) >= aim, "source": source}
        if value is None:
            line["why"] = f"{source}: missing or without the measurement (see summary.txt)"
        out.append(line)
    if run is not None:  # the per-stage cost of the 1080p run, each stage timed alone
        out.append({"metric": "run_1080p_stage_ms", "value": {s: round(1e3 / f, 2) for s, f in run["stage_fps"].items()
                                                             if f}, "unit": "ms/frame", "frames": run["frames"],
                    "warmup_s": run["warmup_s"], "backend": run["backend"], "source": "run1080.json"})
    return out


def main() -> None:
    for line in results(Path(sys.argv[1])):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
