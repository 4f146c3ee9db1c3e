"""The staged runtime: decode → detect → pose (crops → HRNet → keypoints) → track, overlapped.

Each stage is one function run by one generic worker (``Stage``): on a CPU a thread per stage joined to the next
by a bounded queue, so that while the pose network runs on frame t the detector runs on frame t+1 and the decoder
reads frame t+2 (ONNX Runtime, OpenCV and PyTorch release the GIL). One worker per stage keeps results in frame
order; bounded queues keep memory flat however long the video. ``sequential=True`` runs the same stage functions
one after another, for comparison.

Keyframes (``detect_every=K``). The detector runs on every K-th frame. In between, each person seen in the last
frame is looked for at a box made from their pose (``PoseTracker.proposals``: the extent of their confident joints
grown by 1.25, as MMDeploy's pose-to-box step does, moved by their own and the camera's motion); all such boxes of a
frame go through the pose network in one batch, a pose found there is kept when its mean keypoint score reaches
``recover_score``, and it continues its track only (it never starts one). The detector runs at once, off schedule,
when a followed person was lost, when a followed pose turns uncertain (mean keypoint score below
``redetect_below``) or at a scene cut; new people appear at the next keyframe. K = 1 detects every frame.

On a keyframe, a person tracked in the previous frame whom the detector missed is looked for at their flow-moved box
once the frame is associated (``_recover``: inside the image and on nobody already posed, kept at ``recover_score``),
in the track stage; its network time counts as the pose stage's.

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
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from posetrack.track import PoseTracker, Proposals
from posetrack.track.oks import box_iou
from posetrack.types import Detections, Frame, FrameResult, Poses, TrackedPoses, concat_poses

if TYPE_CHECKING:  # annotations only: the options record reads this module's defaults, and --help must not load torch
    from posetrack.detect import Detector
    from posetrack.pose import TopDownEstimator

log = logging.getLogger("posetrack")

STAGES = ("decode", "detect", "pose", "track")
JOIN_SECONDS = 30.0  # how long a stopping run waits for a stage inside a long call before saying so
MAX_PERSONS = 50  # poses per frame at most (the highest-scoring boxes): a bound on one frame's pose batch
QUEUE_SIZE = 4  # frames in flight between two stages: enough to keep every stage busy
RECOVER_SCORE = 0.5  # mean keypoint score that keeps a re-detected person (chosen on the validation clips)


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


@dataclass
class Work:
    """One frame on its way through the stages: what each stage has added so far."""

    frame: Frame
    seq: int  # its place among the frames of this run (frame indices may jump where a live source dropped some)
    detections: Detections | None = None  # None: not a keyframe (the detector did not run)
    poses: Poses | None = None
    proposed: np.ndarray | None = None  # (N,) bool: which poses were found at proposed boxes


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


def run_stages(source: Iterable[Any], stages: list[Stage], times: StageTimes, queue_size: int = 4,
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


class _Followed:
    """The track stage's word to the pose stage: the proposals (and whether to detect off schedule) for the next
    frame, published after each frame's association; the pose stage of frame t waits for those of frame t - 1."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = -1
        self.proposals = Proposals.none()
        self._redetect = False

    def publish(self, seq: int, proposals: Proposals, redetect: bool) -> None:
        with self._cond:
            self._seq, self.proposals, self._redetect = seq, proposals, redetect
            self._cond.notify_all()

    def after(self, seq: int) -> tuple[Proposals, bool]:
        """The proposals published after the run's frame ``seq`` (waits until they are)."""
        with self._cond:
            while self._seq < seq:
                self._cond.wait(0.05)
            return self.proposals, self._redetect


@dataclass
class Pipeline:
    """The stages, wired.

    Args:
        detector: person boxes per frame. estimator: top-down poses of those boxes (one batch per frame).
        tracker: identities. max_persons: keep at most this many highest-scoring boxes per frame.
        queue_size: frames in flight between two stages. sequential: run stages one after another.
        detect_every: run the detector on every K-th frame (keyframes; see the module docstring).
        recover_score: poses found at proposed boxes are kept when their mean keypoint score reaches this; None:
            no proposals (the detector alone finds people; only with ``detect_every`` 1).
        redetect_below: detect off schedule when a followed person's mean keypoint score drops below this.
        label: what runs the networks and why, for the run summary. warmup_s: seconds the GPU warm-up took when
            the pipeline was built (0 on a CPU).
        stage_context: the device work of a stage runs inside ``stage_context(stage)``: on a GPU, each network
            stage's own CUDA stream (``device.streams``), so that the detector's and the pose network's kernels can
            overlap; None on a CPU.
    """

    detector: Detector
    estimator: TopDownEstimator
    tracker: PoseTracker
    max_persons: int = MAX_PERSONS
    queue_size: int = QUEUE_SIZE
    sequential: bool = False
    detect_every: int = 1
    recover_score: float | None = RECOVER_SCORE
    redetect_below: float = 0.5
    label: str = ""
    stage_context: Callable[[str], AbstractContextManager] | None = None
    times: StageTimes = field(default_factory=StageTimes)
    warmup_s: float = 0.0  # spent before the first frame capturing and autotuning (``assemble.warm_up``), not timed

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError(f"detect_every {self.detect_every}: must be at least 1")
        if self.detect_every > 1 and self.recover_score is None:
            raise ValueError("detect_every > 1 follows people by their poses: it needs recover_score")
        self._followed = _Followed()
        self._thumb: np.ndarray | None = None
        self._estimator_lock = threading.Lock()  # the pose and track stages share the pose network (``_recover``)
        self._detector_lock = threading.Lock()  # the detect and pose stages share the detector (off schedule)

    @property
    def follows(self) -> bool:
        """Whether people are followed between keyframes by their poses (then the pose stage waits for the track
        stage)."""
        return self.detect_every > 1

    def stages(self) -> list[Stage]:
        return [Stage("detect", self._detect), Stage("pose", self._pose, announce=True),
                Stage("track", self._track, ahead=self._predict)]

    def run(self, frames: Iterable[Frame]) -> Generator[FrameResult, None, None]:
        """Process ``frames`` (one video: the tracker starts afresh); yields results in frame order as they
        complete."""
        self.times = StageTimes()
        self.tracker.reset()
        self._followed = _Followed()
        self._followed.publish(-1, Proposals.none(), False)  # before the first frame: nobody to follow
        self._thumb = None
        frames = self._warmed_up(iter(frames))
        start = time.perf_counter()
        try:
            works = (Work(f, seq) for seq, f in enumerate(frames))
            for result in run_stages(works, self.stages(), self.times, self.queue_size, self.sequential):
                self.times.frames += 1
                self.times.wall = time.perf_counter() - start
                result.fps = self.times.fps()["total"]
                result.latency = time.monotonic() - result.frame.captured
                yield result
        finally:
            self.times.wall = time.perf_counter() - start

    def _warmed_up(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """``frames`` again, after the pose step on a GPU was captured for the first frame's size, from this
        thread before any stage thread starts (its graphs depend on the frame size, which the source tells only
        now); the seconds count to ``warmup_s``, not to the run."""
        first = next(frames, None)
        if first is None:
            return frames
        self.warmup_s += self.estimator.warm_up(first.image.shape[:2], self.max_persons)
        return itertools.chain([first], frames)

    def track(self, source: str | int | Iterable[Frame]) -> Generator[FrameResult, None, None]:
        """``run`` over a video file, image folder, camera index or stream URL (or frames you give)."""
        if isinstance(source, (str, int)) or hasattr(source, "__fspath__"):
            from posetrack.io.video import VideoReader

            reader = VideoReader(source)  # type: ignore[arg-type]
            try:
                yield from self.run(reader)
            finally:
                reader.close()
        else:
            yield from self.run(source)

    # -- stages -------------------------------------------------------------------------------

    def _on(self, stage: str) -> AbstractContextManager:
        return self.stage_context(stage) if self.stage_context is not None else nullcontext()

    def _shared(self, lock: threading.Lock, network: str, caller: str, call: Callable[[], Any]) -> Any:
        """``call()``, a network two stages share, under its ``lock``. Its time is the busy time of the stage that
        owns the network (``network``), whichever stage ran it; the time ``caller`` waited for the lock is no
        stage's work. So a stage's busy time is the work done for it, and the end-to-end FPS never exceeds the
        slowest stage's rate."""
        t0 = time.perf_counter()
        with lock, self._on(network):
            t1 = time.perf_counter()
            out = call()
            t2 = time.perf_counter()
        self.times.add(caller, -(t1 - t0))
        if caller != network:
            self.times.add(caller, -(t2 - t1))
            self.times.add(network, t2 - t1)
        return out

    def _run_detector(self, frame: Frame, caller: str = "detect") -> Detections:
        found = self._shared(self._detector_lock, "detect", caller, lambda: self.detector.detect(frame))
        self.times.detected += 1
        if len(found) > self.max_persons:
            keep = np.argsort(-found.scores, kind="stable")[: self.max_persons]
            found = Detections(found.boxes[keep], found.scores[keep])
        return found

    def _detect(self, work: Work) -> Work:
        if work.seq % self.detect_every == 0:
            work.detections = self._run_detector(work.frame)
        return work

    def _pose(self, work: Work) -> Work:
        frame = work.frame
        proposals, redetect = (self._followed.after(work.seq - 1) if self.follows and work.detections is None
                               else (Proposals.none(), False))
        cut = self.detect_every > 1 and self._scene_cut(frame)
        if work.detections is None and (redetect or cut or len(proposals) == 0):
            work.detections = self._run_detector(frame, caller="pose")  # off schedule, on this thread
        if work.detections is not None:  # a keyframe: the detector's boxes (``_track`` adds the people it missed)
            boxes, scores = work.detections.boxes, work.detections.scores
        else:
            h, w = frame.image.shape[:2]
            boxes, scores = np.clip(proposals.boxes, 0, [w, h, w, h]), proposals.scores
        poses = self._estimate(frame, boxes, scores, caller="pose")
        work.poses = poses if work.detections is not None else self._confident(poses)
        work.proposed = np.full(len(work.poses), work.detections is None)
        return work

    def _estimate(self, frame: Frame, boxes: np.ndarray, scores: np.ndarray, caller: str) -> Poses:
        return self._shared(self._estimator_lock, "pose", caller, lambda: self.estimator.estimate(frame, boxes, scores))

    def _confident(self, poses: Poses) -> Poses:
        """The poses found at proposed boxes whose mean keypoint score reaches ``recover_score``."""
        assert self.recover_score is not None
        return poses.take(poses.scores.mean(1) >= self.recover_score)

    def _predict(self, work: Work) -> None:
        self.tracker.predict(work.frame.image)

    def _track(self, work: Work) -> FrameResult:
        assert work.poses is not None and work.proposed is not None
        keyframe = work.detections is not None
        tracked = self.tracker.update(work.poses, work.frame.image, can_start=~work.proposed)
        if keyframe and self.recover_score is not None:
            tracked = self._recover(work.frame, tracked)
        if self.follows:
            seen = self._followed.proposals.ids  # the people followed into this frame
            lost = not keyframe and len(np.setdiff1d(seen, tracked.track_ids)) > 0
            followed = work.proposed[self.tracker.kept]
            weak = bool(followed.any()) and float(tracked.scores[followed].mean(1).min()) < self.redetect_below
            self._followed.publish(work.seq, self.tracker.proposals(), lost or weak)
        found = work.detections if work.detections is not None else Detections.empty()
        return FrameResult(work.frame, found, tracked, keyframe=keyframe)

    def _recover(self, frame: Frame, tracked: TrackedPoses) -> TrackedPoses:
        """On a keyframe: poses for the people the detector missed, found at their flow-moved boxes (inside the
        image, not on a person already posed), kept when confident enough, continuing their tracks."""
        assert self.recover_score is not None
        ids, boxes = self.tracker.missing()
        h, w = frame.image.shape[:2]
        look = (boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= w) & (boxes[:, 3] <= h)
        if len(tracked) and len(boxes):
            look &= box_iou(boxes, tracked.boxes).max(1) < 0.5
        if not look.any():
            return tracked
        found = self._estimate(frame, boxes[look], np.zeros(int(look.sum()), np.float32), caller="track")
        keep = found.scores.mean(1) >= self.recover_score
        if not keep.any():
            return tracked
        return concat_poses(tracked, self.tracker.reclaim(ids[look][keep], found.take(keep)))

    def _scene_cut(self, frame: Frame) -> bool:
        """A cut between this frame and the last (mean absolute difference of 32x18 thumbnails above 50 grey
        levels: a new shot, where following people by their poses has nothing to follow)."""
        thumb = cv2.resize(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY), (32, 18), interpolation=cv2.INTER_AREA)
        previous, self._thumb = self._thumb, thumb.astype(np.int16)
        return previous is not None and float(np.abs(self._thumb - previous).mean()) > 50


