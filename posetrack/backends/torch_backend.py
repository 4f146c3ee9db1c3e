"""PyTorch eager execution of an ``nn.Module``: the source of truth the compiled backends are checked against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from posetrack.backends.base import check_inputs


class TorchBackend:
    """Run ``module`` in eval mode under ``torch.inference_mode``.

    Args:
        module: the network; called with the inputs positionally, in ``input_names`` order.
        input_names / output_names: names for the module's positional inputs and its output(s).
        device: torch device for the module and the batch.
    """

    def __init__(self, module: nn.Module, input_names: Sequence[str] = ("input",),
                 output_names: Sequence[str] = ("heatmaps",), device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()
        self.input_names = tuple(input_names)
        self.output_names = tuple(output_names)
        self.name = f"torch:{self.device}"

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        check_inputs(self, inputs)
        args = [torch.from_numpy(np.ascontiguousarray(inputs[n])).to(self.device) for n in self.input_names]
        with torch.inference_mode():
            out = self.module(*args)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return {n: o.cpu().numpy() for n, o in zip(self.output_names, outs)}
