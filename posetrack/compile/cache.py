"""The low-level cache every compile step writes through: where files go, what they are keyed by, and how a file
appears under its final name only once it has been checked.

- ``engine_dir()``: exported ONNX files, their FP16 / INT8 versions and TensorRT plans.
- ``calib_dir()``: INT8 calibration sets (manifest + activation ranges), one folder per model.
- ``digest`` / ``file_digest`` / ``model_key``: short SHA-256 keys of JSON-able descriptions, of files' bytes,
  and of a model record.
- ``save_verified``: write a draft beside the target, verify it, then move it into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import onnx

from posetrack.io.files import atomic_path
from posetrack.models.records import ModelRecord

T = TypeVar("T")

_REPO = Path(__file__).resolve().parents[2]


def _cache_folder(env: str, repo_folder: str) -> Path:
    """``$env`` if set, else the repository's folder when it exists and is writable, else the user cache."""
    if os.environ.get(env):
        return Path(os.environ[env])
    repo = _REPO / repo_folder
    return repo if repo.is_dir() and os.access(repo, os.W_OK) else Path.home() / ".cache" / "posetrack" / repo_folder


def engine_dir() -> Path:
    """Where exported / built engines are cached: $POSETRACK_ENGINES, else the repository's ``engines/``, else
    ``~/.cache/posetrack/engines``."""
    return _cache_folder("POSETRACK_ENGINES", "engines")


def calib_dir() -> Path:
    """$POSETRACK_CALIB, else the repository's ``calib/``, else ``~/.cache/posetrack/calib``."""
    return _cache_folder("POSETRACK_CALIB", "calib")


def digest(obj: object, length: int = 12) -> str:
    """Short SHA-256 of a JSON-able description (preprocessing settings, ranges, engine specs)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


def file_digest(*parts: Path | str, length: int = 12) -> str:
    """Short SHA-256 over files' bytes and strings (cache keys)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(Path(part).read_bytes() if isinstance(part, Path) else part.encode())
    return h.hexdigest()[:length]


def model_key(record: ModelRecord) -> str:
    """A model's cache key: digest of its weights (``record.key_source``) and its ``description``."""
    return file_digest(record.key_source, record.description)


def slug(text: str) -> str:
    """Lower-case letters and digits joined by ``-``: a device or host name made fit for a file name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def save_verified(proto: onnx.ModelProto, path: Path, verify: Callable[[Path], T]) -> T:
    """Save ``proto`` beside ``path``, run ``verify`` on that draft and only then move it to ``path``, so that a
    refused or interrupted save never leaves a file that a cache would take for a good one. Returns what
    ``verify`` returns; the draft is removed when it raises. The draft's name carries the process id: processes
    exporting the same model at once (batch workers starting together) each verify their own and the last
    rename wins (they are the same model)."""
    with atomic_path(path) as draft:
        onnx.save(proto, draft)
        return verify(draft)
