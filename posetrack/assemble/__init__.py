"""The one assembly point: options (``posetrack.options``) + model records (``models``) → backends, detector,
estimator, tracker and pipeline.

Only the command line, the bench, the trainers and the batch runner build things, and they build them here; the
stages themselves never choose a model, a backend or a cache. One module per job:

- ``backends``: the backend factory (``resolve_backend``'s choice made once per network, ``make_backend``);
- ``exports``: each model's record from the options, its FP32 export and its calibration recipe;
- ``stages``: the estimator, the detector and the tracker of a set of options;
- ``pipeline``: all of them fetched, built, wired and warmed up (``build_pipeline``, ``create_pipeline``);
- ``steps``: the compile chain's steps and the model check as the command line runs them.
"""

from posetrack.assemble.backends import (
    ALL_CORES,
    CpuThreads,
    NetworkRun,
    backend_for,
    choose,
    device_for,
    make_backend,
    stage_threads,
)
from posetrack.assemble.exports import detector_record, export_detector, export_pose, pose_record
from posetrack.assemble.pipeline import build_pipeline, create_pipeline, warm_up
from posetrack.assemble.stages import build_detector, build_estimator, build_tracker
from posetrack.assemble.steps import (
    build_engine,
    calibrate_model,
    check_model,
    export_model,
    exported,
    tensorrt_input,
)

__all__ = ["ALL_CORES", "CpuThreads", "NetworkRun", "backend_for", "build_detector", "build_engine", "build_estimator",
           "build_pipeline", "build_tracker", "calibrate_model", "check_model", "choose", "create_pipeline",
           "detector_record", "device_for", "export_detector", "export_model", "export_pose", "exported",
           "make_backend", "pose_record", "stage_threads", "tensorrt_input", "warm_up"]
