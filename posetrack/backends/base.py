"""The protocols every inference backend implements.

A backend runs one network: a batch of named float32 arrays in, named arrays out (``Backend.run``). Everything
model specific (crops, normalisation, decoding) lives outside, so PyTorch, ONNX Runtime and TensorRT are
interchangeable behind ``run``. A backend that also takes tensors already on its device (PyTorch, TensorRT) is a
``DeviceBackend``: the device-resident data path (``posetrack.device``) hands it a batch cropped on the GPU and
reads back only keypoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from posetrack.device import is_cuda

if TYPE_CHECKING:
    import torch


@runtime_checkable
class Backend(Protocol):
    """An executor of one network.

    Attributes:
        name: short description, e.g. ``"ort:CPUExecutionProvider"``.
        input_names / output_names: tensor names, in the network's order.
        device: where it computes: ``"cpu"``, ``"cuda:N"`` (text), or the ``torch.device``.

    A backend that knows the shape of its first input from its file may say so as ``input_shape`` (a tuple,
    symbolic dimensions as strings); the estimator then refuses a crop size the network does not take.
    """

    name: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    @property
    def device(self) -> str | torch.device: ...

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch. ``inputs`` maps every input name to an array (batch first)."""
        ...


@runtime_checkable
class DeviceBackend(Backend, Protocol):
    """A backend that also runs device tensors in place.

    Attributes:
        device: the torch device it computes on.
    """

    device: torch.device

    def run_torch(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Tensors on ``device`` in, float32 tensors on ``device`` out; no host copy."""
        ...


def on_gpu(backend: Backend) -> DeviceBackend | None:
    """``backend`` when it takes device tensors on a CUDA device (where keeping data on the device pays), else
    None."""
    if isinstance(backend, DeviceBackend) and is_cuda(backend.device):
        return backend
    return None


def device_path(backend: Backend, wanted: bool | None) -> DeviceBackend | None:
    """The backend a stage's device-resident path runs on: ``backend`` as a ``DeviceBackend`` when ``wanted`` (and
    it is one), never when ``wanted`` is False, and where it pays (a CUDA device, ``on_gpu``) when None."""
    if wanted is False:
        return None
    if wanted and isinstance(backend, DeviceBackend):
        return backend
    return on_gpu(backend)


def check_inputs(backend: Backend, inputs: Mapping[str, np.ndarray]) -> None:
    """Raise ``KeyError`` naming the inputs a call forgot or invented."""
    missing = set(backend.input_names) - set(inputs)
    extra = set(inputs) - set(backend.input_names)
    if missing or extra:
        raise KeyError(f"{backend.name}: inputs {sorted(inputs)} do not match {list(backend.input_names)}")
