"""Writing reports: ``<date>-<host>.md`` (tables), ``.json`` (every number, environment, versions, commit) and PNG
plots for the bench suite, and one table + JSON for the single-table studies (synthetic world, tracker quality)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path

from posetrack.bench.measure import environment
from posetrack.bench.suite import Report
from posetrack.compile.cache import slug
from posetrack.io.files import atomic_path


def host_kind(env: dict) -> str:
    """``cpu-2core`` or ``gpu-nvidia-h100-80gb-hbm3``: the file name part saying where numbers come from."""
    if env.get("gpu"):
        return "gpu-" + slug(env["gpu"])
    return f"cpu-{env['cores']}core"


def report_stem(report: Report, suffix: str = "") -> str:
    """``<date>-<host><suffix>``: what a report's files are called."""
    return f"{date.today().isoformat()}-{host_kind(report.environment)}{suffix}"


def report_json(report: Report) -> str:
    """Every number of ``report`` as JSON."""
    data = asdict(report)
    for device, ceiling in report.ceilings.items():
        data["ceilings"][device]["gflops_per_s"] = ceiling.gflops_per_s
    return json.dumps(data, indent=1, default=float) + "\n"


def save_rows(report: Report, path: Path) -> None:
    """The rows measured so far, to ``path`` (complete at every moment: written whole, then renamed)."""
    with atomic_path(path) as draft:
        draft.write_text(report_json(report))


def write_report(report: Report, out_dir: Path, suffix: str = "") -> list[Path]:
    """``<date>-<host><suffix>.md`` / ``.json`` and the PNG plots; returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(report, suffix)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(report_json(report))
    plots = _plots(report, out_dir, stem)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(_markdown(report, [p.name for p in plots]))
    return [md_path, json_path, *plots]


def _table(rows: list, columns: list[str] | None = None) -> list[str]:
    dicts = [asdict(r) for r in rows]
    if not dicts:
        return ["(none)"]
    columns = columns or [k for k, v in dicts[0].items() if not isinstance(v, dict)]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    return (["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(fmt(d[c]) for c in columns) + " |" for d in dicts])


def _markdown(report: Report, plots: list[str]) -> str:
    env = report.environment
    pipeline = report.pipeline[0].backend if report.pipeline else report.options.pipeline_backend
    lines = [f"# posetrack benchmark, {date.today().isoformat()}", "",
             "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), "",
             f"Measured in {report.seconds / 60:.1f} min. Options: {asdict(report.options)}.", "",
             *(["**Interrupted**: the run was stopped; the sections below hold what was measured before the stop.",
                ""] if report.interrupted else []),
             "## Ceiling", "", *[_ceiling_line(c) for c in report.ceilings.values()], "",
             "Engine rows give each model's achieved GFLOP/s (FLOPs per item × items/s) as a fraction of the ceiling "
             "of the device they ran on. The ceiling is a float32 convolution: FP16, BF16 and INT8 rows count the "
             "same FLOPs done by faster kernels (half-width or integer arithmetic, tensor cores), so they can pass "
             "1.0; an FP32 row above 1.0 means the ceiling was measured in a slow phase of the machine.", "",
             "## Engines: latency and throughput", "",
             "Timer: `wall` = host clock around a call with host arrays in and out (CPU rows); on a GPU every backend "
             "is timed by CUDA events on the device's stream around the same span: the network call with its input "
             "already on the device and its output left there (`copies excluded`), or, for a backend without a "
             "device path, the call with its host copies (`copies included`).", "", *_table(report.engines), "",
             "## Speed-up over FP32", "",
             "The same backend's FP32 and FP16/INT8 models timed in alternating rounds (`rounds`); speedup is the "
             "median of the per-round ratios, so a slow phase of the machine hits both sides alike.", "",
             *_table(report.speedups), "",
             "## Accuracy per precision", "",
             "Held-out synthetic clips (seeds 91000+), ground-truth boxes for the pose model; argmax agreement: "
             "share of joints whose heatmap peak is in the same cell as ONNX Runtime FP32 on crops not used for "
             "calibration.", "", *_table(report.accuracy), "",
             f"## Pipeline: pipelined vs sequential (shipped models, {pipeline}, crossing clip)", "",
             "Overlap efficiency = end-to-end FPS ÷ FPS of the slowest stage alone (1.0 = perfect overlap).", "",
             *_table(report.pipeline), "",
             "## Tracker: association time per frame", "", *_table(report.tracker), ""]
    if report.skipped:
        lines += ["## Not measured here", "", *[f"- {s}" for s in report.skipped], ""]
    lines += ["## Plots", "", *[f"![{p}]({p})" for p in plots], ""]
    return "\n".join(lines)


def _ceiling_line(c) -> str:
    ort = f" and {c.ort_gflops_per_s:.1f} GFLOP/s in ONNX Runtime" if c.ort_gflops_per_s is not None else ""
    return (f"- {c.device}: one {c.shape} float32 convolution ({c.gflop:.1f} GFLOP) runs at "
            f"{c.torch_gflops_per_s:.1f} GFLOP/s in PyTorch{ort}: the ceiling is **{c.gflops_per_s:.1f} GFLOP/s**.")


def _plots(report: Report, out_dir: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    models = sorted({r.model for r in report.engines})
    if models:
        fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
        for ax, model in zip(axes[0], models):
            series = sorted({(r.backend, r.precision) for r in report.engines if r.model == model})
            for backend, precision in series:
                rows = [r for r in report.engines if (r.model, r.backend, r.precision) == (model, backend, precision)]
                ax.plot([r.batch for r in rows], [r.ms_per_item for r in rows], "o-", label=f"{backend} {precision}")
            ax.set(title=model, xlabel="batch", ylabel="ms per item", xscale="log", yscale="log")
            _plain_log_axes(ax, sorted({r.batch for r in report.engines if r.model == model}))
            ax.legend(fontsize=7)
        paths.append(_save(fig, out_dir / f"{stem}-latency.png"))
    panels = _speed_accuracy_panels(report)
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4), squeeze=False)
        for ax, (title, (xlabel, ylabel), points) in zip(axes[0], panels):
            for (label, speed, acc), marker in zip(points, "osD^vP*Xhp<>"):  # a legend, not labels that overlap
                ax.scatter(speed, acc, marker=marker, s=40, label=label)
            ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
            ax.legend(fontsize=7)
            ax.margins(x=0.15)
            ys = [p[2] for p in points]
            unit = 1.0 if ylabel == "MOTA" else 0.01  # at least ±1 point: small differences are not inflated
            ax.set_ylim(min(ys) - unit, max(ys) + unit)
        paths.append(_save(fig, out_dir / f"{stem}-speed-accuracy.png"))
    if report.tracker:
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot([t.people for t in report.tracker], [t.median_ms for t in report.tracker], "o-", label="median")
        ax.plot([t.people for t in report.tracker], [t.p90_ms for t in report.tracker], "s--", label="p90")
        ax.set(xlabel="people in the frame", ylabel="ms per frame", title="tracker cost")
        ax.legend()
        paths.append(_save(fig, out_dir / f"{stem}-tracker.png"))
    return paths


def _plain_log_axes(ax, xticks: list[int]) -> None:
    """Log axes labelled in plain numbers (``20``, not ``2×10^1``): the batch sizes on x, 1-2-5 steps on y."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.set_xticks(xticks)
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(NullFormatter())


def _speed_accuracy_panels(report: Report) -> list[tuple[str, tuple[str, str], list[tuple[str, float, float]]]]:
    """One panel per model (its main metric vs its best items/s, a point per backend × precision) and one for the
    pipeline (MOTA vs end-to-end FPS, a point per precision × mode)."""
    panels = []
    for model in sorted({a.model for a in report.accuracy}):
        points = []
        for a in report.accuracy:
            if a.model != model or a.metric not in ("OKS AP", "box AP50"):
                continue
            speeds = [r.items_per_s for r in report.engines
                      if (r.model, r.backend, r.precision) == (a.model, a.backend, a.precision)]
            if speeds:
                points.append((f"{a.backend.split(':')[0]} {a.precision}", max(speeds), a.value))
                metric = a.metric
        if points:
            panels.append((model, ("items/s (best batch)", metric), points))
    if report.pipeline:
        panels.append(("pipeline, crossing clip", ("end-to-end FPS", "MOTA"),
                       [(f"{p.precision} {p.mode}", p.fps, p.MOTA) for p in report.pipeline]))
    return panels


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def write_rows_report(title: str, rows: list, out_dir: str | Path, stem: str) -> tuple[Path, Path]:
    """Write a table of dataclass ``rows`` as ``<stem>.md`` and ``<stem>.json`` with the environment."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    md_path, json_path = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
    dicts = [asdict(r) for r in rows]
    json_path.write_text(json.dumps({"title": title, "environment": env, "results": dicts}, indent=1))
    head = list(dicts[0]) if dicts else []
    lines = [f"# {title}", "", "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in d.values()) + " |"
              for d in dicts]
    md_path.write_text("\n".join(lines) + "\n")
    return md_path, json_path
