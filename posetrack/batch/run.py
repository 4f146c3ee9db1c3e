"""The driver of a batch: which videos still need tracking, handing them to idle workers, retrying the videos of
workers that died, the ledger, one progress bar, and the summary (``OUT/summary.json``)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from posetrack.batch.ledger import Entry, Ledger, VideoResult, input_key, options_digest, summary_json
from posetrack.batch.local import LOST, Executor, InlineExecutor, ProcessExecutor
from posetrack.batch.sources import Source, collect
from posetrack.batch.worker import WORK, VideoJob
from posetrack.errors import Interrupted, PosetrackError
from posetrack.io.files import atomic_path
from posetrack.options import Options
from posetrack.track_video import StopRequest, deferred_signals

EXECUTORS = ("local", "ray")


@dataclass
class BatchSummary:
    """The batch: an entry per video tracked this time (done or failed), the videos skipped as already done,
    wall seconds, and where ``summary.json`` is."""

    entries: list[Entry]
    skipped: list[Source]
    seconds: float
    workers: int
    executor: str
    path: Path

    @property
    def failed(self) -> list[Entry]:
        return [e for e in self.entries if e.status != "done"]

    def table(self) -> str:
        rows = [f"{'video':32s} {'status':7s} {'frames':>7s} {'persons':>8s} {'tracks':>6s} {'seconds':>8s}"]
        for e in self.entries:
            rows.append(f"{e.stem[:32]:32s} {e.status:7s} {e.frames:7d} {e.persons:8d} {e.tracks:6d} {e.seconds:8.1f}"
                        + (f"  {e.error}" if e.error else ""))
        frames = sum(e.frames for e in self.entries if e.status == "done")
        done = len(self.entries) - len(self.failed)
        rows.append(f"{done} done, {len(self.failed)} failed, {len(self.skipped)} skipped (already done) in "
                    f"{self.seconds:.1f} s: {frames / max(self.seconds, 1e-9):.1f} frames/s over {self.workers} "
                    f"{self.executor} worker{'s' if self.workers > 1 else ''}; {self.path}")
        return "\n".join(rows)


def _share(workers: int, threads: int | None) -> int:
    """CPU threads per worker: as asked, or a fair share of this machine's cores (no oversubscription)."""
    return threads or max(1, (os.cpu_count() or 1) // workers)


def _executor(kind: str, spec: Options, workers: int, address: str | None, gpus: float) -> Executor:
    if kind == "ray":
        from posetrack.batch.ray_executor import RayExecutor

        cores = spec.runtime.cores or 1
        return RayExecutor(spec, workers, address, cpus=cores, gpus=gpus,
                           local_cpus=None if address else max(os.cpu_count() or 1, cores * workers))
    if kind != "local":
        raise PosetrackError(f"executor {kind!r}: choose from {', '.join(EXECUTORS)}")
    return InlineExecutor(spec) if workers == 1 else ProcessExecutor(spec, workers)


def track_videos(sources: list[str | Path], out_dir: str | Path, options: Options | None = None,
                 executor: str = "local", workers: int = 1, *, ray_address: str | None = None,
                 threads_per_worker: int | None = None, gpus_per_worker: float = 0.0, retries: int = 1,
                 force: bool = False, recursive: bool = False, list_file: Path | None = None,
                 progress: bool = True, verbose: bool = False) -> BatchSummary:
    """Track every video of ``sources`` (files, folders, globs; plus those listed in ``list_file``) into
    ``out_dir/<stem>.json`` (+ ``.mp4``, ``.coco.json``), ``workers`` at a time on ``executor`` (``"local"``: this
    machine, ``"ray"``: a Ray instance or cluster at ``ray_address``).

    Videos the ledger records as done with the same input and options are skipped unless ``force``; a video whose
    worker dies is retried up to ``retries`` times. Ctrl-C or SIGTERM stops the batch keeping every finished
    video (and the ledger, and ``summary.json``); the exception is re-raised.
    """
    if workers < 1:
        raise PosetrackError(f"--workers {workers}: must be at least 1")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PosetrackError(f"{out}: exists and is not a folder")
    videos = collect([str(s) for s in sources], list_file, recursive)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / WORK, ignore_errors=True)  # what workers of a killed run left
    ledger = Ledger(out)
    options = options or Options()
    digest = options_digest(replace(options, runtime=replace(options.runtime, cores=None)))  # threads change no result
    keys = {s: input_key(s.path) for s in videos}
    todo = [s for s in videos if force or not ledger.is_done(s.path, keys[s], digest, out)]
    skipped = [s for s in videos if s not in todo]
    cores = _share(workers, threads_per_worker)
    spec = replace(options, runtime=replace(options.runtime, cores=cores))
    runner = _executor(executor, spec, min(workers, max(1, len(todo))), ray_address, gpus_per_worker)
    entries: list[Entry] = []
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="video", disable=not progress or None, dynamic_ncols=True, desc="videos")
    try:
        if todo:
            runner.start()
            # A stop signal is taken between polls, never between a ledger line and its entry here, so the summary
            # and the ledger always agree on what was done.
            with deferred_signals() as stop:
                _drive(runner, todo, keys, digest, out, ledger, entries, retries, bar, verbose, stop)
    finally:
        bar.close()
        runner.stop()
        ledger.close()
        shutil.rmtree(out / WORK, ignore_errors=True)  # every worker has stopped: nothing in it is finished
        seconds = time.perf_counter() - start
        order = {str(v.path.resolve()): i for i, v in enumerate(videos)}
        entries.sort(key=lambda e: order[e.video])
        path = out / "summary.json"
        with atomic_path(path) as draft:
            draft.write_text(summary_json(entries, seconds, runner.slots, executor))
    return BatchSummary(entries, skipped, seconds, runner.slots, executor, path)


def _drive(runner: Executor, todo: list[Source], keys: dict, digest: str, out: Path, ledger: Ledger,
           entries: list[Entry], retries: int, bar: tqdm, verbose: bool, stop: StopRequest) -> None:
    pending = deque((s, 1) for s in todo)
    running: dict[int, tuple[Source, int]] = {}
    frames, start = 0, time.perf_counter()

    def record(source: Source, status: str, attempt: int, result: VideoResult | None = None, error: str = "") -> Entry:
        outcome: dict[str, Any] = asdict(result) if result is not None else {"error": error}
        outcome.update(video=str(source.path.resolve()), stem=source.stem, status=status)
        if result is not None:
            outcome["seconds"] = round(result.seconds, 3)
        entry = Entry(input=keys[source], options=digest, attempt=attempt, **outcome)
        ledger.write(entry)
        return entry

    while pending or running:
        if stop.signum is not None:
            raise Interrupted(stop.signum)
        for slot in range(runner.slots):
            if slot not in running and pending:
                source, attempt = pending.popleft()
                record(source, "started", attempt)
                runner.submit(slot, VideoJob(str(source.path), source.stem, str(out), attempt))
                running[slot] = (source, attempt)
                if verbose:
                    tqdm.write(f"worker {slot} ({runner.worker(slot)}): {source.stem} (attempt {attempt})")
        for slot, outcome in runner.poll(timeout=1.0):
            source, attempt = running.pop(slot)
            if outcome == LOST:
                for left in (out / WORK).glob(f"{source.stem}.*.{attempt}"):
                    shutil.rmtree(left, ignore_errors=True)  # what the dead worker had written
                if attempt <= retries:
                    tqdm.write(f"posetrack: warning: the worker tracking {source.stem} died; retrying", file=sys.stderr)
                    pending.appendleft((source, attempt + 1))
                    continue
                entries.append(record(source, "failed", attempt, error=f"{source.path}: the worker died "
                                                                       f"{attempt} times tracking it"))
            else:
                assert isinstance(outcome, VideoResult)
                entries.append(record(source, outcome.status, attempt, outcome))
                frames += outcome.frames
            bar.update(1)
            bar.set_postfix(fps=f"{frames / (time.perf_counter() - start):.1f}", failed=sum(
                e.status != "done" for e in entries))
            if verbose:
                e = entries[-1]
                tqdm.write(f"worker {slot}: {e.stem} {e.status} ({e.frames} frames, {e.seconds:.1f} s)")
