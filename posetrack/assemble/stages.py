"""The stages' parts, built from the options: the pose estimator and the person detector on their backends (a
network each, its backend chosen once), and the tracker."""

from __future__ import annotations

import logging

from posetrack.assemble.backends import ALL_CORES, CpuThreads, NetworkRun, choose, make_backend
from posetrack.assemble.exports import detector_record, export_detector, export_pose, pose_record
from posetrack.backends.select import BackendChoice
from posetrack.detect import Detector, NetworkDetector, PrecomputedDetections
from posetrack.models import choice_line, create_model
from posetrack.options import Options
from posetrack.pose import TopDownConfig, TopDownEstimator
from posetrack.track import PoseTracker

log = logging.getLogger("posetrack")


def pose_choice(options: Options) -> BackendChoice:
    """The backend and device of the options' pose network."""
    return choose(options.runtime.backend, options.pose.precision, options.runtime.device)


def build_estimator(options: Options, threads: CpuThreads = ALL_CORES,
                    choice: BackendChoice | None = None) -> TopDownEstimator:
    """A top-down estimator of the options' pose model on its backend (``choice``: made already, else now),
    precision and device (on a CUDA device crops and decoding run there too: ``posetrack.device``)."""
    record = pose_record(options.pose)
    module = create_model(record)
    run = NetworkRun(choice or pose_choice(options), options.pose.precision, threads,
                     torch_compile=options.runtime.torch_compile)
    backend = make_backend(export_pose(record, module), run)
    return TopDownEstimator(backend, config=TopDownConfig.from_record(record, options.pose.flip_test))


def build_detector(options: Options, threads: CpuThreads = ALL_CORES) -> Detector:
    """The options' person detector: precomputed boxes, or its network on its backend, precision and device."""
    opts = options.detector
    if opts.detections is not None:
        return PrecomputedDetections(opts.detections)
    record = detector_record(opts)
    if record.why:  # a user's file: say once what it was taken to be, and why
        log.info("%s", choice_line(record, opts.conf, opts.iou))
    module = create_model(record) if record.weights is not None else None
    choice = choose(options.runtime.backend, opts.precision, options.runtime.device, torch_ok=module is not None)
    backend = make_backend(export_detector(record, module), NetworkRun(choice, opts.precision, threads))
    return NetworkDetector(backend, record, opts.conf, opts.iou)


def build_tracker(options: Options) -> PoseTracker:
    return PoseTracker(options.tracker)
