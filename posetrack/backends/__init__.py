"""Inference backends behind one protocol (``Backend.run``: named arrays in, named arrays out; a ``DeviceBackend``
also runs device tensors), and the table that decides which one runs where (``select``).

The implementations load on first use (``from posetrack.backends import TorchBackend``), so reading the table
(the command line's choices) imports neither torch nor ONNX Runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from posetrack.backends.base import Backend, DeviceBackend, on_gpu
    from posetrack.backends.ort_backend import OrtBackend, default_providers, device_providers
    from posetrack.backends.torch_backend import TorchBackend

_WHERE = {"Backend": "base", "DeviceBackend": "base", "on_gpu": "base", "OrtBackend": "ort_backend",
          "default_providers": "ort_backend", "device_providers": "ort_backend", "TorchBackend": "torch_backend"}

__all__ = ["Backend", "DeviceBackend", "OrtBackend", "TorchBackend", "default_providers", "device_providers", "on_gpu"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'posetrack.backends' has no attribute {name!r}")
    return getattr(importlib.import_module(f"posetrack.backends.{_WHERE[name]}"), name)
