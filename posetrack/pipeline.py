"""The staged runtime: decode → detect → pose (crops → HRNet → keypoints) → track, overlapped.

On a CPU each stage is a worker thread joined to the next by a bounded queue: while the pose network runs on
frame t, the detector runs on frame t+1 and the decoder reads frame t+2 (ONNX Runtime, OpenCV and PyTorch release
the GIL). One worker per stage keeps results in frame order; bounded queues keep memory flat however long the
video. ``sequential=True`` runs the same stages one after the other, for comparison.

Errors and Ctrl-C stop every stage; the frames finished so far have already been handed to the caller.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import numpy as np

from posetrack.detect import Detector
from posetrack.pose import TopDownEstimator
from posetrack.track import PoseTracker
from posetrack.track.oks import box_iou
from posetrack.types import Detections, Frame, FrameResult, Poses, TrackedPoses, concat_poses

STAGES = ("decode", "detect", "pose", "track")


@dataclass
class StageTimes:
    """Busy seconds per stage and frames processed; wall seconds of the whole run."""

    busy: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    wall: float = 0.0

    def fps(self) -> dict[str, float]:
        """Frames per second of each stage alone (frames / busy time) and end to end ("total")."""
        out = {s: self.frames / t if t > 0 else float("inf") for s, t in self.busy.items()}
        out["total"] = self.frames / self.wall if self.wall > 0 else 0.0
        return out


@dataclass
class Pipeline:
    """The stages, wired.

    Args:
        detector: person boxes per frame. estimator: top-down poses of those boxes (one batch per frame).
        tracker: identities. max_persons: keep at most this many highest-scoring boxes per frame.
        queue_size: frames in flight between two stages. sequential: run stages one after another.
        recover_score: re-detection of persons the detector missed: a track that had a pose last frame and
            found none is looked for at its flow-moved box, and the pose found there is kept if its mean
            keypoint score reaches this (None: off).
    """

    detector: Detector
    estimator: TopDownEstimator
    tracker: PoseTracker
    max_persons: int = 50
    queue_size: int = 4
    sequential: bool = False
    recover_score: float | None = 0.5
    label: str = ""  # what runs the networks and why, for the run summary
    # the device work of a stage runs inside ``stage_context(stage)``: on a GPU, each network stage's own CUDA stream
    # (``device.streams``), so that the detector's and the pose network's kernels can overlap; None on a CPU
    stage_context: Callable[[str], AbstractContextManager] | None = None
    times: StageTimes = field(default_factory=StageTimes)
    # the pose and track stages share the estimator (backends such as TensorRT contexts are not thread-safe)
    _estimator_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run(self, frames: Iterable[Frame]) -> Generator[FrameResult, None, None]:
        """Process ``frames`` (one video: the tracker starts afresh); yields results in frame order as they
        complete."""
        self.times = StageTimes()
        self.tracker.reset()
        start = time.perf_counter()
        try:
            runner = self._sequential if self.sequential else self._threaded
            for result in runner(frames):
                self.times.frames += 1
                self.times.wall = time.perf_counter() - start
                result.fps = self.times.fps()["total"]
                yield result
        finally:
            self.times.wall = time.perf_counter() - start

    # -- stages -------------------------------------------------------------------------------

    def _timed(self, stage: str, fn: Callable, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        self.times.busy[stage] += time.perf_counter() - t0
        return out

    def _on(self, stage: str) -> AbstractContextManager:
        return self.stage_context(stage) if self.stage_context is not None else nullcontext()

    def _detect(self, frame: Frame) -> tuple[Frame, Detections]:
        with self._on("detect"):
            found = self.detector.detect(frame)
        if len(found) > self.max_persons:
            keep = np.argsort(-found.scores, kind="stable")[: self.max_persons]
            found = Detections(found.boxes[keep], found.scores[keep])
        return frame, found

    def _pose(self, frame: Frame, found: Detections) -> tuple[Frame, Detections, Poses]:
        with self._estimator_lock, self._on("pose"):
            return frame, found, self.estimator.estimate(frame, found.boxes, found.scores)

    def _track(self, frame: Frame, found: Detections, poses: Poses) -> FrameResult:
        tracked = self.tracker.update(poses, frame.image)
        if self.recover_score is not None:
            tracked = self._recover(frame, tracked)
        return FrameResult(frame, found, tracked)

    def _recover(self, frame: Frame, tracked: TrackedPoses) -> TrackedPoses:
        """Poses for the tracks the detector lost this frame, found at their flow-moved boxes (inside the image,
        not on a person already posed), kept when confident enough."""
        ids, boxes = self.tracker.missing()
        h, w = frame.image.shape[:2]
        look = (boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= w) & (boxes[:, 3] <= h)
        if len(tracked) and len(boxes):
            look &= box_iou(boxes, tracked.boxes).max(1) < 0.5
        if not look.any():
            return tracked
        with self._estimator_lock, self._on("pose"):
            found = self.estimator.estimate(frame, boxes[look], np.zeros(int(look.sum()), np.float32))
        keep = found.scores.mean(1) >= self.recover_score
        if not keep.any():
            return tracked
        return concat_poses(tracked, self.tracker.reclaim(ids[look][keep], found.take(keep)))

    def _sequential(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        source = iter(frames)
        while True:
            frame = self._timed("decode", next, source, None)
            if frame is None:
                return
            item = self._timed("detect", self._detect, frame)
            item = self._timed("pose", self._pose, *item)
            yield self._timed("track", self._track, *item)

    def _threaded(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        stop = threading.Event()
        errors: list[BaseException] = []
        queues: list[queue.Queue] = [queue.Queue(self.queue_size) for _ in range(len(STAGES))]
        done = object()

        def put(q: queue.Queue, item) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def get(q: queue.Queue):
            while not stop.is_set():
                try:
                    return q.get(timeout=0.05)
                except queue.Empty:
                    continue
            return done

        def decode() -> None:
            source = iter(frames)
            while not stop.is_set():
                frame = self._timed("decode", next, source, None)
                if frame is None or not put(queues[0], frame):
                    break
            put(queues[0], done)

        def worker(stage: str, fn: Callable, inbox: queue.Queue, outbox: queue.Queue, spread: bool) -> Callable:
            def loop() -> None:
                while True:
                    item = get(inbox)
                    if item is done:
                        break
                    out = self._timed(stage, fn, *item) if spread else self._timed(stage, fn, item)
                    if not put(outbox, out):
                        return
                put(outbox, done)
            return loop

        def guard(target: Callable) -> Callable:
            def run() -> None:
                try:
                    target()
                except BaseException as exc:  # handed to the consumer, which re-raises it
                    errors.append(exc)
                    stop.set()
            return run

        threads = [threading.Thread(target=guard(t), daemon=True, name=f"posetrack-{n}") for n, t in (
            ("decode", decode),
            ("detect", worker("detect", self._detect, queues[0], queues[1], spread=False)),
            ("pose", worker("pose", self._pose, queues[1], queues[2], spread=True)),
            ("track", worker("track", self._track, queues[2], queues[3], spread=True)),
        )]
        for t in threads:
            t.start()
        try:
            while True:
                item = get(queues[3])
                if item is done:
                    break
                yield item
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=5.0)
        if errors:
            raise errors[0]
