"""``posetrack run``: a video in, tracked poses out (PoseTrack JSON, annotated MP4, a summary).

Results are written as frames complete; whatever stops the run (the end, a decoding error, Ctrl-C), the JSON and
the video cover every finished frame and are valid files.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from posetrack.errors import PosetrackError
from posetrack.io.posetrack_json import MAX_FRAMES, MAX_TRACK_ID, PoseTrackFrame, PoseTrackSequence, write_sequence
from posetrack.io.video import VideoReader, VideoWriter
from posetrack.pipeline import Pipeline, StageTimes
from posetrack.render import draw_poses
from posetrack.skeleton import COCO17, coco_to_posetrack
from posetrack.types import TrackedPoses

_SEQUENCE = re.compile(r"^\d+_(mpii|bonn|mpiinew)\w*$")


def sequence_name(stem: str) -> str:
    """The PoseTrack sequence name for a video: its stem when poseval accepts it (e.g. a synthetic clip's
    ``200003_mpii_test``), else ``000000_mpii_<stem>`` with other characters replaced by ``_``."""
    return stem if _SEQUENCE.match(stem) else "000000_mpii_" + re.sub(r"\W", "_", stem)


def to_posetrack_frame(poses: TrackedPoses, keep_score: float) -> PoseTrackFrame:
    """Tracked poses → a PoseTrack prediction frame. COCO-17 poses are converted to PoseTrack-17; keypoints scoring
    below ``keep_score`` are left out (poseval counts every keypoint written)."""
    keypoints, scores = poses.keypoints, poses.scores
    if poses.skeleton is COCO17:
        keypoints, scores = coco_to_posetrack(keypoints, scores)
    flags = (scores >= keep_score).astype(np.int8)
    return PoseTrackFrame(poses.track_ids % MAX_TRACK_ID, keypoints, flags, poses.boxes, scores=scores,
                          box_scores=poses.box_scores)


@dataclass
class RunSummary:
    """What a run did: frames, persons (summed over frames), distinct tracks, stage timings, output files, and
    the frame where the source broke off (None if it did not)."""

    frames: int
    persons: int
    tracks: int
    times: StageTimes
    json_path: Path
    video_path: Path | None
    broken_at: int | None

    def lines(self) -> list[str]:
        fps = self.times.fps()
        stages = "  ".join(f"{s} {fps[s]:.1f}" for s in ("decode", "detect", "pose", "track"))
        out = [f"{self.frames} frames, {self.persons} poses, {self.tracks} tracks",
               f"FPS end to end {fps['total']:.1f}  (per stage alone: {stages})",
               f"wrote {self.json_path}" + (f" and {self.video_path}" if self.video_path else "")]
        return out


def open_window(name: str) -> None:
    """Open a display window, or explain in one line why there is none."""
    import cv2

    try:
        cv2.namedWindow(name, cv2.WINDOW_NORMAL)
    except cv2.error:
        raise PosetrackError("--show needs a display and OpenCV with GUI support (pip install opencv-python); "
                             "this OpenCV build is headless") from None


def _shown_and_stopped(image: np.ndarray) -> bool:
    import cv2

    cv2.imshow("posetrack", image)
    return cv2.waitKey(1) & 0xFF in (ord("q"), 27)


@contextmanager
def deferred_interrupt() -> Iterator[threading.Event]:
    """While active, the first Ctrl-C only sets the yielded flag, which the frame loop checks between frames; a
    second Ctrl-C interrupts at once. (A KeyboardInterrupt raised at an arbitrary point of the consuming thread can
    leave a stage queue's lock held, and the stage threads blocked on it.)"""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def on_sigint(signum, frame) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def run_video(source: str | Path | int, out_dir: str | Path, pipeline: Pipeline, *, video: bool = True,
              keep_score: float = 0.3, progress: bool = True, reader: VideoReader | None = None,
              show: bool = False) -> RunSummary:
    """Run ``pipeline`` over ``source`` and write ``out_dir/<stem>.json`` (+ ``<stem>.mp4``); with ``show`` also
    display the annotated frames (q or Esc stops, keeping the results so far)."""
    reader = reader or VideoReader(source)
    stem = "camera" if isinstance(source, int) or str(source).isdigit() else Path(source).stem
    out_dir = Path(out_dir)
    name = sequence_name(stem)
    json_path, video_path = out_dir / f"{stem}.json", (out_dir / f"{stem}.mp4" if video else None)
    frames: list[PoseTrackFrame] = []
    tracks: set[int] = set()
    persons = 0
    if show:
        open_window("posetrack")
    writer = VideoWriter(video_path, reader.size, reader.fps) if video_path else None
    bar = tqdm(total=reader.frame_count, unit="frame", disable=not progress or None, dynamic_ncols=True,
               desc=f"tracking {stem}")
    with deferred_interrupt() as interrupted:
        try:
            for result in pipeline.run(reader):
                poses = result.poses
                frames.append(to_posetrack_frame(poses, keep_score))
                tracks.update(int(i) for i in poses.track_ids)
                persons += len(poses)
                if writer is not None or show:
                    annotated = draw_poses(result.frame.image, poses, keep_score, pipeline.times.fps()["total"])
                    if writer is not None:
                        writer.write(annotated)
                    if show and _shown_and_stopped(annotated):
                        break
                bar.update(1)
                if len(frames) % 10 == 0:
                    bar.set_postfix(fps=f"{pipeline.times.fps()['total']:.1f}", persons=len(poses))
                if len(frames) == MAX_FRAMES or interrupted.is_set():
                    break  # a PoseTrack file holds at most 10 000 frames; Ctrl-C stops between frames
        finally:
            bar.close()
            if writer is not None:
                writer.close()
            if frames:
                write_sequence(PoseTrackSequence(name, *reader.size, frames), json_path)
            reader.close()
    if interrupted.is_set():
        raise KeyboardInterrupt  # after the results so far are written
    return RunSummary(len(frames), persons, len(tracks), pipeline.times, json_path, video_path, reader.broken_at)
