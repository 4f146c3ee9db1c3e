"""The backend factory: which backend runs a network (``backends.select``'s choice, made once per network) and
how (CPU threads, CUDA graphs, ``torch.compile``), and the backend itself over the network's precision file."""

from __future__ import annotations

from dataclasses import dataclass

from posetrack.backends import Backend, OrtBackend, TorchBackend, device_providers
from posetrack.backends.select import CAPABILITIES, BackendChoice, Machine, parse_device, resolve_backend
from posetrack.compile.precision import ExportedModel, precision_onnx
from posetrack.compile.quantize import ORT_CPU, TENSORRT
from posetrack.device import is_cuda
from posetrack.errors import PosetrackError


@dataclass(frozen=True)
class CpuThreads:
    """How an ONNX Runtime session uses the CPU: ``count`` intra-op threads (None: one per core); ``spin``: idle
    threads busy-wait for work (see ``OrtBackend``)."""

    count: int | None = None
    spin: bool = True


ALL_CORES = CpuThreads()


def stage_threads(sequential: bool, cores: int | None = None) -> tuple[CpuThreads, CpuThreads]:
    """(detector, pose) threading of a pipeline on ``cores`` cores (None: all of them). One after another, each
    stage has every core. Overlapped, the detector takes one thread and the pose network, the slowest stage, all
    cores, and idle threads sleep rather than spin, since they share the cores with the other stages (a spinning
    pair of pose threads starves the detector and the tracker on a 2-core machine)."""
    if sequential:
        return CpuThreads(cores), CpuThreads(cores)
    return CpuThreads(1, spin=False), CpuThreads(cores, spin=False)


def device_for(device: str | None) -> str:
    """``cpu`` or ``cuda:N`` on this machine for a ``--device`` value (None: a CUDA GPU if there is one)."""
    return parse_device(device, Machine.here().cuda_devices)


@dataclass(frozen=True)
class NetworkRun:
    """How one network runs.

    Attributes:
        choice: the backend and device (``choose``). precision: ``fp32``, ``fp16``, ``bf16`` or ``int8``.
        threads: ONNX Runtime's CPU threading. cuda_graphs: PyTorch's CUDA graphs (None: on a GPU).
        torch_compile: ``torch.compile`` the PyTorch network.
    """

    choice: BackendChoice
    precision: str = "fp32"
    threads: CpuThreads = ALL_CORES
    cuda_graphs: bool | None = None
    torch_compile: bool = False


def choose(kind: str, precision: str, device: str | None, torch_ok: bool = True) -> BackendChoice:
    """``resolve_backend`` for this machine; a model without a PyTorch network (an ONNX export) is given to the
    others only."""
    allowed = tuple(CAPABILITIES) if torch_ok else tuple(k for k in CAPABILITIES if k != "torch")
    return resolve_backend(kind, precision, device, Machine.here(), allowed)


def make_backend(model: ExportedModel, run: NetworkRun) -> Backend:
    """A backend running ``model`` (its PyTorch network ``model.module``, or its ONNX files) as ``run`` says."""
    choice, gpu = run.choice, is_cuda(run.choice.device)
    if choice.kind == "torch":
        if model.module is None:
            raise PosetrackError(f"{model.name} is an ONNX network: PyTorch cannot run it (--backend ort or trt)")
        return TorchBackend(model.module, output_names=(model.output_name,), device=choice.device,
                            precision=run.precision, channels_last=gpu, cuda_graphs=gpu and run.cuda_graphs is not False,
                            compile=run.torch_compile)
    if run.torch_compile:
        raise PosetrackError(f"--torch-compile compiles the PyTorch backend; {choice.kind} was chosen "
                             f"({choice.reason}): add --backend torch")
    if choice.kind == "trt":
        from posetrack.compile.tensorrt import tensorrt_backend, tensorrt_onnx

        return tensorrt_backend(tensorrt_onnx(model, run.precision), model.name, run.precision, device=choice.device,
                                input_size=model.record.input_size)
    return OrtBackend(precision_onnx(model, run.precision, TENSORRT if gpu else ORT_CPU),
                      device_providers(choice.device), run.threads.count, run.threads.spin)


def backend_for(model: ExportedModel, kind: str = "auto", precision: str = "fp32", device: str | None = None,
                **how: object) -> Backend:
    """``make_backend`` with the choice made here: ``kind`` (``auto``, ``torch``, ``ort``, ``trt``) for
    ``precision`` on ``device``; ``how``: ``NetworkRun``'s other fields."""
    choice = choose(kind, precision, device, torch_ok=model.module is not None)
    return make_backend(model, NetworkRun(choice, precision, **how))  # type: ignore[arg-type]
