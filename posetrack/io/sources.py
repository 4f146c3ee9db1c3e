"""Where frames come from: one class per kind of source, behind one ``open_source``, which every caller (the command
line, batch workers, the demo, ``Pipeline.track``, calibration) uses, so a source is opened, buffered and
reconnected the same way everywhere.

- ``FileSource``: a video file. A damaged frame (one that cannot be decoded while later ones can) is skipped with a
  warning and listed in ``damaged``; the frames after it keep their place in the video, from the container's time
  stamp of the next frame decoded, so results match the video frame for frame. A video that stops decoding before
  the end its container announces sets ``broken_at``.
- ``FolderSource``: an image folder, sorted by name; an unreadable image (a truncated JPEG, or one outside the size
  range) is skipped with a warning and listed in ``skipped``, the others keep their place in the folder as their
  index and their file name (``Frame.file``, which every output that has a place for it names). Images may differ
  in size: each frame has its own.
- ``LiveSource``: a camera index, or a URL OpenCV's FFmpeg backend opens (``rtsp://``, ``rtmp://``, ``http(s)://``
  MJPEG included, ``tcp://``, ``udp://``, ``srt://``; used exactly as given). Frames keep the source's numbering
  (a frame's ``index`` counts every frame decoded, dropped ones included). A live source that breaks off is reopened
  up to ``reconnect`` times, waiting 0.5, 1, 2, 4, then 8 s between tries.

Buffering (``RuntimeOptions.buffer``): ``latest`` (the default for live sources) reads by a thread of its own that
keeps only the newest frame, so a pipeline slower than the source works on fresh frames, its latency stays bounded,
and the frames it drops are counted; ``all`` (the default for files and folders) drops nothing. The queue between
two pipeline stages follows the buffering (``options.queue_size``): 1 for ``latest``, whose latency stays bounded
only if few frames wait, else 4.

Frames are BGR (grayscale and 4-channel sources are converted); a source that cannot be opened, has no frame, or
has frames smaller than 32 or larger than 8192 pixels raises ``PosetrackError`` naming it. Opening reads the first
frame (the sinks need the size before the first result); nothing happens when this module is imported.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from posetrack.errors import PosetrackError
from posetrack.options import RuntimeOptions, queue_size
from posetrack.types import Frame, Size, Span

log = logging.getLogger("posetrack")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
MIN_SIDE, MAX_SIDE = 32, 8192
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "tcp", "udp", "srt")
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
DAMAGED_RUN = 8  # this many undecodable frames of a file in a row are its end, not damage
DEFAULT_FPS = 25.0  # image folders, and containers that do not say


def is_stream(source: object) -> bool:
    """Whether ``source`` is a network stream URL (``rtsp://...``; see ``STREAM_SCHEMES``)."""
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", source) if isinstance(source, str) else None
    return match is not None and match.group(1).lower() in STREAM_SCHEMES


def camera_index(source: object) -> int | None:
    """The camera a source names (``0``, ``"1"``), else None."""
    if isinstance(source, int):
        return source
    return int(source) if isinstance(source, str) and source.isdigit() else None


def is_camera(source: object) -> bool:
    return camera_index(source) is not None


class Source:
    """Frames of one source, as BGR ``Frame``s in order (iterate), opened by ``open_source``; a context manager.

    Attributes:
        name: the source as the user gave it. live: a camera or stream. buffer: ``latest`` or ``all``.
        queue_size: frames in flight between two pipeline stages for this source.
        fps: frame rate (25 where the source does not say). size: (width, height) of the first frame.
        frame_count: frames announced (images in a folder), or None (camera, stream, unknown).
        skipped: image files skipped so far. damaged: indices of a video's frames skipped as undecodable.
        dropped: live frames replaced by a newer one before the pipeline took them. reconnects: reopenings.
        broken_at: the frame where a video broke off before its announced end, or None.
        files: an image folder's file names, by frame index (empty for other sources).
        span: the frames taken (``--start``/``--end``/``--stride``); the others are read past (a folder's are not
            even read), and ``frame_count`` counts the span's.
    """

    live = False

    def __init__(self, name: str, buffer: str = "all"):
        self.name, self.buffer = name, buffer
        self.queue_size = queue_size(RuntimeOptions(), buffer)
        self.fps, self.size = DEFAULT_FPS, Size(0, 0)
        self.frame_count: int | None = None
        self.skipped: list[Path] = []
        self.damaged: list[int] = []
        self.dropped = self.reconnects = 0
        self.broken_at: int | None = None
        self.files: list[str] = []
        self.span = Span()
        self._first: Frame | None = None
        self._closed = threading.Event()

    def open(self) -> Source:
        """Open the source and read its first frame (its size); ``PosetrackError`` naming it when it cannot be."""
        self._first = self._peek()
        self.size = Size(self._first.image.shape[1], self._first.image.shape[0])
        return self

    def _peek(self) -> Frame:
        raise NotImplementedError

    def _frames(self) -> Iterator[Frame]:
        """Every frame, the first one included, in order (what ``buffer="all"`` yields)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        if self._first is None:
            raise RuntimeError("iterate an opened source (open_source)")
        frames = self._newest() if self.buffer == "latest" else self._frames()
        return frames if self.span.everything else self._within(frames)

    def _within(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            if self.span.past(frame.index):
                return
            if frame.index in self.span:
                yield frame

    def select(self, span: Span) -> None:
        """Take only the frames of ``span`` (before iterating)."""
        self.span = span
        if self.frame_count is not None:
            self.frame_count = span.count(self.frame_count)

    def _first_frame(self) -> Frame:
        """The frame read on opening. A file's is stamped again now: it was read before the pipeline was built,
        and its latency is from reading to result. A live source's keeps its stamp: it really waited."""
        assert self._first is not None
        return self._first if self.live else dataclasses.replace(self._first, captured=time.monotonic())

    def _newest(self) -> Iterator[Frame]:
        """``_frames`` through a reader thread that keeps only the newest frame (``dropped`` counts the others)."""
        slot: list[Frame] = []
        done = threading.Event()
        errors: list[BaseException] = []
        ready = threading.Condition()

        def read() -> None:
            try:
                for frame in self._frames():
                    with ready:
                        if slot:
                            self.dropped += 1
                        slot[:] = [frame]
                        ready.notify()
            except BaseException as exc:  # handed to the consumer
                errors.append(exc)
            finally:
                done.set()
                with ready:
                    ready.notify()

        reader = threading.Thread(target=read, daemon=True, name="posetrack-capture")
        reader.start()
        try:
            while True:
                with ready:
                    while not slot and not done.is_set():
                        ready.wait(0.1)
                    if not slot:
                        break
                    frame = slot.pop()
                yield frame
        finally:
            self._closed.set()
            reader.join(timeout=5)
        if errors:
            raise errors[0]

    def close(self) -> None:
        self._closed.set()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class FolderSource(Source):
    """The images of a folder, sorted by name (see the module docstring)."""

    def __init__(self, path: Path, buffer: str = "all"):
        super().__init__(str(path), buffer)
        self.path = path
        self._files: list[Path] = []
        self._why_skipped = ""

    def _peek(self) -> Frame:
        self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise PosetrackError(f"{self.path}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.frame_count = len(self._files)
        self.files = [p.name for p in self._files]
        first = next(self._images(0), None)
        if first is None:
            raise PosetrackError(f"{self.path}: no usable image (e.g. {self._why_skipped})")
        return first

    def _frames(self) -> Iterator[Frame]:
        first = self._first_frame()
        yield first
        yield from self._images(first.index + 1)

    def _images(self, start: int) -> Iterator[Frame]:
        """The folder's readable images from index ``start``; the others are skipped with a warning."""
        for i in range(start, len(self._files)):
            if self._closed.is_set() or (self._first is not None and self.span.past(i)):
                return
            if self._first is not None and i not in self.span:
                continue  # outside --start/--end/--stride: not even read
            path = self._files[i]
            image, reason = read_image(path)
            if image is None:
                self.skipped.append(path)
                self._why_skipped = f"{path.name}: {reason}"
                log.warning("skipped %s: %s", path, reason)
                continue
            yield Frame(i, i / self.fps, image, file=path.name)


class _CaptureSource(Source):
    """What a video file and a live source share: an OpenCV capture read frame by frame."""

    def __init__(self, name: str, target: str | int, buffer: str):
        super().__init__(name, buffer)
        self._target = target
        self._capture: cv2.VideoCapture | None = None

    def _open_capture(self) -> cv2.VideoCapture:
        capture = _capture_of(self._target)
        if not capture.isOpened():
            raise PosetrackError(f"{self.name}: cannot be opened as a video")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else DEFAULT_FPS
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 and not self.live else None
        self._capture = capture
        return capture

    def _peek(self) -> Frame:
        found = self._read(self._open_capture(), 0)
        if found is None:
            raise PosetrackError(f"{self.name}: no decodable frame (empty, not a video, or corrupt)")
        index, image = found
        reason = size_problem(image)
        if reason:
            raise PosetrackError(f"{self.name}: {reason}")
        return Frame(index, index / self.fps if not self.live else 0.0, to_bgr(image))

    def _read(self, capture: cv2.VideoCapture, expected: int) -> tuple[int, np.ndarray] | None:
        """The next frame decoded, as (index, image), or None at the end."""
        ok, image = capture.read()
        return (expected, image) if ok and image is not None else None

    def _frames(self) -> Iterator[Frame]:
        """Every frame of the capture in order (reopening a live source that breaks off, ``_retry``)."""
        first = self._first_frame()
        yield first
        index, capture, tries = first.index + 1, self._capture, 0
        assert capture is not None
        start = time.monotonic() - first.timestamp
        while not self._closed.is_set():
            found = self._read(capture, index)
            if found is not None:
                tries = 0
                index, image = found
                stamp = time.monotonic() - start if self.live else index / self.fps
                yield Frame(index, stamp, to_bgr(image))
                index += 1
                continue
            reopened = self._retry(capture, index, tries)
            if reopened is None:
                return
            capture, tries = reopened, tries + 1

    def _retry(self, capture: cv2.VideoCapture, index: int, tries: int) -> cv2.VideoCapture | None:
        """After the capture returned nothing at frame ``index``: the capture to go on with, or None (the end)."""
        return None

    def close(self) -> None:
        super().close()
        if self._capture is not None:
            self._capture.release()


class FileSource(_CaptureSource):
    """A video file (see the module docstring: damaged frames, ``broken_at``)."""

    def __init__(self, path: Path, buffer: str = "all"):
        super().__init__(str(path), str(path), buffer)

    def _read(self, capture: cv2.VideoCapture, expected: int) -> tuple[int, np.ndarray] | None:
        """Undecodable frames are skipped (up to ``DAMAGED_RUN`` in a row) and the frame after them takes its index
        from its time stamp (only then: a variable-frame-rate video's stamps are no frame count)."""
        for attempt in range(DAMAGED_RUN):
            ok, image = capture.read()
            if not ok or image is None:
                continue
            index = expected
            if attempt:  # after undecodable frames: the time stamp says how many there were
                stamp = capture.get(cv2.CAP_PROP_POS_MSEC)
                index = max(expected, round(stamp * self.fps / 1000)) if stamp >= 0 else expected
            for lost in range(expected, index):
                self.damaged.append(lost)
                log.warning("%s: frame %d is damaged (cannot be decoded); skipped", self.name, lost)
            return index, image
        return None

    def _retry(self, capture: cv2.VideoCapture, index: int, tries: int) -> cv2.VideoCapture | None:
        if self.frame_count is not None and index < self.frame_count:
            self.broken_at = index  # the container announced more frames than could be decoded
        return None


class LiveSource(_CaptureSource):
    """A camera index or a stream URL (see the module docstring: numbering, reconnection)."""

    live = True

    def __init__(self, target: str | int, buffer: str = "latest", reconnect: int = 0):
        name = f"camera {target}" if isinstance(target, int) else str(target)
        super().__init__(name, target, buffer)
        self.reconnect = reconnect

    def _retry(self, capture: cv2.VideoCapture, index: int, tries: int) -> cv2.VideoCapture | None:
        if tries >= self.reconnect or self._closed.is_set():
            return None
        wait = BACKOFF_S[min(tries, len(BACKOFF_S) - 1)]
        log.warning("%s broke off after frame %d; reconnecting in %.1f s (try %d of %d)", self.name, index - 1, wait,
                    tries + 1, self.reconnect)
        if self._closed.wait(wait):
            return None
        capture.release()
        self._capture = _capture_of(self._target)  # a failed open reads nothing: the next failed try
        self.reconnects += 1
        return self._capture


def open_source(source: str | int | Path, runtime: RuntimeOptions | None = None) -> Source:
    """The source ``source`` names (a video file, an image folder, a camera index or a stream URL), opened, with the
    buffering, reconnection and queue size ``runtime`` asks for (its defaults: see the module docstring).

    Raises:
        PosetrackError: no such file or folder, or a source that cannot be opened or has no usable frame.
    """
    runtime = runtime or RuntimeOptions()
    camera = camera_index(source)
    opened: Source
    if camera is not None or is_stream(source):
        target: str | int = camera if camera is not None else str(source)  # a URL as given: never through Path
        opened = LiveSource(target, runtime.buffer or "latest", runtime.reconnect)
    else:
        path = Path(str(source))
        if not path.exists():
            raise PosetrackError(f"{path}: no such file or folder")
        buffer = runtime.buffer or "all"
        opened = FolderSource(path, buffer) if path.is_dir() else FileSource(path, buffer)
    opened.queue_size = queue_size(runtime, opened.buffer)
    try:
        opened.open()
        span = Span.of(runtime.start, runtime.end, runtime.stride, opened.fps)
        if span.end is not None and span.end <= span.start:  # one in frames, the other in seconds
            raise PosetrackError(f"{opened.name}: --end {runtime.end} (frame {span.end}) is not after --start "
                                 f"{runtime.start} (frame {span.start})")
        if opened.frame_count is not None and span.start >= opened.frame_count:
            raise PosetrackError(f"{opened.name}: no frame from --start {runtime.start} (frame {span.start}); it has "
                                 f"{opened.frame_count} frames")
        opened.select(span)
        return opened
    except BaseException:
        opened.close()
        raise


def _capture_of(target: str | int) -> cv2.VideoCapture:
    """An OpenCV capture of a camera index, a file, or a stream URL (always through FFmpeg, which reads them all)."""
    if isinstance(target, str) and is_stream(target):
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG)
    return cv2.VideoCapture(target)


def read_image(path: Path) -> tuple[np.ndarray | None, str]:
    """(the image BGR, "") or (None, why it is refused). A JPEG without its end-of-image marker (a copy cut off) is
    refused before decoding: libjpeg would fill in the rest grey, and print "Premature end of JPEG file" on
    stderr."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if path.suffix.lower() in (".jpg", ".jpeg") and bytes(data[-64:]).rstrip(b"\0 \r\n")[-2:] != b"\xff\xd9":
        return None, "truncated JPEG (no end-of-image marker)"
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        return None, "unreadable image"
    reason = size_problem(image)
    return (None, reason) if reason else (image, "")


def size_problem(image: np.ndarray) -> str:
    """Why frames of this size are refused ("" if they are not)."""
    h, w = image.shape[:2]
    if min(w, h) < MIN_SIDE or max(w, h) > MAX_SIDE:
        return f"frame size {w}x{h} outside {MIN_SIDE}..{MAX_SIDE} pixels"
    return ""


def to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
