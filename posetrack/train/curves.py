"""Training curves (loss and validation metric per step) as a PNG, for model cards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def plot_history(history_json: str | Path, out_png: str | Path, metric: str, title: str) -> Path:
    """Plot the smoothed training loss and the validation ``metric`` of a ``history.json`` to ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = json.loads(Path(history_json).read_text())
    loss = np.asarray(history["loss"])
    window = max(1, len(loss) // 100)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(np.arange(len(smooth)) + window, smooth, color="tab:blue", lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss", color="tab:blue")
    ax2 = ax.twinx()
    steps = [v["step"] for v in history["val"]]
    ax2.plot(steps, [v[metric] for v in history["val"]], "o-", color="tab:red")
    ax2.set_ylabel(f"validation {metric}", color="tab:red")
    ax2.set_ylim(0, 1)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
    return Path(out_png)
