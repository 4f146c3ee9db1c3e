"""Which backend runs a network, decided in one place: the capability table says what each backend runs
(precisions per device, device tensors), ``Machine`` what this machine has, and ``resolve_backend`` turns
``--backend`` / ``--precision`` / ``--device`` into a choice, with the reason the run summary prints.

``auto`` takes, on a CUDA device: TensorRT (installed) → PyTorch (CUDA graphs, the device-resident path) →
ONNX Runtime's CUDA provider; on the CPU: ONNX Runtime → PyTorch (bf16 runs there only); in each case the first
that is usable here and runs the precision asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from posetrack.errors import PosetrackError
from posetrack.options import BACKENDS, PRECISIONS


@dataclass(frozen=True)
class Capability:
    """What one backend runs.

    Attributes:
        kind: ``torch``, ``ort`` or ``trt``.
        precisions: per device type (``cpu``, ``cuda``), the precisions it runs there.
        device_tensors: it takes tensors already on its device (``base.DeviceBackend``).
        needs: what it needs installed, for the messages.
    """

    kind: str
    precisions: Mapping[str, tuple[str, ...]]
    device_tensors: bool
    needs: str

    def runs(self, precision: str, device_type: str) -> bool:
        return precision in self.precisions.get(device_type, ())


CAPABILITIES = {c.kind: c for c in (
    Capability("trt", {"cuda": ("fp32", "fp16", "int8")}, True, "the tensorrt package and a CUDA GPU"),
    Capability("torch", {"cuda": ("fp32", "fp16", "bf16"), "cpu": ("fp32", "bf16")}, True, "PyTorch"),
    Capability("ort", {"cuda": ("fp32", "fp16", "int8"), "cpu": ("fp32", "fp16", "int8")}, False,
               "onnxruntime (onnxruntime-gpu for a GPU)"),
)}
AUTO_ORDER = {"cuda": ("trt", "torch", "ort"), "cpu": ("ort", "torch")}


@dataclass(frozen=True)
class Machine:
    """What this machine can run: CUDA devices torch sees, TensorRT usable, ONNX Runtime's CUDA provider."""

    cuda_devices: int = 0
    tensorrt: bool = False
    ort_cuda: bool = False

    @staticmethod
    @functools.cache
    def here() -> Machine:
        import onnxruntime
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return Machine(gpus, gpus > 0 and _tensorrt_imports(),
                       "CUDAExecutionProvider" in onnxruntime.get_available_providers())

    def has(self, kind: str, device_type: str) -> bool:
        """Whether backend ``kind`` can run on ``device_type`` here."""
        if device_type == "cpu":
            return kind in ("torch", "ort")
        return self.cuda_devices > 0 and {"trt": self.tensorrt, "torch": True, "ort": self.ort_cuda}[kind]


def _tensorrt_imports() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return True


def parse_device(device: str | None, cuda_devices: int) -> str:
    """``cpu`` or ``cuda:N`` for a ``--device`` value: ``cpu``, ``cuda`` (= ``cuda:0``), ``cuda:N``, or a bare index
    ``N`` (Ultralytics' convention); None means the first CUDA GPU if there is one, else the CPU.

    Raises:
        PosetrackError: any other value, or a CUDA device this machine does not have.
    """
    if device is None:
        return "cuda:0" if cuda_devices else "cpu"
    if device == "cpu":
        return device
    kind, _, index = ("cuda", ":", device) if device.isdigit() else device.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise PosetrackError(f"--device {device}: use cpu, cuda, cuda:N or N")
    if int(index or 0) >= cuda_devices:
        raise PosetrackError(f"--device {device}: no such CUDA device here ({cuda_devices} visible)")
    return f"cuda:{int(index or 0)}"


@dataclass(frozen=True)
class BackendChoice:
    """What runs a network: ``kind`` (torch, ort, trt), on ``device`` (``cpu`` or ``cuda:N``), and why."""

    kind: str
    device: str
    reason: str

    @property
    def capability(self) -> Capability:
        return CAPABILITIES[self.kind]

    def label(self, precision: str) -> str:
        return f"{self.kind}:{self.device} {precision} ({self.reason})"


def resolve_backend(requested: str, precision: str = "fp32", device: str | None = None,
                    machine: Machine | None = None, allowed: tuple[str, ...] = tuple(CAPABILITIES)) -> BackendChoice:
    """The backend and device for ``--backend``, ``--precision`` and ``--device`` on ``machine`` (default: this
    one), among the ``allowed`` backends (an ONNX export without a PyTorch network: not torch). ``auto`` follows
    ``AUTO_ORDER``; where nothing allowed runs on the GPU, a network that PyTorch cannot run falls back to ONNX
    Runtime on the CPU, saying so. An explicit backend is checked against the table.

    Raises:
        PosetrackError: an unknown name, a device not there, or no usable backend for the precision there.
    """
    machine = machine or Machine.here()
    if requested not in BACKENDS:
        raise PosetrackError(f"unknown backend {requested!r}; use {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise PosetrackError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    where = parse_device(device, machine.cuda_devices)
    kind_of_device = where.partition(":")[0]
    if requested != "auto" and requested not in allowed:  # an ONNX network with --backend torch: the others take it
        choice = resolve_backend("auto", precision, device, machine, allowed)
        return BackendChoice(choice.kind, choice.device, f"an ONNX network, which {_name(requested, kind_of_device)} "
                                                         "cannot run")
    if requested != "auto":
        return _explicit(requested, precision, where, device is None, machine)
    skipped = []
    for kind in AUTO_ORDER[kind_of_device]:
        capability = CAPABILITIES[kind]
        if kind not in allowed:
            continue
        if not machine.has(kind, kind_of_device):
            skipped.append(f"{_name(kind, kind_of_device)} not installed" if kind != "torch" else "")
            continue
        if not capability.runs(precision, kind_of_device):
            skipped.append(f"{_name(kind, kind_of_device)} runs no {precision} on {kind_of_device}")
            continue
        first = {"trt": "TensorRT installed", "ort": "--device cpu" if device == "cpu" else "no CUDA GPU"}
        return BackendChoice(kind, where, "; ".join(s for s in skipped if s) or first.get(kind, kind))
    if kind_of_device == "cuda" and "torch" not in allowed and CAPABILITIES["ort"].runs(precision, "cpu"):
        return BackendChoice("ort", "cpu", "an ONNX network, and no GPU runtime for it here")
    able = [k for k, c in CAPABILITIES.items() if c.runs(precision, kind_of_device) and k in allowed]
    raise PosetrackError(f"--precision {precision} on {where}: needs "
                         f"{' or '.join(_name(k, kind_of_device) for k in able) or 'nothing'}"
                         f" ({'; '.join(s for s in skipped if s)})")


def _name(kind: str, device_type: str) -> str:
    """A backend as the messages name it (ONNX Runtime on a GPU: its CUDA provider, a separate package)."""
    if kind == "ort":
        return "ONNX Runtime's CUDA provider" if device_type == "cuda" else "ONNX Runtime"
    return {"trt": "TensorRT", "torch": "PyTorch"}[kind]


def _explicit(kind: str, precision: str, where: str, defaulted: bool, machine: Machine) -> BackendChoice:
    capability = CAPABILITIES[kind]
    device_type = where.partition(":")[0]
    if kind == "ort" and device_type == "cuda" and not machine.ort_cuda and defaulted:
        where, device_type = "cpu", "cpu"  # ONNX Runtime without a CUDA provider on a GPU machine: its CPU
    if not machine.has(kind, device_type):
        raise PosetrackError(f"--backend {kind}: cannot run on {where} here (needs {capability.needs}); use "
                             f"--backend auto")
    if not capability.runs(precision, device_type):
        others = [k for k, c in CAPABILITIES.items() if c.runs(precision, device_type) and machine.has(k, device_type)]
        hint = f"; --backend {' or '.join(others)} runs it here" if others else ""
        raise PosetrackError(f"--precision {precision}: --backend {kind} runs "
                             f"{', '.join(capability.precisions.get(device_type, ())) or 'nothing'} on {device_type}"
                             f"{hint}")
    return BackendChoice(kind, where, "as asked")
