"""``results.json`` (from ``measure.py``) → the tables of ``README.md`` (printed) and ``keyframes.png``."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

HERE = Path(__file__).parent
METRICS = ("fps", "mAP", "MOTA", "IDF1", "HOTA")


def main() -> None:
    data = json.loads((HERE / "results.json").read_text())
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in data["rows"]:
        groups[row["variant"], row["precision"]].append(row)
    print("| variant | precision | FPS | x K=1 | detector on | mAP | MOTA | IDF1 | HOTA |")
    print("|---|---|---|---|---|---|---|---|---|")
    means = {}
    for (variant, precision), rows in groups.items():
        mean = {m: float(np.mean([r[m] for r in rows])) for m in METRICS}
        mean["detected"] = sum(r["detector_frames"] for r in rows) / sum(r["frames"] for r in rows)
        means[variant, precision] = mean
        base = means.get(("K=1", precision), mean)
        print(f"| {variant} | {precision} | {mean['fps']:.1f} | {mean['fps'] / base['fps']:.2f} | "
              f"{100 * mean['detected']:.0f} % | {mean['mAP']:.1f} | {mean['MOTA']:.1f} | {mean['IDF1']:.1f} | "
              f"{mean['HOTA']:.1f} |")
    presets = list(dict.fromkeys(r["preset"] for r in data["rows"]))
    print("\nMOTA per preset (fp32, mean of the two seeds)\n")
    print("| variant | " + " | ".join(presets) + " |")
    print("|---|" + "---|" * len(presets))
    for (variant, precision), rows in groups.items():
        if precision == "fp32":
            cells = [np.mean([r["MOTA"] for r in rows if r["preset"] == p]) for p in presets]
            print(f"| {variant} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for precision, marker in (("fp32", "o"), ("int8", "s")):
        ks = sorted({r["K"] for r in data["rows"] if r["recover_score"] is not None})
        fps = [means[f"K={k}", precision]["fps"] for k in ks]
        for ax, metric in zip(axes, ("MOTA", "mAP")):
            ax.plot(fps, [means[f"K={k}", precision][metric] for k in ks], marker=marker, label=precision)
            for k, x, y in zip(ks, fps, [means[f"K={k}", precision][metric] for k in ks]):
                ax.annotate(f"K={k}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    for ax, metric in zip(axes, ("MOTA", "mAP")):
        ax.set_xlabel("end-to-end FPS (2-core CPU)")
        ax.set_ylabel(f"{metric} (held-out clips, mean)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("--detect-every K: speed against accuracy (demo models, 10 held-out synthetic clips)")
    fig.tight_layout()
    fig.savefig(HERE / "keyframes.png", dpi=110)


if __name__ == "__main__":
    main()
