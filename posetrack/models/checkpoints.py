"""Load HRNet weights from the official and MMPose checkpoint formats.

Accepted files (all read with ``torch.load(weights_only=True)``):

* official plain state_dict (``final_state.pth``, ``model_best.pth``, released ``pose_hrnet_*.pth``),
  with or without ``num_batches_tracked``, with or without a DataParallel ``module.`` prefix;
* the official resume dict (``checkpoint.pth``: ``epoch``, ``state_dict`` with ``module.``,
  ``best_state_dict``, ...) — its ``state_dict`` (the latest weights) is taken;
* MMPose 0.x (``{'meta', 'state_dict'}``, keys ``backbone.*`` + ``keypoint_head.final_layer.*``);
* MMPose 1.x (keys ``backbone.*`` + ``head.final_layer.*``, ``data_preprocessor.mean/std`` ignored).

A file that does not fit the model raises ``CheckpointError`` naming the first missing and unexpected
keys and shape mismatches; nothing is loaded partially.
"""

from __future__ import annotations

import importlib
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from posetrack.errors import CheckpointError

_PREFIX_MAP = (
    ("module.", ""),
    ("backbone.", ""),
    ("keypoint_head.final_layer.", "final_layer."),
    ("head.final_layer.", "final_layer."),
)
_IGNORED = {"data_preprocessor.mean", "data_preprocessor.std"}
_SHOW = 5  # keys named per category in an error


def _multiarray() -> Any:
    """numpy's multiarray module: ``numpy._core.multiarray`` (numpy >= 1.26.1, its name since numpy 2), else
    ``numpy.core.multiarray`` (numpy 1.24 and 1.25, which pyproject admits)."""
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:
        return importlib.import_module("numpy.core.multiarray")


# MMPose 1.x keeps dataset metadata (numpy arrays such as the OKS sigmas) in ``meta``. These globals
# rebuild plain numpy arrays and scalars and nothing else, so they are safe to allow; each is listed
# under its numpy 2 and numpy 1 module path, since the path stored depends on the numpy that saved it.
_MULTIARRAY = _multiarray()
_NUMPY_GLOBALS: list[Any] = [np.ndarray, np.dtype] + [
    (getattr(_MULTIARRAY, name), f"{module}.multiarray.{name}")
    for name in ("_reconstruct", "scalar") for module in ("numpy._core", "numpy.core")
] + [type(np.dtype(code)) for code in "?bhilqBHILQefdFDSU"]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint file and return its weights under official HRNet key names."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load's errors on damaged input are not a documented set
        raise CheckpointError(f"{path}: {_unreadable_reason(path, exc)}") from None
    return official_keys(_find_weights(obj, path))


def _unreadable_reason(path: Path, exc: Exception) -> str:
    with path.open("rb") as f:
        head = f.read(2)
    if head != b"PK" and head[:1] != b"\x80":  # neither torch's zip nor a legacy pickle
        return "not a PyTorch checkpoint"
    if head == b"PK" and not zipfile.is_zipfile(path):
        return "damaged or truncated checkpoint (the zip archive is incomplete)"
    refused = re.search(r"Unsupported global: GLOBAL (\S+)|got <class '([^']+)'>", str(exc))
    if refused:
        return (f"holds a Python object that a weights-only load refuses ({refused.group(1) or refused.group(2)}); "
                "save the model's state_dict instead")
    return f"damaged or truncated checkpoint ({type(exc).__name__})"


def _find_weights(obj: object, path: Path) -> Mapping[str, torch.Tensor]:
    for key in ("state_dict", "model"):  # official / MMPose resume files; ``posetrack train``'s last.pth
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path}: no state_dict found (expected a dict of tensors or {{'state_dict': ...}})")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: the checkpoint holds no tensors")
    return tensors


def official_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename DataParallel / MMPose 0.x / MMPose 1.x keys to the official ones."""
    out = {}
    for key, value in state.items():
        if key in _IGNORED:
            continue
        for old, new in _PREFIX_MAP:
            if key.startswith(old):
                key = new + key[len(old):]
        out[key] = value
    return out


M = TypeVar("M", bound=nn.Module)


def load_checkpoint(model: M, path: str | Path) -> M:
    """Load ``path`` into ``model`` strictly (all keys, all shapes) and return the model."""
    state = read_state_dict(path)
    expected = model.state_dict()
    # num_batches_tracked only counts training steps; files may lack it.
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items() if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or mismatched:
        raise CheckpointError(f"{path}: does not fit the model: " + "; ".join(
            f"{what} ({len(items)}): {', '.join(items[:_SHOW])}{', ...' if len(items) > _SHOW else ''}"
            for what, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
            if items
        ))
    model.load_state_dict(state, strict=True)
    return model


def save_half(source: str | Path, dest: str | Path) -> Path:
    """Store a plain state_dict with float16 floating-point tensors (half the size; loads back as float32 — for
    shipping small models). Integer buffers (``num_batches_tracked``) are kept as they are."""
    state = torch.load(source, map_location="cpu", weights_only=True)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(half, dest)
    return dest
