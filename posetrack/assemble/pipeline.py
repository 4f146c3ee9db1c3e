"""The pipeline of a set of options: every model file fetched first (one line names all that cannot be), the
detector, estimator and tracker built, wired, and warmed up on a GPU; ``create_pipeline`` is the Python entry."""

from __future__ import annotations

import time

import torch

from posetrack.assemble.backends import stage_threads
from posetrack.assemble.exports import detector_record, pose_record
from posetrack.assemble.stages import build_detector, build_estimator, build_tracker, pose_choice
from posetrack.backends import TorchBackend
from posetrack.detect import NetworkDetector
from posetrack.device import is_cuda
from posetrack.device.streams import stage_streams
from posetrack.errors import PosetrackError
from posetrack.models import fetch_all
from posetrack.models.records import DetectorRecord, PoseRecord
from posetrack.options import Options
from posetrack.pipeline import Pipeline
from posetrack.pose import GivenPoses, TopDownEstimator


def build_pipeline(options: Options) -> Pipeline:
    """Detector, estimator and tracker of ``options``, wired as a pipeline (stages overlapped unless
    ``options.runtime.sequential``); with ``options.pose.poses`` the tracker alone, on given poses."""
    runtime = options.runtime
    if options.pose.poses is not None:
        return given_poses_pipeline(options)
    needed: list[PoseRecord | DetectorRecord] = [pose_record(options.pose)]
    if options.detector.detections is None:
        needed.append(detector_record(options.detector))
    fetch_all(needed)  # every model file the run needs, before any is built: one line names all that cannot come
    detector_threads, pose_threads = stage_threads(runtime.sequential, runtime.cores)
    if runtime.cores is not None:
        torch.set_num_threads(runtime.cores)  # the torch backend's share
    choice = pose_choice(options)
    estimator = build_estimator(options, pose_threads, choice)
    detector = build_detector(options, detector_threads)
    streams = stage_streams(torch.device(choice.device)) if is_cuda(choice.device) else None
    pipeline = Pipeline(detector, estimator, build_tracker(options), options.keyframes, options.pose.max_persons,
                        runtime, label=choice.label(options.pose.precision), stage_context=streams)
    pipeline.warmup_s = warm_up(estimator, detector, options.pose.max_persons)
    return pipeline


def given_poses_pipeline(options: Options) -> Pipeline:
    """The tracker alone on poses another model made (``--poses FILE``): no network is built or fetched, and every
    frame is a keyframe (the file has the poses of every frame)."""
    if options.keyframes.every != 1:
        raise PosetrackError("--poses tracks the poses of every frame the file has: --detect-every does not apply")
    if options.detector.detections is not None:
        raise PosetrackError("--poses gives the boxes with the poses: it does not combine with --detections")
    given = GivenPoses(options.pose.poses, options.pose.layout)  # type: ignore[arg-type]
    return Pipeline(given, given, build_tracker(options), options.keyframes, options.pose.max_persons,
                    options.runtime, label=f"given poses ({given.path.name}, {given.skeleton.name})")


def warm_up(estimator: TopDownEstimator, detector: object, max_persons: int) -> float:
    """Run every batch shape the PyTorch networks will see on a GPU now, on this thread, before any stage thread
    starts: cuDNN autotuning and CUDA graph capture then never happen mid-run, and never concurrently with another
    stage's CUDA work. Here the detector's one frame, and the pose network's buckets up to ``max_persons`` crops
    (twice that with flip test) where it runs outside a pose step; a pose step (crops, network and decoding in one
    graph per frame size) is captured when the first frame shows its size (``Pipeline.run``). Returns the seconds
    it took (0.0 where nothing runs on a GPU)."""
    start = time.perf_counter()
    jobs = [] if estimator.step is not None else [
        (estimator.backend, estimator.config.input_size, max_persons * (2 if estimator.config.flip_test else 1))]
    if isinstance(detector, NetworkDetector):
        jobs.append((detector.backend, detector.input_size, 1))
    warmed = False
    for backend, (width, height), batch in jobs:
        if isinstance(backend, TorchBackend) and is_cuda(backend.device):
            backend.warm_up((3, height, width), batch)
            warmed = True
    return time.perf_counter() - start if warmed else 0.0


def create_pipeline(pose: str | None = None, detector: str | None = None, device: str | None = None,
                    precision: str | None = None, options: Options | None = None, **changes: object) -> Pipeline:
    """The Python entry: a pipeline of the named models (default: ``options.DEFAULT_POSE`` and
    ``DEFAULT_DETECTOR``, fetched on first use; ``"demo"`` for the shipped synthetic-world ones) on ``device``.
    Any other setting as ``section__field=value`` (``keyframes__every=3``, ``tracker__max_age=30``), over
    ``options`` (default: the defaults). ``pipeline.track(source)`` yields a ``FrameResult`` per frame."""
    return build_pipeline((options or Options()).replaced(pose, detector, device, precision, **changes))
