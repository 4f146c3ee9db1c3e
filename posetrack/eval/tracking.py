"""The metrics of ``posetrack eval``, side by side: poseval's mAP and MOTA (``poseval``), IDF1 on poseval's
accumulators (``idf1``), PoseTrack21's keypoint HOTA (``hota``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from posetrack.errors import PosetrackError
from posetrack.eval.hota import FIELDS, HotaMetrics, evaluate_hota
from posetrack.eval.poseval import PoseTrackMetrics, evaluate, read_pairs
from posetrack.io.posetrack_json import PoseTrackSequence

METRICS = ("poseval", "hota", "idf1")


@dataclass
class TrackingReport:
    """What was asked for (``metrics``) and its results; ``poseval`` also carries IDF1."""

    metrics: tuple[str, ...]
    poseval: PoseTrackMetrics | None = None
    hota: HotaMetrics | None = None

    @property
    def asked_poseval(self) -> PoseTrackMetrics:
        """``poseval``, for a report that asked for it (an error otherwise)."""
        if self.poseval is None:
            raise ValueError(f"this report computed {', '.join(self.metrics)}, not poseval")
        return self.poseval

    def summary(self) -> dict[str, object]:
        """The ``--json`` document, in percent: poseval's keys, ``"idf1": {IDF1, IDP, IDR}``, ``"hota": {HOTA, DetA,
        AssA, LocA, DetRe, DetPr, AssRe, AssPr}`` and ``"hota_alpha"`` (each over α = 0.05 .. 0.95)."""
        out: dict[str, object] = {}
        if self.poseval is not None and "poseval" in self.metrics:
            out.update(self.poseval.summary())
        if self.poseval is not None and "idf1" in self.metrics:
            out["idf1"] = self.poseval.identity()
        if self.hota is not None:
            out["hota"] = {k: 100 * v for k, v in self.hota.totals().items()}
            alpha: dict[str, list[float]] = {k: [100 * float(v) for v in self.hota.per_alpha[k]] for k in FIELDS}
            alpha["alpha"] = [round(float(a), 2) for a in self.hota.alphas]
            out["hota_alpha"] = alpha
        return out

    def headline(self) -> dict[str, float]:
        """One number per measure, percent: MOTA, IDF1, HOTA, DetA, AssA, LocA (those computed)."""
        out: dict[str, float] = {}
        if self.poseval is not None:
            out["MOTA"] = self.poseval.total("mota")
            if "idf1" in self.metrics:
                out["IDF1"] = self.poseval.total("idf1")
        if self.hota is not None:
            totals = self.hota.totals()
            out.update({k: 100 * totals[k] for k in ("HOTA", "DetA", "AssA", "LocA")})
        return out

    def table(self) -> str:
        """poseval's two tables (with ``poseval``), then the tracking measures side by side."""
        parts = [self.poseval.table()] if self.poseval is not None and "poseval" in self.metrics else []
        line = self.headline()
        if set(line) - {"MOTA"} or "poseval" not in self.metrics:
            parts.append("Tracking metrics (keypoints; HOTA as the PoseTrack21 kit computes it):\n"
                         "& " + " & ".join(f"{k:>5}" for k in line) + " \\\\\n& "
                         + " & ".join(f"{v:5.1f}" for v in line.values()) + " \\\\")
        return "\n\n".join(parts)


def evaluate_pairs(pairs: list[tuple[PoseTrackSequence, PoseTrackSequence]], metrics: tuple[str, ...] = ("poseval",),
                   fix_empty_frames: bool = False) -> TrackingReport:
    """The ``metrics`` (names of ``METRICS``) of (ground truth, prediction) pairs; ``fix_empty_frames``: HOTA
    without the PoseTrack21 kit's empty-frame bug."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise PosetrackError(f"--metrics {','.join(metrics)}: choose from {', '.join(METRICS)}")
    report = TrackingReport(tuple(metrics))
    if "poseval" in metrics or "idf1" in metrics:
        report.poseval = evaluate(pairs)
    if "hota" in metrics:
        report.hota = evaluate_hota(pairs, fix_empty_frames)
    return report


def evaluate_tracking(gt: str | Path, pred: str | Path, metrics: tuple[str, ...] = ("poseval",),
                      fix_empty_frames: bool = False) -> TrackingReport:
    """``evaluate_pairs`` over a ground-truth folder (or file) and the prediction files of the same names."""
    return evaluate_pairs(read_pairs(gt, pred), metrics, fix_empty_frames)
