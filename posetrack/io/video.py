"""Writing MP4 video: H.264 through PyAV where it is installed, MPEG-4 Part 2 through OpenCV otherwise. Reading
frames is ``io.sources``'s."""

from __future__ import annotations

import functools
import logging
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from posetrack.errors import PosetrackError

log = logging.getLogger("posetrack")


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
