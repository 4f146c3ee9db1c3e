"""One worker: builds its pipeline once (models, engines), then tracks whole videos, one at a time, in order.

Each attempt writes into its own folder ``OUT/.work/<stem>.<pid>.<attempt>/`` and moves the finished files into
``OUT`` only when the video is complete: a file under its final name is always a whole one. A worker killed
mid-video leaves only its work folder, which the next batch run clears.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from posetrack.assemble import build_pipeline
from posetrack.batch.ledger import VideoResult
from posetrack.errors import Interrupted, PosetrackError
from posetrack.io.sources import open_source
from posetrack.options import Options
from posetrack.track_video import default_sinks, track_video

WORK = ".work"


@dataclass(frozen=True)
class VideoJob:
    video: str
    stem: str
    out_dir: str
    attempt: int = 1


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class VideoWorker:
    """A pipeline built once from ``spec`` (the run's options: picklable, it travels to worker processes);
    ``track(job)`` runs one video through it."""

    def __init__(self, spec: Options):
        self.spec = spec
        self.pipeline = build_pipeline(spec)

    def ready(self) -> str:
        return worker_name()

    def track(self, job: VideoJob) -> VideoResult:
        start = time.perf_counter()
        out_dir = Path(job.out_dir)
        work = out_dir / WORK / f"{job.stem}.{os.getpid()}.{job.attempt}"
        shutil.rmtree(work, ignore_errors=True)
        result = VideoResult(job.video, job.stem, "failed", worker_name())
        try:
            reader = open_source(job.video, self.spec.runtime)  # buffering and --reconnect as a single run's
            sinks = default_sinks(work, job.stem, reader, self.spec.output)
            summary = track_video(reader, self.pipeline, sinks, progress=False)
        except Interrupted:
            raise
        except PosetrackError as exc:
            result.error = str(exc)
        except Exception as exc:  # a bug must not stop the other videos; the ledger keeps its message
            result.error = f"{type(exc).__name__}: {exc}"
        else:
            for path in summary.outputs:  # complete files only: moved under their final names now
                if path.parent == work:  # (a --mot folder is written where it was asked for)
                    os.replace(path, out_dir / path.name)
            result.status = "done" if summary.broken_at is None else "failed"
            if summary.broken_at is not None:
                result.error = (f"{job.video}: breaks off at frame {summary.broken_at} (truncated or corrupt); "
                                f"outputs cover frames 0..{summary.frames - 1}")
            result.outputs = [p.name for p in summary.outputs]
            result.frames, result.persons, result.tracks = summary.frames, summary.persons, summary.tracks
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result.seconds = time.perf_counter() - start
        return result
