"""posetrack: real-time multi-person video pose tracking (HRNet poses, PoseTrack-style identities).

The Python entry points, loaded on first use (``import posetrack`` stays light, without torch)::

    import posetrack
    pipeline = posetrack.create_pipeline()           # the default real models, fetched once; "demo" offline
    for result in pipeline.track("video.mp4"):       # a FrameResult per frame: detections, poses, track ids
        ...
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"  # as pyproject.toml says

_LAZY = {
    "create_pipeline": "posetrack.assemble",
    "build_pipeline": "posetrack.assemble",
    "Options": "posetrack.options",
    "list_models": "posetrack.models",
    "get_model": "posetrack.models",
    "register_model": "posetrack.models",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'posetrack' has no attribute {name!r}")
