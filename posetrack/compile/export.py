"""ONNX export with a dynamic batch dimension, checked by ``onnx.checker`` and against PyTorch itself.

PyTorch is the source of truth: every export runs the ONNX file in ONNX Runtime (CPU) on random inputs
of several batch sizes and refuses the file if any output differs by more than ``atol``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from posetrack.backends import OrtBackend, TorchBackend
from posetrack.compile.cache import save_verified
from posetrack.errors import PosetrackError

DEFAULT_OPSET = 18


class ExportError(PosetrackError):
    """The exported graph is invalid or does not reproduce the PyTorch model."""


@dataclass(frozen=True)
class ExportResult:
    """An exported, verified ONNX file.

    Attributes:
        path: the ``.onnx`` file.
        opset: ONNX opset of the default domain.
        max_abs_diff: largest |ONNX Runtime − PyTorch| over all parity batches and outputs.
        batches: batch sizes the parity check ran.
        device: where PyTorch computed the parity reference.
    """

    path: Path
    opset: int
    max_abs_diff: float
    batches: tuple[int, ...]
    device: str = "cpu"


def export_onnx(model: nn.Module, path: str | Path, input_size: tuple[int, int], *,
                input_name: str = "input", output_name: str = "heatmaps", opset: int = DEFAULT_OPSET,
                parity_batches: tuple[int, ...] = (1, 3), atol: float = 1e-4, seed: int = 0,
                device: str = "cpu") -> ExportResult:
    """Export ``model`` (input (N, 3, H, W)) to ``path`` with a dynamic batch, then verify it.

    Args:
        model: the network; exported in eval mode.
        path: output ``.onnx`` file (parent folders are created).
        input_size: (width, height) of the model input.
        opset: ONNX opset (≥ 17).
        parity_batches: batch sizes run through both PyTorch and ONNX Runtime.
        atol: largest accepted absolute output difference.
        device: where PyTorch computes the parity reference (``cuda:N``: the GPU's kernels, TF32 off, against
            ONNX Runtime on the CPU).
    Raises:
        ExportError: the checker rejects the graph or parity fails.
    """
    if opset < 17:
        raise ExportError(f"opset {opset} is not supported; use 17 or newer")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    width, height = input_size
    example = torch.randn(2, 3, height, width)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with _quiet_exporter():
        program = torch.onnx.export(
            model, (example,), None, input_names=[input_name], output_names=[output_name],
            opset_version=opset, dynamic_shapes=({0: batch},), dynamo=True, verbose=False,
        )
    if program is None:  # only an export to a file returns nothing
        raise ExportError(f"{path}: the exporter returned no program")
    proto = program.model_proto
    diff = save_verified(proto, path, lambda draft: _verify(model, draft, path, input_name, output_name,
                                                            (3, height, width), parity_batches, seed, atol, device))
    opset_used = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return ExportResult(path, opset_used, diff, tuple(parity_batches), device)


def _verify(model: nn.Module, draft: Path, path: Path, input_name: str, output_name: str,
            input_shape: tuple[int, ...], batches: tuple[int, ...], seed: int, atol: float, device: str) -> float:
    """``onnx.checker`` and PyTorch parity of the ``draft`` file; errors name ``path``, the file the user asked for."""
    try:
        onnx.checker.check_model(str(draft), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path}: onnx.checker rejects the export: {str(exc).splitlines()[0]}") from None
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):  # float32 means float32 on the GPU too
        diff = parity(TorchBackend(model, [input_name], [output_name], device=device),
                      OrtBackend(draft, ["CPUExecutionProvider"]), input_shape, batches, seed)
    if not diff <= atol:
        raise ExportError(f"{path}: ONNX Runtime differs from PyTorch by {diff:.3g} > {atol:g}")
    return diff


def parity(reference, candidate, input_shape: tuple[int, ...], batches: tuple[int, ...] = (1, 3), seed: int = 0) -> float:
    """Largest absolute output difference between two backends on random N(0, 1) inputs.

    Both backends must have one input; ``input_shape`` excludes the batch dimension.
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    for n in batches:
        x = {candidate.input_names[0]: rng.standard_normal((n, *input_shape), dtype=np.float32)}
        ref = reference.run({reference.input_names[0]: x[candidate.input_names[0]]})
        out = candidate.run(x)
        for a, b in zip(ref.values(), out.values()):
            worst = max(worst, float(np.abs(a - b).max()))
    return worst


@contextlib.contextmanager
def _quiet_exporter():
    """The dynamo exporter narrates its passes on stdout and logs missing torchvision ops; keep that out
    of the user's terminal unless it fails."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    buffer = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buffer):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
