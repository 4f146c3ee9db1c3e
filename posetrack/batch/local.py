"""Workers on this machine: in the driver's own process (one worker: exactly ``posetrack run``'s speed), or as
worker processes, each holding its pipeline and tracking one video at a time.

An executor has ``slots`` workers; ``submit(slot, job)`` hands a video to an idle one and ``poll(timeout)``
returns ``(slot, outcome)`` pairs as workers finish: a ``VideoResult``, or ``LOST`` when the worker died
mid-video (it is restarted; the driver decides about retrying).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from posetrack.batch.ledger import VideoResult
from posetrack.batch.worker import VideoJob, VideoWorker
from posetrack.errors import Interrupted, PosetrackError
from posetrack.options import Options

LOST = "lost"  # a worker that died mid-video


class Executor(Protocol):
    slots: int

    def start(self) -> None: ...

    def submit(self, slot: int, job: VideoJob) -> None: ...

    def poll(self, timeout: float) -> list[tuple[int, VideoResult | str]]: ...

    def worker(self, slot: int) -> str: ...

    def stop(self) -> None: ...


class InlineExecutor:
    """One worker, in this process: ``poll`` tracks the submitted video itself (signals reach it directly)."""

    slots = 1

    def __init__(self, spec: Options):
        self.spec = spec
        self._worker: VideoWorker | None = None
        self._job: VideoJob | None = None

    def start(self) -> None:
        self._worker = VideoWorker(self.spec)

    def submit(self, slot: int, job: VideoJob) -> None:
        self._job = job

    def poll(self, timeout: float) -> list[tuple[int, VideoResult | str]]:
        if self._job is None or self._worker is None:
            return []
        job, self._job = self._job, None
        return [(0, self._worker.track(job))]

    def worker(self, slot: int) -> str:
        return self._worker.ready() if self._worker else "-"

    def stop(self) -> None:
        self._worker = None


def _serve(spec: Options, conn: Connection) -> None:
    """A worker process: build the pipeline, say so, then track each job sent until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the driver decides
    try:
        worker = VideoWorker(spec)
    except PosetrackError as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", worker.ready()))
    try:
        while (job := conn.recv()) is not None:
            conn.send(("result", worker.track(job)))
    except (Interrupted, EOFError):
        pass  # stopped by the driver (SIGTERM) or the driver is gone: the video in flight stays unfinished


class ProcessExecutor:
    """``slots`` worker processes (spawned: no state shared with the driver)."""

    def __init__(self, spec: Options, slots: int):
        self.spec, self.slots = spec, slots
        self._ctx = mp.get_context("spawn")
        self._procs: list[BaseProcess | None] = [None] * slots
        self._conns: list[Connection | None] = [None] * slots
        self._names = ["-"] * slots
        self._busy = [False] * slots

    def _launch(self, slot: int) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_serve, args=(self.spec, child), daemon=True, name=f"posetrack-worker-{slot}")
        proc.start()
        child.close()
        self._procs[slot], self._conns[slot] = proc, parent

    def _await_ready(self, slot: int) -> None:
        conn, proc = self._conns[slot], self._procs[slot]
        assert conn is not None and proc is not None
        try:
            kind, value = conn.recv() if conn.poll(600) else ("error", "no answer in 10 minutes")
        except EOFError:
            kind, value = "error", f"the process ended (exit status {proc.exitcode})"
        if kind != "ready":
            proc.terminate()
            raise PosetrackError(f"worker {slot} could not start: {value}")
        self._names[slot] = value

    def _spawn(self, slot: int) -> None:
        self._launch(slot)
        self._await_ready(slot)

    def start(self) -> None:
        for slot in range(self.slots):  # all at once: the models load in parallel
            self._launch(slot)
        for slot in range(self.slots):
            self._await_ready(slot)

    def submit(self, slot: int, job: VideoJob) -> None:
        conn = self._conns[slot]
        assert conn is not None
        conn.send(job)
        self._busy[slot] = True

    def poll(self, timeout: float) -> list[tuple[int, VideoResult | str]]:
        waiting: dict[Any, int] = {}
        for slot in range(self.slots):
            conn, proc = self._conns[slot], self._procs[slot]
            if self._busy[slot] and conn is not None and proc is not None:
                waiting[conn] = slot
                waiting[proc.sentinel] = slot
        out: list[tuple[int, VideoResult | str]] = []
        for ready in wait(list(waiting), timeout):
            slot = waiting[ready]
            if not self._busy[slot]:
                continue
            conn = self._conns[slot]
            assert conn is not None
            try:
                if ready is not conn and not conn.poll():
                    raise EOFError  # the process ended without an answer
                kind, value = conn.recv()
            except (EOFError, OSError):
                self._busy[slot] = False
                self._restart(slot)
                out.append((slot, LOST))
                continue
            self._busy[slot] = False
            out.append((slot, value if kind == "result" else LOST))
        return out

    def _restart(self, slot: int) -> None:
        proc = self._procs[slot]
        if proc is not None:
            proc.join(timeout=5)
        self._spawn(slot)

    def worker(self, slot: int) -> str:
        return self._names[slot]

    def stop(self) -> None:
        for slot, proc in enumerate(self._procs):
            if proc is not None and proc.is_alive():
                if not self._busy[slot] and self._conns[slot] is not None:
                    try:
                        self._conns[slot].send(None)  # type: ignore[union-attr]
                    except OSError:
                        pass
                else:
                    proc.terminate()  # SIGTERM: the worker closes its files (in its work folder) and exits
        for proc in self._procs:
            if proc is not None:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
        self._procs = [None] * self.slots
