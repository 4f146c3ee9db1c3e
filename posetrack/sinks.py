"""Where results go: each output is a sink with ``write(result)``, used as a context manager that finalises it.

``PoseTrackJsonSink`` (PoseTrack 2018, poseval-ready), ``CocoKeypointsSink`` (COCO keypoint results with track
ids), ``VideoSink`` (annotated MP4) and ``WindowSink`` (live display; q or Esc asks the run to stop). A run loops
over the sinks it was given (``track_video``); write your own by subclassing ``Sink``.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from posetrack.annotate import draw_poses
from posetrack.errors import PosetrackError
from posetrack.io.coco_json import keypoint_result, write_results
from posetrack.io.posetrack_json import MAX_FRAMES, PoseTrackFrame, PoseTrackSequence, poses_to_frame, write_sequence
from posetrack.io.video import VideoWriter
from posetrack.types import FrameResult


class Sink:
    """An output of a run. ``write`` takes each frame's result in frame order; ``close`` finalises the output (also
    after an error or Ctrl-C: every finished frame is kept). ``stop`` turns True when the sink asks the run to end
    (a closed window, a full file). ``path``: the file it writes, if any."""

    stop: bool = False
    path: Path | None = None

    def write(self, result: FrameResult) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finalise the output; called once, on every exit path."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class PoseTrackJsonSink(Sink):
    """PoseTrack 2018 JSON of the tracked poses, written at ``path`` when closed (not at all if no frame came).

    Args:
        path: the ``.json`` file. name: the PoseTrack sequence name (``sequence_name_for``).
        size: (width, height) of the frames. keep_score: keypoints below it are left out.
    """

    def __init__(self, path: str | Path, name: str, size: tuple[int, int], keep_score: float = 0.3):
        self.path: Path = Path(path)
        self.name, self.size, self.keep_score = name, size, keep_score
        self.frames: list[PoseTrackFrame] = []

    def write(self, result: FrameResult) -> None:
        self.frames.append(poses_to_frame(result.poses, self.keep_score))
        self.stop = len(self.frames) >= MAX_FRAMES  # a PoseTrack file holds at most 10 000 frames

    def close(self) -> None:
        if self.frames:
            write_sequence(PoseTrackSequence(self.name, *self.size, self.frames), self.path)


class CocoKeypointsSink(Sink):
    """COCO keypoint results (``image_id`` = frame index, plus ``track_id``; every keypoint in the network's joint
    layout, the person's score their mean), written at ``path`` when closed."""

    def __init__(self, path: str | Path):
        self.path: Path = Path(path)
        self.results: list[dict] = []
        self.frames = 0

    def write(self, result: FrameResult) -> None:
        poses = result.poses
        self.results += [keypoint_result(result.frame.index, kp, sc, track_id=int(tid))
                         for kp, sc, tid in zip(poses.keypoints, poses.scores, poses.track_ids)]
        self.frames += 1

    def close(self) -> None:
        if self.frames:
            write_results(self.results, self.path)


class VideoSink(Sink):
    """The frames with their skeletons drawn (per-track colours, FPS overlay), as an MP4 at ``path``."""

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float, keep_score: float = 0.3):
        self.path, self.keep_score = Path(path), keep_score
        self._writer = VideoWriter(self.path, size, fps)

    def write(self, result: FrameResult) -> None:
        self._writer.write(draw_poses(result.frame.image, result.poses, self.keep_score, result.fps))

    def close(self) -> None:
        self._writer.close()


class WindowSink(Sink):
    """The annotated frames in a display window; q or Esc sets ``stop`` (the run ends, keeping its results)."""

    def __init__(self, name: str = "posetrack", keep_score: float = 0.3):
        self.name, self.keep_score = name, keep_score
        open_window(name)

    def write(self, result: FrameResult) -> None:
        import cv2

        cv2.imshow(self.name, draw_poses(result.frame.image, result.poses, self.keep_score, result.fps))
        self.stop = cv2.waitKey(1) & 0xFF in (ord("q"), 27)

    def close(self) -> None:
        import cv2

        cv2.destroyWindow(self.name)


def open_window(name: str) -> None:
    """Open a display window, or explain in one line why there is none."""
    import cv2

    try:
        cv2.namedWindow(name, cv2.WINDOW_NORMAL)
    except cv2.error:
        raise PosetrackError("--show needs a display and OpenCV with GUI support (pip install opencv-python); "
                             "this OpenCV build is headless") from None
