"""Reading frames (video file, image folder, camera) and writing MP4 video, with OpenCV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from posetrack.errors import PosetrackError
from posetrack.io.files import read_image
from posetrack.types import Frame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
MIN_SIDE, MAX_SIDE = 32, 8192


class VideoReader:
    """Frames of a video file, an image folder (sorted by name) or a camera index, as BGR ``Frame``s.

    Grayscale and 4-channel sources are converted to BGR. A source that cannot be opened, has no frame, or has
    frames smaller than 32 or larger than 8192 pixels raises ``PosetrackError`` naming it. A video that breaks
    off (truncated or corrupt) ends early: ``broken_at`` then holds the index of the first unreadable frame.

    Attributes:
        fps: frame rate (25 for image folders and when the container does not say).
        size: (width, height) of the first frame.
        frame_count: frames announced by the container, or None (camera, unknown).
    """

    def __init__(self, source: str | Path | int):
        self.source = source
        self.broken_at: int | None = None
        self.frame_count: int | None = None
        self._files: list[Path] | None = None
        self._capture: cv2.VideoCapture | None = None
        if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
            self._open_capture(int(source), f"camera {source}")
        else:
            path = Path(source)
            if not path.exists():
                raise PosetrackError(f"{path}: no such file or folder")
            if path.is_dir():
                self._files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
                if not self._files:
                    raise PosetrackError(f"{path}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
                self.fps, self.frame_count = 25.0, len(self._files)
            else:
                self._open_capture(str(path), str(path))
        first = self._peek()
        self.size = (first.shape[1], first.shape[0])
        w, h = self.size
        if min(w, h) < MIN_SIDE or max(w, h) > MAX_SIDE:
            raise PosetrackError(f"{self._name()}: frame size {w}x{h} outside {MIN_SIDE}..{MAX_SIDE} pixels")

    def _name(self) -> str:
        return str(self.source)

    def _open_capture(self, target: str | int, name: str) -> None:
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            raise PosetrackError(f"{name}: cannot be opened as a video")
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else 25.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None

    def _peek(self) -> np.ndarray:
        """Read the first frame (kept for iteration) to learn the size; no frame → error."""
        if self._files is not None:
            image = read_image(self._files[0])
        else:
            assert self._capture is not None  # opened in __init__ when there are no files
            ok, image = self._capture.read()
            if not ok or image is None:
                raise PosetrackError(f"{self._name()}: no decodable frame (empty, not a video, or corrupt)")
            image = _to_bgr(image)
        self._first = image
        return image

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(0, 0.0, self._first)
        if self._files is not None:
            for i, path in enumerate(self._files[1:], start=1):
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    self.broken_at = i
                    return
                yield Frame(i, i / self.fps, image)
            return
        index = 1
        capture = self._capture
        assert capture is not None
        while True:
            ok, image = capture.read()
            if not ok or image is None:
                if self.frame_count is not None and index < self.frame_count:
                    self.broken_at = index  # the container announced more frames than could be decoded
                return
            yield Frame(index, index / self.fps, _to_bgr(image))
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()


def _to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


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
        self.size = (int(size[0]), int(size[1]))
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), float(fps), self.size)
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
