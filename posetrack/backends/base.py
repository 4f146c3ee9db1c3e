"""The one protocol every inference backend implements.

A backend runs one network: a batch of named float32 arrays in, named arrays out. Everything model
specific (crops, normalisation, decoding) lives outside, so PyTorch, ONNX Runtime and TensorRT are
interchangeable behind ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Backend(Protocol):
    """An executor of one network.

    Attributes:
        name: short description, e.g. ``"ort:CPUExecutionProvider"``.
        input_names / output_names: tensor names, in the network's order.
    """

    name: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch. ``inputs`` maps every input name to an array (batch first)."""
        ...


def check_inputs(backend: Backend, inputs: Mapping[str, np.ndarray]) -> None:
    """Raise ``KeyError`` naming the inputs a call forgot or invented."""
    missing = set(backend.input_names) - set(inputs)
    extra = set(inputs) - set(backend.input_names)
    if missing or extra:
        raise KeyError(f"{backend.name}: inputs {sorted(inputs)} do not match {list(backend.input_names)}")
