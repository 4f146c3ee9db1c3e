"""The staged runtime: decode → detect → pose (crops → HRNet → keypoints) → track, overlapped.

Each stage is one function run by one generic worker (``Stage``): on a CPU a thread per stage joined to the next
by a bounded queue, so that while the pose network runs on frame t the detector runs on frame t+1 and the decoder
reads frame t+2 (ONNX Runtime, OpenCV and PyTorch release the GIL). One worker per stage keeps results in frame
order; bounded queues keep memory flat however long the video. ``sequential=True`` runs the same stage functions
one after another, for comparison.

``Pipeline`` wires the stages; what they decide is others': when the detector runs and how people are followed in
between is the keyframe policy's (``track.follow``), identities the tracker's, where the frames come from and how
many may wait between stages the source's (``io.sources.open_source``).

How it stays overlapped: the pose stage of a frame between keyframes needs the tracks of the frame before (their
proposals), so it waits for the track stage to finish that frame, but nothing else waits: the decoder and the
detector (on its keyframes) run ahead, and the track stage receives each frame before its poses
(``Stage.announce``), so the optical flow of frame t runs on the track thread while the pose network runs on the
pose thread; association (about a millisecond) is the only serial part. With K = 1 nothing waits.

Errors and Ctrl-C stop every stage; the frames finished so far have already been handed to the caller.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from posetrack.io.sources import open_source
from posetrack.options import QUEUE_SIZE, KeyframeOptions, RuntimeOptions
from posetrack.track import PoseTracker
from posetrack.track.follow import Follower
from posetrack.track.tracker import Prediction
from posetrack.types import Detections, Frame, FrameResult, Poses

log = logging.getLogger("posetrack")

STAGES = ("decode", "detect", "pose", "track")
JOIN_SECONDS = 30.0  # how long a stopping run waits for a stage inside a long call before saying so


class Detector(Protocol):
    def detect(self, frame: Frame) -> Detections: ...


class Estimator(Protocol):
    def estimate(self, image: Any, boxes: np.ndarray, box_scores: np.ndarray | None = None) -> Poses: ...
    def warm_up(self, frame_size: tuple[int, int], max_persons: int) -> float: ...


@dataclass
class StageTimes:
    """Busy seconds per stage (added from every stage thread), frames processed, wall seconds of the run, and the
    frames the detector ran on (scheduled keyframes and on-demand ones)."""

    busy: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    wall: float = 0.0
    detected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.busy[stage] += seconds

    def fps(self) -> dict[str, float]:
        """Frames per second of each stage alone (frames / busy time) and end to end ("total")."""
        out = {s: self.frames / t if t > 0 else float("inf") for s, t in self.busy.items()}
        out["total"] = self.frames / self.wall if self.wall > 0 else 0.0
        return out

    def shared(self, owner: str, caller: str, lock: threading.Lock, call: Callable[[], Any],
               context: AbstractContextManager | None = None) -> Any:
        """``call()`` of a network two stages share, under its ``lock`` (and ``context``: its stage's CUDA stream).
        Its time is the busy time of the stage that owns the network (``owner``), whichever stage ran it; the time
        ``caller`` waited for the lock is no stage's work. So a stage's busy time is the work done for it, and the
        end-to-end FPS never exceeds the slowest stage's rate."""
        t0 = time.perf_counter()
        with lock, context or nullcontext():
            t1 = time.perf_counter()
            out = call()
            t2 = time.perf_counter()
        self.add(caller, -(t1 - t0))
        if caller != owner:
            self.add(caller, -(t2 - t1))
            self.add(owner, t2 - t1)
        return out


@dataclass
class Work:
    """One frame on its way through the stages: what each stage has added so far."""

    frame: Frame
    seq: int  # its place among the frames of this run (frame indices may jump where a live source dropped some)
    detections: Detections | None = None  # the detector's boxes (None: it did not run on this frame)
    poses: Poses | None = None
    proposed: np.ndarray | None = None  # (N,) bool: which poses were found at proposed boxes
    prediction: Prediction | None = None  # the tracks moved into this frame (the track stage, ahead of the poses)


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline: ``fn(item) -> item`` run by one worker.

    Attributes:
        name: the stage (its busy time is counted under it).
        fn: the work on one item.
        announce: hand each item to the next stage (its ``ahead``) before working on it.
        ahead: what this stage does with an announced item, before the item itself arrives.
    """

    name: str
    fn: Callable[[Any], Any]
    announce: bool = False
    ahead: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class _Ahead:
    item: Any


_DONE = object()


def run_stages(source: Iterable[Any], stages: list[Stage], times: StageTimes, queue_size: int = QUEUE_SIZE,
               sequential: bool = False) -> Iterator[Any]:
    """The outputs of ``stages`` applied in order to every item of ``source``, in order; overlapped (one worker
    thread per stage and one reading ``source``, bounded queues between them) unless ``sequential``."""
    if sequential:
        yield from _one_by_one(source, stages, times)
    else:
        yield from _overlapped(source, stages, times, queue_size)


def _timed(times: StageTimes, stage: str, fn: Callable, *args: Any) -> Any:
    t0 = time.perf_counter()
    try:
        return fn(*args)
    finally:
        times.add(stage, time.perf_counter() - t0)


def _one_by_one(source: Iterable[Any], stages: list[Stage], times: StageTimes) -> Iterator[Any]:
    items = iter(source)
    while (item := _timed(times, "decode", next, items, _DONE)) is not _DONE:
        for i, stage in enumerate(stages):
            nxt = stages[i + 1] if i + 1 < len(stages) else None
            if stage.announce and nxt is not None and nxt.ahead is not None:
                _timed(times, nxt.name, nxt.ahead, item)
            item = _timed(times, stage.name, stage.fn, item)
        yield item


def _overlapped(source: Iterable[Any], stages: list[Stage], times: StageTimes, queue_size: int) -> Iterator[Any]:
    stop = threading.Event()
    errors: list[BaseException] = []
    queues: list[queue.Queue] = [queue.Queue(queue_size) for _ in range(len(stages) + 1)]

    def put(q: queue.Queue, item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def get(q: queue.Queue) -> Any:
        while not stop.is_set():
            try:
                return q.get(timeout=0.05)
            except queue.Empty:
                continue
        return _DONE

    def read() -> None:
        items = iter(source)
        while not stop.is_set():
            item = _timed(times, "decode", next, items, _DONE)
            if item is _DONE or not put(queues[0], item):
                break
        put(queues[0], _DONE)

    def work(i: int) -> None:
        stage, inbox, outbox = stages[i], queues[i], queues[i + 1]
        nxt = stages[i + 1] if i + 1 < len(stages) else None
        while (item := get(inbox)) is not _DONE:
            if isinstance(item, _Ahead):
                if stage.ahead is not None:
                    _timed(times, stage.name, stage.ahead, item.item)
                continue
            if stage.announce and nxt is not None and nxt.ahead is not None and not put(outbox, _Ahead(item)):
                return
            if not put(outbox, _timed(times, stage.name, stage.fn, item)):
                return
        put(outbox, _DONE)

    def guard(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # handed to the consumer, which re-raises it
                errors.append(exc)
                stop.set()
        return run

    def worker(i: int) -> Callable[[], None]:
        return lambda: work(i)

    threads = [threading.Thread(target=guard(read), daemon=True, name="posetrack-decode")]
    threads += [threading.Thread(target=guard(worker(i)), daemon=True, name=f"posetrack-{s.name}")
                for i, s in enumerate(stages)]
    for t in threads:
        t.start()
    try:
        while (item := get(queues[-1])) is not _DONE:
            yield item
    finally:
        stop.set()
        deadline = time.monotonic() + JOIN_SECONDS
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:  # a thread inside a long network call cannot be interrupted; it ends when the call returns
            log.warning("%s still running %.0f s after the run stopped; left to finish on its own",
                        ", ".join(stuck), JOIN_SECONDS)
    if errors:
        raise errors[0]


def strongest(found: Detections, count: int) -> Detections:
    """The ``count`` highest-scoring boxes of ``found`` (a bound on one frame's pose batch)."""
    if len(found) <= count:
        return found
    keep = np.argsort(-found.scores, kind="stable")[:count]
    return Detections(found.boxes[keep], found.scores[keep])


def warmed_up(frames: Iterator[Frame], estimator: Estimator, max_persons: int) -> tuple[Iterator[Frame], float]:
    """``frames`` again, after the pose step on a GPU was captured for the first frame's size, from this thread
    before any stage thread starts (its graphs depend on the frame size, which the source tells only now), and the
    seconds that took (not the run's)."""
    first = next(frames, None)
    if first is None:
        return frames, 0.0
    return itertools.chain([first], frames), estimator.warm_up(first.image.shape[:2], max_persons)


@dataclass
class Pipeline:
    """The stages, wired: ``run(frames)`` / ``track(source)`` yield a ``FrameResult`` per frame, in order. Parts:
    detector, estimator (top-down poses, a batch a frame), tracker; ``keyframes`` (``track.follow``'s settings);
    ``runtime`` (sequential, queue size, how ``track`` opens a source); on a GPU ``stage_context`` (a CUDA stream
    per network stage, ``device.streams``) and ``warmup_s`` (not in the FPS); ``label``: for the summary."""

    detector: Detector
    estimator: Estimator
    tracker: PoseTracker
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)
    max_persons: int = 50
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    label: str = ""
    stage_context: Callable[[str], AbstractContextManager] | None = None
    times: StageTimes = field(default_factory=StageTimes)
    warmup_s: float = 0.0

    def __post_init__(self) -> None:
        self.follower = Follower(self.keyframes)
        self._locks = {"detect": threading.Lock(), "pose": threading.Lock()}  # networks two stages share

    def run(self, frames: Iterable[Frame], queue_size: int | None = None) -> Generator[FrameResult, None, None]:
        """Process ``frames`` (one video: the tracker starts afresh); yields results in frame order."""
        self.times = StageTimes()
        self.tracker.reset()
        self.follower.reset()
        frames, seconds = warmed_up(iter(frames), self.estimator, self.max_persons)
        self.warmup_s += seconds
        stages = [Stage("detect", self._detect), Stage("pose", self._pose, announce=True),
                  Stage("track", self._track, ahead=self._predict)]
        start = time.perf_counter()
        try:
            works = (Work(f, seq) for seq, f in enumerate(frames))
            for result in run_stages(works, stages, self.times, queue_size or self.runtime.queue_size or QUEUE_SIZE,
                                     self.runtime.sequential):
                self.times.frames += 1
                self.times.wall = time.perf_counter() - start
                result.fps, result.latency = self.times.fps()["total"], time.monotonic() - result.frame.captured
                yield result
        finally:
            self.times.wall = time.perf_counter() - start

    def track(self, source: str | int | Path | Iterable[Frame]) -> Generator[FrameResult, None, None]:
        """``run`` over a video file, image folder, camera index or stream URL (opened as ``io.sources`` opens it
        for the runtime's buffering and reconnection), or over frames you give."""
        if not isinstance(source, (str, int, os.PathLike)):
            yield from self.run(source)
            return
        with open_source(source, self.runtime) as frames:
            yield from self.run(frames, frames.queue_size)

    def _network(self, owner: str, caller: str, call: Callable[[], Any]) -> Any:  # timed as the owner's
        context = self.stage_context(owner) if self.stage_context is not None else None
        return self.times.shared(owner, caller, self._locks[owner], call, context)

    def _run_detector(self, frame: Frame, caller: str) -> Detections:
        self.times.detected += 1
        return strongest(self._network("detect", caller, lambda: self.detector.detect(frame)), self.max_persons)

    def _estimate(self, frame: Frame, boxes: np.ndarray, caller: str, scores: np.ndarray | None = None) -> Poses:
        return self._network("pose", caller, lambda: self.estimator.estimate(frame, boxes, scores))

    def _detect(self, work: Work) -> Work:
        if self.follower.scheduled(work.seq):
            work.detections = self._run_detector(work.frame, "detect")
        return work

    def _pose(self, work: Work) -> Work:
        plan = self.follower.plan(work.seq, work.frame.image, work.detections is not None)
        if plan.detect is not None and work.detections is None:
            work.detections = self._run_detector(work.frame, "pose")  # off schedule, on this thread
        boxes = work.detections if work.detections is not None else plan.look  # the detector's, or the followed's
        poses = self._estimate(work.frame, boxes.boxes, "pose", boxes.scores)
        work.poses = poses if work.detections is not None else poses.take(self.follower.confident(poses))
        work.proposed = np.full(len(work.poses), work.detections is None)
        return work

    def _predict(self, work: Work) -> None:
        work.prediction = self.tracker.predict(work.frame.image)

    def _track(self, work: Work) -> FrameResult:
        assert work.poses is not None and work.proposed is not None
        keyframe = work.detections is not None
        recover = self.follower.recoverer(work.frame.image, lambda boxes: self._estimate(
            work.frame, boxes, "track", np.zeros(len(boxes), np.float32))) if keyframe else None
        update = self.tracker.update(work.poses, work.frame.image, prediction=work.prediction,
                                     can_start=~work.proposed, recover=recover)
        self.follower.publish(work.seq, update, work.proposed, keyframe)
        found = work.detections if work.detections is not None else Detections.empty()
        return FrameResult(work.frame, found, update.tracked, keyframe=keyframe)
