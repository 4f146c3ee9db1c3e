"""Reading frames (video file, image folder, camera, network stream) and writing MP4 video, with OpenCV.

Live sources (a camera index, or a URL OpenCV's FFmpeg backend opens: ``rtsp://``, ``rtmp://``, ``http(s)://``
MJPEG included, ``tcp://``, ``udp://``, ``srt://``) are read by a thread of their own with ``buffer="latest"`` (their
default): it keeps only the newest frame, so a pipeline slower than the source works on fresh frames and its
latency stays bounded, and counts the frames it drops. Frames keep the source's numbering (a frame's ``index``
counts every frame decoded from the source, dropped ones included), so a dropped frame is a gap in the indices:
the PoseTrack JSON holds it as an empty unlabeled frame, the COCO and JSON-lines outputs leave it out, and the run
summary counts it. ``buffer="all"`` (the default for files and folders) drops nothing. A live source
that breaks off is reopened up to ``reconnect`` times, waiting 0.5, 1, 2, 4, then 8 s between tries.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

# FFmpeg's own log lines ("Stream ends prematurely", codec warnings) would break the progress bar and surround the
# one-line errors; posetrack says what matters itself. --verbose (or a value set by the user) shows them.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2
import numpy as np

if os.environ["OPENCV_LOG_LEVEL"] == "ERROR":
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # also when cv2 was imported before us

from posetrack.errors import PosetrackError
from posetrack.types import Frame

log = logging.getLogger("posetrack")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
MIN_SIDE, MAX_SIDE = 32, 8192
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "tcp", "udp", "srt")
BUFFERS = ("latest", "all")
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
DAMAGED_RUN = 8  # this many undecodable frames of a file in a row are its end, not damage


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


class VideoReader:
    """Frames of a video file, an image folder (sorted by name) or a camera index, as BGR ``Frame``s.

    Grayscale and 4-channel sources are converted to BGR. A source that cannot be opened, has no frame, or has
    frames smaller than 32 or larger than 8192 pixels raises ``PosetrackError`` naming it. A damaged frame of a
    video file (one that cannot be decoded while later ones can) is skipped with a warning and listed in
    ``damaged``; the frames after it keep their place in the video, from the container's time stamp of the next
    frame decoded (a damaged first frame, or header, included), so the results match the video frame for frame. A
    video that breaks off (truncated: ``DAMAGED_RUN`` frames in a row cannot be decoded before the announced
    count) ends early: ``broken_at`` then holds the index of the first unreadable frame. In an
    image folder, an image that cannot be decoded (or is outside the size range) is skipped with a warning naming
    it and listed in ``skipped``; the frames keep their place in the folder as their index. Images of a folder may
    differ in size: each frame has its own.

    Attributes:
        fps: frame rate (25 for image folders and when the container does not say).
        size: (width, height) of the first frame.
        frame_count: frames announced by the container (images in a folder), or None (camera, unknown).
        skipped: image files skipped so far.
        damaged: indices of a video's frames skipped so far as undecodable.
    """

    def __init__(self, source: str | Path | int, buffer: str | None = None, reconnect: int = 0):
        self.source = source
        self.live = is_camera(source) or is_stream(source)
        self.buffer = buffer or ("latest" if self.live else "all")
        if self.buffer not in BUFFERS:
            raise PosetrackError(f"--buffer {self.buffer}: use {' or '.join(BUFFERS)}")
        self.reconnect = reconnect
        self.broken_at: int | None = None
        self.frame_count: int | None = None
        self.skipped: list[Path] = []
        self.damaged: list[int] = []
        self.dropped = 0  # live frames read but replaced by a newer one before the pipeline took them
        self.reconnects = 0
        self._why_skipped = ""
        self._files: list[Path] | None = None
        self._capture: cv2.VideoCapture | None = None
        self._closed = threading.Event()
        camera = camera_index(source)
        if camera is not None:
            self._open_capture(camera, f"camera {source}")
        elif is_stream(source):
            self._open_capture(str(source), str(source))  # a URL as given: never through Path, which mangles it
        else:
            assert not isinstance(source, int)
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
        capture = _capture_of(target)
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
        found = self._read(self._capture, 0)
        if found is None:
            raise PosetrackError(f"{self._name()}: no decodable frame (empty, not a video, or corrupt)")
        index, image = found
        reason = _size_problem(image)
        if reason:
            raise PosetrackError(f"{self._name()}: {reason}")
        return Frame(index, index / self.fps if not self.live else 0.0, _to_bgr(image))

    def _read(self, capture: cv2.VideoCapture, expected: int) -> tuple[int, np.ndarray] | None:
        """The next frame decoded, as (index, image), or None at the end. A live source's frames are counted; a
        file's undecodable frames are skipped (up to ``DAMAGED_RUN`` in a row) and the frame after them takes its
        index from its time stamp (only then: a variable-frame-rate video's stamps are no frame count)."""
        for attempt in range(1 if self.live else DAMAGED_RUN):
            ok, image = capture.read()
            if not ok or image is None:
                continue
            index = expected
            if attempt:  # after undecodable frames: the time stamp says how many there were
                stamp = capture.get(cv2.CAP_PROP_POS_MSEC)
                index = max(expected, round(stamp * self.fps / 1000)) if stamp >= 0 else expected
            for lost in range(expected, index):
                self.damaged.append(lost)
                log.warning("%s: frame %d is damaged (cannot be decoded); skipped", self._name(), lost)
            return index, image
        return None

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

    def _first_frame(self) -> Frame:
        """The frame read on opening. A file's is stamped again now: it was read before the pipeline was built,
        and its latency is from reading to result. A live source's keeps its stamp: it really waited."""
        if self.live:
            return self._first
        return dataclasses.replace(self._first, captured=time.monotonic())

    def __iter__(self) -> Iterator[Frame]:
        if self._files is not None:
            yield self._first_frame()
            yield from self._images(self._first.index + 1)
        elif self.buffer == "latest":
            yield from self._newest()
        else:
            yield from self._decoded()

    def _decoded(self) -> Iterator[Frame]:
        """Every frame of the capture in order, reconnecting a live source that breaks off."""
        yield self._first_frame()
        index, capture, tries = self._first.index + 1, self._capture, 0
        assert capture is not None
        start = time.monotonic() - self._first.timestamp
        while not self._closed.is_set():
            found = self._read(capture, index)
            if found is not None:
                tries = 0
                index, image = found
                stamp = time.monotonic() - start if self.live else index / self.fps
                yield Frame(index, stamp, _to_bgr(image))
                index += 1
                continue
            if not self.live or tries >= self.reconnect or self._closed.is_set():
                if not self.live and self.frame_count is not None and index < self.frame_count:
                    self.broken_at = index  # the container announced more frames than could be decoded
                return
            wait = BACKOFF_S[min(tries, len(BACKOFF_S) - 1)]
            tries += 1
            log.warning("%s broke off after frame %d; reconnecting in %.1f s (try %d of %d)", self._name(),
                        index - 1, wait, tries, self.reconnect)
            if self._closed.wait(wait):
                return
            capture.release()
            capture = self._reopen()
            self.reconnects += 1

    def _reopen(self) -> cv2.VideoCapture:
        """The live source opened again (a failed open reads nothing, which counts as the next failed try)."""
        camera = camera_index(self.source)
        self._capture = _capture_of(camera if camera is not None else str(self.source))
        return self._capture

    def _newest(self) -> Iterator[Frame]:
        """The live capture through a reader thread that keeps only the newest frame (``dropped`` counts the
        others)."""
        slot: list[Frame] = []
        done = threading.Event()
        errors: list[BaseException] = []
        ready = threading.Condition()

        def read() -> None:
            try:
                for frame in self._decoded():
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
        if self._capture is not None:
            self._capture.release()


def _capture_of(target: str | int) -> cv2.VideoCapture:
    """An OpenCV capture of a camera index, a file, or a stream URL (always through FFmpeg, which reads them all)."""
    if isinstance(target, str) and is_stream(target):
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG)
    return cv2.VideoCapture(target)


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
    """Append BGR frames to an ``.mp4``.

    ``codec="h264"`` (the default): H.264 through PyAV's bundled FFmpeg (libx264, yuv420p: what browsers, chat apps
    and phones play; preset ``ultrafast`` at CRF 23, files about as large as mp4v's, because ``veryfast`` cost 2.8x
    the encoding time at 1080p on this project's 2-core CPU, more than a run can spare). Where PyAV or its H.264
    encoder is missing: MPEG-4 Part 2 through OpenCV, with one warning. ``codec="mp4v"``: always MPEG-4 Part 2 (the
    synthetic clips, whose decoded pixels the shipped models and calibration were made from). H.264 in yuv420p
    needs an even width and height: an odd frame gets one black column or row.

    Use as a context manager; the file is finalised on exit, also after an error or Ctrl-C.

    Args:
        path: output file (parent folders are created).
        size: (width, height) of every frame.
        fps: frame rate.
        codec: ``h264`` or ``mp4v``.
    Attributes:
        codec: the codec the file is written with.
    """

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float, codec: str = "h264"):
        if codec not in ("h264", "mp4v"):
            raise ValueError(f"codec {codec!r}: use h264 or mp4v")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = (int(size[0]), int(size[1]))
        self.frames = 0
        self.codec = "h264" if codec == "h264" and _h264_encoder() else "mp4v"
        if codec == "h264" and self.codec != codec:
            _warn_once(f"{self.path}: no H.264 encoder (pip install av); writing MPEG-4 Part 2, which browsers may not "
                       "play")
        if self.codec == "h264":
            self._open_h264(fps)
        else:
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), float(fps), self.size)
            if not self._writer.isOpened():
                raise PosetrackError(f"{self.path}: cannot open for writing as MP4")

    def _open_h264(self, fps: float) -> None:
        import av

        try:
            self._container = av.open(str(self.path), "w")
        except (OSError, av.error.FFmpegError) as exc:
            raise PosetrackError(f"{self.path}: cannot open for writing as MP4 ({exc})") from None
        stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                            options={"preset": "ultrafast", "crf": "23"})
        stream.width, stream.height = (v + v % 2 for v in self.size)
        stream.pix_fmt = "yuv420p"
        self._stream, self._finished = stream, False
        self._container.start_encoding()  # the file exists from here, as OpenCV's does on opening

    def write(self, image: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame of the writer's size."""
        if image.shape[1::-1] != self.size:
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, video is {self.size[0]}x{self.size[1]}")
        if self.codec == "mp4v":
            self._writer.write(image)
        else:
            import av

            w, h = self.size
            if w % 2 or h % 2:
                image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)))
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")):
                self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self.codec == "mp4v":
            self._writer.release()
            return
        if self._finished:
            return
        self._finished = True
        try:
            for packet in self._stream.encode():  # what the encoder still holds
                self._container.mux(packet)
        finally:
            self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


@functools.cache
def _h264_encoder() -> bool:
    """Whether PyAV is installed with an H.264 encoder (libx264)."""
    try:
        import av
    except ImportError:
        return False
    return "libx264" in av.codecs_available


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    key = message.split(": ", 1)[-1]
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning("%s", message)
