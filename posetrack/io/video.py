"""Reading frames (video file, image folder, camera) and writing MP4 video, with OpenCV."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from posetrack.errors import PosetrackError
from posetrack.types import Frame

log = logging.getLogger("posetrack")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
MIN_SIDE, MAX_SIDE = 32, 8192


class VideoReader:
    """Frames of a video file, an image folder (sorted by name) or a camera index, as BGR ``Frame``s.

    Grayscale and 4-channel sources are converted to BGR. A source that cannot be opened, has no frame, or has
    frames smaller than 32 or larger than 8192 pixels raises ``PosetrackError`` naming it. A video that breaks
    off (truncated or corrupt) ends early: ``broken_at`` then holds the index of the first unreadable frame. In an
    image folder, an image that cannot be decoded (or is outside the size range) is skipped with a warning naming
    it and listed in ``skipped``; the frames keep their place in the folder as their index. Images of a folder may
    differ in size: each frame has its own.

    Attributes:
        fps: frame rate (25 for image folders and when the container does not say).
        size: (width, height) of the first frame.
        frame_count: frames announced by the container (images in a folder), or None (camera, unknown).
        skipped: image files skipped so far.
    """

    def __init__(self, source: str | Path | int):
        self.source = source
        self.broken_at: int | None = None
        self.frame_count: int | None = None
        self.skipped: list[Path] = []
        self._why_skipped = ""
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
        self._first = self._peek()
        self.size = (self._first.image.shape[1], self._first.image.shape[0])

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

    def _peek(self) -> Frame:
        """Read the first frame (kept for iteration) to learn the size; no frame → error."""
        if self._files is not None:
            first = next(self._images(0), None)
            if first is None:
                raise PosetrackError(f"{self._name()}: no usable image (e.g. {self._why_skipped})")
            return first
        assert self._capture is not None  # opened in __init__ when there are no files
        ok, image = self._capture.read()
        if not ok or image is None:
            raise PosetrackError(f"{self._name()}: no decodable frame (empty, not a video, or corrupt)")
        reason = _size_problem(image)
        if reason:
            raise PosetrackError(f"{self._name()}: {reason}")
        return Frame(0, 0.0, _to_bgr(image))

    def _images(self, start: int) -> Iterator[Frame]:
        """The folder's readable images from index ``start``; the others are skipped with a warning."""
        assert self._files is not None
        for i in range(start, len(self._files)):
            path = self._files[i]
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            reason = "unreadable image" if image is None else _size_problem(image)
            if image is None or reason:
                self.skipped.append(path)
                self._why_skipped = f"{path.name}: {reason}"
                log.warning("skipped %s: %s", path, reason)
                continue
            yield Frame(i, i / self.fps, image)

    def __iter__(self) -> Iterator[Frame]:
        yield self._first
        if self._files is not None:
            yield from self._images(self._first.index + 1)
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


def _size_problem(image: np.ndarray) -> str:
    """Why frames of this size are refused ("" if they are not)."""
    h, w = image.shape[:2]
    if min(w, h) < MIN_SIDE or max(w, h) > MAX_SIDE:
        return f"frame size {w}x{h} outside {MIN_SIDE}..{MAX_SIDE} pixels"
    return ""


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
