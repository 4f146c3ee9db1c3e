"""Which backend runs a model: the user's explicit choice, or ``auto`` = TensorRT when it can run here, else
ONNX Runtime (which itself prefers its TensorRT, then CUDA, then CPU provider; see ``default_providers``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

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


def check_device(device: str | None, cuda_devices: int) -> str | None:
    """``cpu`` or ``cuda:N`` for a ``--device`` value (``cuda`` means ``cuda:0``); None stays None (the caller's
    default).

    Raises:
        PosetrackError: not cpu / cuda / cuda:N, or a CUDA device this machine does not have.
    """
    if device is None or device == "cpu":
        return device
    kind, _, index = device.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise PosetrackError(f"--device {device}: use cpu, cuda or cuda:N")
    if int(index or 0) >= cuda_devices:
        raise PosetrackError(f"--device {device}: no such CUDA device here ({cuda_devices} visible)")
    return f"cuda:{int(index or 0)}"


def default_device(device: str | None, cuda_devices: int) -> str:
    """``check_device``, with None meaning the first CUDA GPU if there is one, else the CPU."""
    return check_device(device, cuda_devices) or ("cuda:0" if cuda_devices else "cpu")


@dataclass(frozen=True)
class BackendChoice:
    """What runs the networks: ``kind`` (torch, ort, trt), on ``device``, and why (for the run summary)."""

    kind: str
    device: str
    reason: str

    def label(self, precision: str) -> str:
        return f"{self.kind}:{self.device} {precision} ({self.reason})"


def resolve_backend(requested: str, device: str | None, trt_usable: bool, cuda_devices: int,
                    ort_cuda: bool) -> BackendChoice:
    """The backend and device for ``--backend`` and ``--device`` (None: a CUDA GPU if there is one).

    ``auto`` takes, in order: TensorRT (installed and usable) → PyTorch on CUDA → ONNX Runtime with its CUDA
    provider → ONNX Runtime on the CPU. An explicit device that is not there is an error.
    """
    device = check_device(device, cuda_devices)
    gpu = device.startswith("cuda") if device is not None else cuda_devices > 0
    where = device or ("cuda:0" if gpu else "cpu")
    kind = choose_backend(requested, trt_usable and gpu)
    if requested != "auto":
        return BackendChoice(kind, where if kind != "ort" else ("cuda" if gpu and ort_cuda else "cpu"), "as asked")
    if kind == "trt":
        return BackendChoice("trt", where, "TensorRT installed")
    if gpu:
        return BackendChoice("torch", where, "TensorRT not installed" if not trt_usable else "TensorRT not usable")
    if ort_cuda and device is None:
        return BackendChoice("ort", "cuda", "no CUDA device for torch; ONNX Runtime's CUDA provider")
    reason = "--device cpu" if device == "cpu" else "no CUDA GPU"
    return BackendChoice("ort", "cpu", reason)
