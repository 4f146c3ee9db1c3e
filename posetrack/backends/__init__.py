"""Inference backends behind one protocol (``Backend.run``: named arrays in, named arrays out)."""

from posetrack.backends.base import Backend
from posetrack.backends.ort_backend import OrtBackend, default_providers, device_providers
from posetrack.backends.torch_backend import TorchBackend

__all__ = ["Backend", "OrtBackend", "TorchBackend", "default_providers", "device_providers"]
