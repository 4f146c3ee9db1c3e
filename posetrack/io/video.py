"""Writing MP4 video with OpenCV."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from posetrack.errors import PosetrackError


class VideoWriter:
    """Append BGR frames to an ``.mp4`` (MPEG-4 Part 2, ``mp4v``: the codec every OpenCV wheel can encode
    and common players play).

    Use as a context manager; the file is finalised on exit, also after an error or Ctrl-C.

    Args:
        path: output file (parent folders are created).
        size: (width, height) of every frame.
        fps: frame rate.
    """

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = tuple(int(v) for v in size)
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), self.size)
        if not self._writer.isOpened():
            raise PosetrackError(f"{self.path}: cannot open for writing as MP4")
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame of the writer's size."""
        if image.shape[1::-1] != self.size:
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, video is {self.size[0]}x{self.size[1]}")
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
