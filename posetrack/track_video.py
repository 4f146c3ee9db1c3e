"""The run job: a video through the pipeline into sinks, with a progress bar and a summary.

``track_video`` loops over the pipeline's results and hands each to every sink; whatever stops the run (the end,
a decoding error, a sink asking to stop, Ctrl-C or SIGTERM), the sinks are closed, so the outputs cover every finished frame
and are valid files. ``run_video`` is the ``posetrack run`` shape of it: the default sinks in an output folder.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from tqdm import tqdm

from posetrack.errors import Interrupted
from posetrack.io.posetrack_json import sequence_name_for
from posetrack.io.sources import Source, is_camera, is_stream, open_source
from posetrack.models import DEMO_DETECTOR, DEMO_POSE
from posetrack.options import Options, OutputOptions
from posetrack.pipeline import Pipeline, StageTimes
from posetrack.sinks import (
    CocoKeypointsSink,
    CsvSink,
    JsonLinesSink,
    MotSink,
    PoseTrackJsonSink,
    Sink,
    VideoSink,
    WindowSink,
)
from posetrack.synth.files import is_synthetic_clip


@dataclass
class RunSummary:
    """What a run did: frames, persons (summed over frames), distinct tracks, stage timings, output files, the frame
    where the source broke off (None if it did not), the unreadable images skipped, each frame's latency (seconds
    from capture to result), for a live source the frames dropped (``--buffer latest``) and reconnections, and the
    indices of a video's damaged frames skipped; ``warmup_s``: the GPU warm-up when the pipeline was built;
    ``keyframes`` / ``extra_detections``: the detector's frames by the schedule, and off it per trigger
    (``track.follow``); ``stopped_by``: the signal that ended the run early (``SIGINT`` for Ctrl-C), if one did."""

    frames: int
    persons: int
    tracks: int
    times: StageTimes
    outputs: list[Path]
    broken_at: int | None
    skipped: list[Path] = field(default_factory=list)
    backend: str = ""
    latencies: list[float] = field(default_factory=list)
    dropped: int = 0
    reconnects: int = 0
    damaged: list[int] = field(default_factory=list)
    warmup_s: float = 0.0
    keyframes: int = 0
    extra_detections: dict[str, int] = field(default_factory=dict)
    stopped_by: str | None = None

    @property
    def json_path(self) -> Path | None:
        return next((p for p in self.outputs if p.suffix == ".json"), None)

    @property
    def video_path(self) -> Path | None:
        return next((p for p in self.outputs if p.suffix == ".mp4"), None)

    def latency_ms(self) -> dict[str, float]:
        """p50 / p95 / p99 / max latency in milliseconds (empty before the first frame)."""
        if not self.latencies:
            return {}
        values = 1e3 * np.asarray(self.latencies)
        return {f"p{q}": float(np.percentile(values, q)) for q in (50, 95, 99)} | {"max": float(values.max())}

    def lines(self) -> list[str]:
        fps = self.times.fps()
        stages = "  ".join(f"{s} {fps[s]:.1f}" for s in ("decode", "detect", "pose", "track"))
        skipped = f", {len(self.skipped)} unreadable images skipped" if self.skipped else ""
        skipped += f", {len(self.damaged)} damaged frames skipped" if self.damaged else ""
        wrote = "wrote " + " and ".join(str(p) for p in self.outputs) if self.outputs else "wrote nothing"
        backend = f"  [{self.backend}]" if self.backend else ""
        stopped = f" (stopped by {self.stopped_by})" if self.stopped_by else ""
        lines = [f"{self.frames} frames{stopped}, {self.persons} poses, {self.tracks} tracks{skipped}",
                 f"FPS end to end {fps['total']:.1f}  (per stage alone: {stages}){backend}"]
        if self.warmup_s:
            lines.append(f"GPU warm-up {self.warmup_s:.1f} s when the pipeline was built (autotuning, CUDA graphs; "
                         "not in the FPS)")
        latency = self.latency_ms()
        if latency:
            live = (f"; {self.dropped} frames dropped (newest frame kept), {self.reconnects} reconnections"
                    if self.dropped or self.reconnects else "")
            lines.append(f"latency p50 {latency['p50']:.0f} ms  p95 {latency['p95']:.0f} ms  p99 {latency['p99']:.0f} "
                         f"ms  max {latency['max']:.0f} ms; detector on {self.detector_line()}{live}")
        return [*lines, wrote]

    def detector_line(self) -> str:
        """``24 of 71 frames (24 keyframes, 3 extra: lost 2, weak 1)``."""
        extra = sum(self.extra_detections.values())
        why = ", ".join(f"{k} {v}" for k, v in sorted(self.extra_detections.items()))
        more = f", {extra} extra: {why}" if extra else ""
        return f"{self.times.detected} of {self.frames} frames ({self.keyframes} keyframes{more})"

    def to_dict(self) -> dict:
        """The summary as ``posetrack run --json`` writes it (``schemas/run-summary.schema.json``)."""
        fps = {stage: value if np.isfinite(value) else None for stage, value in self.times.fps().items()}  # None:
        # a stage that never ran (no detector with --detections)
        return {"frames": self.frames, "poses": self.persons, "tracks": self.tracks,
                "fps": fps["total"], "stage_fps": {s: fps[s] for s in ("decode", "detect", "pose", "track")},
                "latency_ms": self.latency_ms(), "detector_frames": self.times.detected, "keyframes": self.keyframes,
                "extra_detections": dict(self.extra_detections), "dropped": self.dropped,
                "reconnects": self.reconnects, "broken_at": self.broken_at,
                "skipped": [str(p) for p in self.skipped], "damaged": list(self.damaged), "warmup_s": self.warmup_s,
                "backend": self.backend, "stopped_by": self.stopped_by,
                "outputs": [str(p) for p in self.outputs]}


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopRequest:
    """The first stop signal a run received (``signum``), or None. ``urgent``: a second signal interrupts at once;
    turned off once the run is closing its outputs anyway (an exception raised in the middle of that, e.g. while
    the stage threads are joined, would be swallowed by the generator's cleanup and leave threads running)."""

    signum: int | None = None
    urgent: bool = True

    def __bool__(self) -> bool:
        return self.signum is not None


@contextmanager
def deferred_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[StopRequest]:
    """While active, the first of ``signals`` (Ctrl-C, SIGTERM from ``docker stop``/systemd/Slurm/Ray, SIGHUP
    when the terminal goes) is only recorded in the yielded request, which the frame loop checks between frames;
    a second one raises ``Interrupted`` at once (the sinks still close). Raising at an arbitrary point of the
    consuming thread on the first signal could leave a stage queue's lock held, and the stage threads blocked.
    A signal ignored when the run starts stays ignored: ``nohup``'s SIGHUP, the Ctrl-C of a shell's background
    job, a batch worker's Ctrl-C (its driver decides)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signal handlers can only be installed from the main thread
        return

    def on_signal(signum: int, frame: object) -> None:
        if request.signum is not None and request.urgent:
            raise Interrupted(signum)
        request.signum = request.signum or signum

    previous = {s: signal.signal(s, on_signal) for s in signals if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def track_video(reader: Source, pipeline: Pipeline, sinks: Sequence[Sink], *, progress: bool = True,
                desc: str = "tracking") -> RunSummary:
    """Run ``pipeline`` over the opened source ``reader`` and write every result to each of ``sinks`` (closed on
    every exit path, so their files cover every finished frame). A stop signal ends the run between frames;
    ``Interrupted`` is raised once the sinks are closed, carrying the summary so far."""
    tracks: set[int] = set()
    frames = persons = 0
    latencies: list[float] = []
    bar = tqdm(total=reader.frame_count, unit="frame", disable=not progress or None, dynamic_ncols=True, desc=desc)
    with deferred_signals() as stop, ExitStack() as closing:
        closing.callback(reader.close)
        for sink in sinks:
            closing.enter_context(sink)
        closing.callback(bar.close)
        results = pipeline.run(reader, reader.queue_size)
        closing.callback(results.close)  # joins the stage threads
        closing.callback(setattr, stop, "urgent", False)  # runs first: winding down is not interrupted
        for result in results:
            latencies.append(result.latency)
            for sink in sinks:
                sink.write(result)
            frames += 1
            persons += len(result.poses)
            tracks.update(int(i) for i in result.poses.track_ids)
            bar.update(1)
            if frames % 10 == 0:
                bar.set_postfix(fps=f"{result.fps:.1f}", latency=f"{1e3 * result.latency:.0f}ms",
                                persons=len(result.poses), dropped=reader.dropped, refresh=False)
            if stop or any(sink.stop for sink in sinks):
                break
    stopped_by = None if stop.signum is None else signal.Signals(stop.signum).name
    summary = RunSummary(frames, persons, len(tracks), pipeline.times, [p for s in sinks for p in s.outputs],
                         reader.broken_at, list(reader.skipped), pipeline.label, latencies, reader.dropped,
                         reader.reconnects, list(reader.damaged), pipeline.warmup_s, pipeline.follower.keyframes,
                         dict(pipeline.follower.extra), stopped_by)
    if stop.signum is not None:
        raise Interrupted(stop.signum, f"stopped after {frames} frames; " + summary.lines()[-1], summary)
    return summary


def source_stem(source: str | Path | int) -> str:
    """The name outputs of ``source`` are called by: the file or folder stem, ``camera<N>`` for a camera index, the
    last part of a stream URL's path (else its host)."""
    if isinstance(source, int) or is_camera(source):
        return f"camera{source}"
    if is_stream(source):
        parsed = urlparse(str(source))
        name = Path(parsed.path).stem or parsed.hostname or "stream"
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    return Path(source).stem


def default_sinks(out_dir: str | Path, stem: str, reader: Source, output: OutputOptions = OutputOptions()
                  ) -> list[Sink]:
    """The sinks of ``posetrack run``: ``OUT/<stem>.json`` (PoseTrack), ``OUT/<stem>.mp4`` (``output.video``),
    ``OUT/<stem>.coco.json`` (``output.coco``), a window (``output.show``), JSON lines (``output.stream_json``),
    MOTChallenge text (``output.mot``: that file, or ``<stem>.txt`` in that folder) and a CSV table (``output.csv``,
    the same way)."""
    out_dir = Path(out_dir)
    threshold = output.keypoint_threshold
    sinks: list[Sink] = [PoseTrackJsonSink(out_dir / f"{stem}.json", sequence_name_for(stem), reader.size, threshold,
                                           reader.files)]
    if output.show:
        sinks.append(WindowSink("posetrack", output.style()))
    if output.video:
        sinks.append(VideoSink(out_dir / f"{stem}.mp4", reader.size, reader.fps, output.style()))
    if output.coco:
        sinks.append(CocoKeypointsSink(out_dir / f"{stem}.coco.json", stem))
    if output.stream_json:
        sinks.append(JsonLinesSink(output.stream_json))
    if output.mot:
        sinks.append(MotSink(file_or_folder(output.mot, stem, ".txt")))
    if output.csv:
        sinks.append(CsvSink(file_or_folder(output.csv, stem, ".csv")))
    return sinks


def file_or_folder(target: str, stem: str, suffix: str) -> Path:
    """``target`` itself where it names a ``suffix`` file, else ``target/<stem><suffix>`` (a folder of outputs, one
    per video of a batch)."""
    path = Path(target)
    return path if path.suffix.lower() == suffix else path / f"{stem}{suffix}"


def demo_models_warning(options: Options, sources: Sequence[object]) -> str | None:
    """A warning when a shipped demo model (trained on the synthetic world only) runs on anything but this project's
    own synthetic clips: on real footage it puts confident skeletons on lampposts and tripods."""
    demo = [what for what, model, names in (("pose model", options.pose.model, (DEMO_POSE.name, *DEMO_POSE.aliases)),
                                            ("detector", options.detector.model,
                                             (DEMO_DETECTOR.name, *DEMO_DETECTOR.aliases)))
            if model in names and not (what == "detector" and options.detector.detections is not None)]
    if not demo or all(is_synthetic_clip(s) for s in sources):
        return None
    return (f"the demo {' and '.join(demo)} know only this project's synthetic people: on real footage expect "
            "skeletons on things that are no people; for real video use the default real models (fetched once: "
            "`posetrack models fetch hrnet_w32_posetrack18_256x192 rtmdet_nano_person`), an HRNet checkpoint "
            "(--pose-model FILE) or your detector's ONNX export (--detector FILE)")


def run_video(source: str | Path | int, out_dir: str | Path, pipeline: Pipeline,
              output: OutputOptions = OutputOptions(), *, progress: bool = True,
              reader: Source | None = None) -> RunSummary:
    """Run ``pipeline`` over ``source`` (``reader``: it opened already) into the default sinks in ``out_dir``
    (``default_sinks``); with ``output.show`` the annotated frames are displayed too (q or Esc stops, keeping the
    results so far)."""
    reader = reader or open_source(source, pipeline.runtime)
    stem = source_stem(source)
    return track_video(reader, pipeline, default_sinks(out_dir, stem, reader, output), progress=progress,
                       desc=f"tracking {stem}")
