"""The demo job: render a synthetic clip with exact ground truth, track it with a pipeline, and score the result
with the PoseTrack metrics. ``posetrack demo`` and the bench's pipeline section both run it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from posetrack.eval.poseval import PoseTrackMetrics
from posetrack.eval.tracking import METRICS as ALL_METRICS
from posetrack.eval.tracking import TrackingReport, evaluate_tracking
from posetrack.options import OutputOptions
from posetrack.pipeline import Pipeline
from posetrack.synth import PRESETS
from posetrack.synth.files import clip_name, write_clip
from posetrack.track_video import RunSummary, run_video


def render_clip(folder: str | Path, preset: str = "crossing", frames: int = 150, seed: int = 3) -> Path:
    """Render the clip of ``preset`` and ``seed`` to ``folder/<name>.mp4`` with its ground truth ``<name>.json``;
    returns the video."""
    clip, _ = write_clip(replace(PRESETS[preset], frames=frames), seed, folder, clip_name(preset, seed))
    return clip


@dataclass(frozen=True)
class ScoredRun:
    """A run over a synthetic clip and its metrics against the clip's ground truth (poseval, IDF1, HOTA)."""

    summary: RunSummary
    report: TrackingReport

    @property
    def metrics(self) -> PoseTrackMetrics:
        return self.report.asked_poseval

    @property
    def fps(self) -> float:
        return self.summary.times.fps()["total"]

    def line(self) -> str:
        h = self.report.headline()
        return (f"mAP {self.metrics.total('ap'):.1f}  MOTA {h['MOTA']:.1f}  IDF1 {h['IDF1']:.1f}  HOTA {h['HOTA']:.1f} "
                f"(AssA {h['AssA']:.1f})  end-to-end {self.fps:.1f} FPS")


def track_and_score(clip: Path, pipeline: Pipeline, out_dir: str | Path, output: OutputOptions = OutputOptions(), *,
                    progress: bool = True) -> ScoredRun:
    """Track ``clip`` into ``out_dir`` and score it against the ground truth beside the clip."""
    summary = run_video(clip, out_dir, pipeline, output, progress=progress)
    report = evaluate_tracking(clip.with_suffix(".json"), Path(out_dir) / f"{clip.stem}.json", ALL_METRICS)
    return ScoredRun(summary, report)
