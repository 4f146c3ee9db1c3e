"""Which backend runs a model: the user's explicit choice, or ``auto`` = TensorRT when it can run here, else
ONNX Runtime (which itself prefers its TensorRT, then CUDA, then CPU provider; see ``default_providers``)."""

from __future__ import annotations

import functools

from posetrack.errors import PosetrackError

BACKENDS = ("auto", "torch", "ort", "trt")


def choose_backend(requested: str, trt_usable: bool) -> str:
    """``torch``, ``ort`` or ``trt`` for a requested backend name.

    Raises:
        PosetrackError: unknown name, or ``trt`` asked for where TensorRT cannot run.
    """
    if requested not in BACKENDS:
        raise PosetrackError(f"unknown backend {requested!r}; use {', '.join(BACKENDS)}")
    if requested == "auto":
        return "trt" if trt_usable else "ort"
    if requested == "trt" and not trt_usable:
        raise PosetrackError("--backend trt: TensorRT cannot run here (needs the tensorrt package and a CUDA GPU); "
                             "use --backend ort or auto")
    return requested


@functools.cache
def tensorrt_usable() -> bool:
    """The ``tensorrt`` module imports and torch sees a CUDA device."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    import torch

    return torch.cuda.is_available()
