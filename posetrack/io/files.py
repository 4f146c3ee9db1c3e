"""Reading the files users hand over (JSON documents, images), each failure one ``PosetrackError`` naming the file."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posetrack.errors import PosetrackError


def read_json(path: str | Path) -> Any:
    """The parsed JSON document at ``path``.

    Raises:
        PosetrackError: the file is missing, unreadable, not UTF-8 or not JSON.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PosetrackError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PosetrackError(f"{path}: not a readable JSON file ({exc})") from None


def read_image(path: str | Path) -> np.ndarray:
    """The image at ``path`` as (H, W, 3) uint8 BGR.

    Raises:
        PosetrackError: missing, or not an image OpenCV decodes.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PosetrackError(f"{path}: missing or unreadable image")
    return image


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A draft to write ``path`` through: ``<path>.<pid>.part``, renamed to ``path`` when the block ends normally and
    removed when it raises, so a file under ``path`` is always complete (the process id keeps processes writing the
    same file at once off each other's drafts; the last rename wins)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        yield draft
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    draft.replace(path)
