"""Where results go: each output is a sink with ``write(result)``, used as a context manager that finalises it.

``PoseTrackJsonSink`` (PoseTrack 2018, poseval-ready), ``CocoKeypointsSink`` (COCO keypoint results with track
ids), ``VideoSink`` (annotated MP4), ``JsonLinesSink`` (a line per frame, for other programs), ``MotSink``
(MOTChallenge boxes), ``CsvSink`` (a row per joint, for pandas) and ``WindowSink`` (live display; q or Esc asks
the run to stop). A run loops
over the sinks it was given (``track_video``); write your own by subclassing ``Sink``.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

import numpy as np

from posetrack.annotate import Trails, draw_poses
from posetrack.errors import PosetrackError
from posetrack.io.coco_json import keypoint_result, video_image_id, write_results
from posetrack.io.journal import SUFFIX, Journal, journal_path, read_header, read_records
from posetrack.io.mot import mot_line
from posetrack.io.posetrack_json import (
    MAX_FRAMES,
    PoseTrackFrame,
    frame_entries,
    poses_to_frame,
    write_entries,
)
from posetrack.io.video import VideoWriter
from posetrack.io.window import open_window
from posetrack.options import KEYPOINT_THRESHOLD, DrawStyle
from posetrack.skeleton import COCO17, joint_slots
from posetrack.transforms import letterbox
from posetrack.types import FrameResult

PARTIAL = ".partial"  # the annotated video's name until it is finalised


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

    @property
    def outputs(self) -> list[Path]:
        """The finished files (after ``close``)."""
        return [self.path] if self.path is not None and self.path.exists() else []

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class PoseTrackJsonSink(Sink):
    """PoseTrack 2018 JSON of the tracked poses, streamed to disk frame by frame.

    Each frame goes to the journal ``<path>.journal`` as it completes (nothing is kept in memory); closing builds
    ``path`` from it and deletes it. After a kill the journal stays and ``posetrack recover`` builds the file.
    A PoseTrack file holds at most 10 000 frames, so a longer video continues in ``<stem>.10000.json``,
    ``<stem>.20000.json``, ...: frame k of ``<stem>.N.json`` is frame N + k of the video. Frames the source
    skipped (unreadable images) are written as unlabeled frames without people, so frame numbers stay the source's.

    Args:
        path: the ``.json`` file. name: the PoseTrack sequence name (``sequence_name_for``).
        size: (width, height) of the frames (each frame records its own; this one is for skipped frames).
        keep_score: keypoints below it are left out. files: an image folder's file names by frame index (for the
            skipped frames' ``file_name``; the others carry their own, ``Frame.file``).
    """

    def __init__(self, path: str | Path, name: str, size: tuple[int, int], keep_score: float = KEYPOINT_THRESHOLD,
                 files: Sequence[str] = ()):
        self.path: Path = Path(path)
        self.name, self.size, self.keep_score, self.files = name, size, keep_score, files
        self._outputs: list[Path] = []  # finished files, in frame order
        self._journal: Journal | None = None
        self._next = 0  # index of the next frame of the video

    def write(self, result: FrameResult) -> None:
        while self._next < result.frame.index:  # frames the source skipped
            file = self.files[self._next] if self._next < len(self.files) else None
            self._append(PoseTrackFrame.empty(is_labeled=False), self.size, file)
        h, w = result.frame.image.shape[:2]
        self._append(poses_to_frame(result.poses, self.keep_score), (w, h), result.frame.file)

    def _append(self, frame: PoseTrackFrame, size: tuple[int, int], file: str | None = None) -> None:
        start = self._next - self._next % MAX_FRAMES
        if self._journal is None:
            output = self.path if start == 0 else self.path.with_name(f"{self.path.stem}.{start}{self.path.suffix}")
            header = {"kind": "posetrack", "output": output.name, "name": self.name, "first_frame": start}
            self._journal = Journal(journal_path(output), header)
        image, annotations = frame_entries(self.name, "val", self._next - start, frame, *size, file=file)
        self._journal.append({"image": image, "annotations": annotations})
        self._next += 1
        if self._next % MAX_FRAMES == 0:
            self._finish()

    def _finish(self) -> None:
        if self._journal is not None:
            self._journal.close()
            if (output := finish_journal(self._journal.path, self._journal.records)) is not None:
                self._outputs.append(output)
            self._journal = None

    def close(self) -> None:
        self._finish()

    @property
    def outputs(self) -> list[Path]:
        return list(self._outputs)


class CocoKeypointsSink(Sink):
    """COCO keypoint results in COCO's 17 joints and order, plus ``track_id`` and ``frame`` (the frame index). A
    joint the network does not predict (a PoseTrack-17 model's eyes) is ``0, 0, 0`` and left out of the person's
    score, the mean of the others. ``image_id`` is ``video_image_id(video, frame)`` (``video``: the file name
    before ``.coco.json``). Streamed through the journal ``<path>.journal`` like ``PoseTrackJsonSink``; ``path``
    is written when closed (not at all if no frame came)."""

    def __init__(self, path: str | Path, video: str | None = None):
        self.path: Path = Path(path)
        self.video = video if video is not None else self.path.name.removesuffix(".json").removesuffix(".coco")
        self._journal: Journal | None = None

    def write(self, result: FrameResult) -> None:
        if self._journal is None:
            self._journal = Journal(journal_path(self.path), {"kind": "coco", "output": self.path.name})
        poses = result.poses
        slots = joint_slots(poses.skeleton, COCO17)
        image_id = video_image_id(self.video, result.frame.index)
        for kp, sc, tid in zip(poses.keypoints[:, slots], poses.scores[:, slots], poses.track_ids):
            named = {} if result.frame.file is None else {"file_name": result.frame.file}
            self._journal.append(keypoint_result(image_id, kp, sc, slots >= 0, track_id=int(tid),
                                                 frame=result.frame.index, **named))

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            finish_journal(self._journal.path)


class _TextLines(Sink):
    """A text output written line by line and flushed each frame, so a killed run leaves every finished frame's
    lines (``-``: stdout). Subclasses say a frame's ``lines`` and the file's ``header``."""

    header = ""

    def __init__(self, target: str | Path):
        self.path = None if str(target) == "-" else Path(target)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: TextIO = self.path.open("w", encoding="utf-8", newline="")
        else:
            self._file = sys.stdout
        if self.header:
            self._file.write(self.header)

    def lines(self, result: FrameResult) -> list[str]:
        raise NotImplementedError

    def write(self, result: FrameResult) -> None:
        self._file.write("".join(line + "\n" for line in self.lines(result)))
        self._file.flush()

    def close(self) -> None:
        if self.path is not None:
            self._file.close()


class JsonLinesSink(_TextLines):
    """One JSON object per frame, a line each, flushed as written: for another program to read a live run
    (``posetrack run --stream-json PATH|-``; ``-`` is stdout). The line (``schemas/stream.schema.json``)::

        {"frame": 12, "time": 0.48, "latency_ms": 41.2, "keyframe": true, "joints": "posetrack17",
         "people": [{"track_id": 3, "box": [x1, y1, x2, y2], "box_score": 0.91,
                     "keypoints": [[x, y, score], ...17]}]}

    ``frame`` is the source's frame index, ``time`` its timestamp in seconds, x/y image pixels (two decimals);
    every joint is given with its score (a reader applies its own threshold); ``file``: the frame's image file,
    for an image folder only. A dropped live frame has no line.
    """

    def lines(self, result: FrameResult) -> list[str]:
        poses = result.poses
        people = [{"track_id": int(t), "box": _rounded(b), "box_score": round(float(s), 4),
                   "keypoints": [[round(float(x), 2), round(float(y), 2), round(float(c), 4)] for (x, y), c in zip(k, q)]}
                  for t, b, s, k, q in zip(poses.track_ids, poses.boxes, poses.box_scores, poses.keypoints,
                                           poses.scores)]
        line = {"frame": result.frame.index, "time": round(result.frame.timestamp, 4),
                "latency_ms": round(1e3 * result.latency, 2), "keyframe": result.keyframe,
                "joints": poses.skeleton.name, "people": people}
        if result.frame.file is not None:
            line["file"] = result.frame.file
        return [json.dumps(line, separators=(",", ":"), allow_nan=False)]


class MotSink(_TextLines):
    """MOTChallenge text (``posetrack run --mot PATH``): ``frame,id,x,y,w,h,score,-1,-1,-1`` per tracked person,
    frames 1-based (the source's frame index + 1), ids the track ids + 1 (MOTChallenge counts both from 1), each
    person's output box (``TrackerConfig.box``: the track's smoothed box, or the detector's) and its detection
    score: what ``posetrack eval --mot``, py-motmetrics and TrackEval read."""

    def lines(self, result: FrameResult) -> list[str]:
        poses = result.poses
        return [mot_line(result.frame.index + 1, int(t) + 1, b, float(s))
                for t, b, s in zip(poses.track_ids, poses.boxes, poses.box_scores)]


class CsvSink(_TextLines):
    """A table for pandas or a spreadsheet (``posetrack run --csv PATH``): one row per person per frame per joint,
    every joint with its score (a reader applies its own threshold), columns as
    ``schemas/poses-csv.tableschema.json`` (a Frictionless Table Schema) describes them::

        frame,time,file,track_id,joint,x,y,score,box_x1,box_y1,box_x2,box_y2,box_score
        12,0.48,,3,left_ankle,311.52,402.1,0.8731,280.4,150.2,340.9,410.7,0.9124

    ``frame`` is the source's frame index, ``time`` its timestamp in seconds, ``file`` the frame's image file (an
    image folder's; empty for a video), ``joint`` the joint's name in the run's layout, x/y and the box in image
    pixels."""

    COLUMNS = ("frame", "time", "file", "track_id", "joint", "x", "y", "score", "box_x1", "box_y1", "box_x2",
               "box_y2", "box_score")
    header = ",".join(COLUMNS) + "\n"

    def lines(self, result: FrameResult) -> list[str]:
        poses, frame = result.poses, result.frame
        names = poses.skeleton.joints
        table = io.StringIO()
        rows = csv.writer(table, lineterminator="\n")
        for t, box, box_score, keypoints, scores in zip(poses.track_ids, poses.boxes, poses.box_scores,
                                                        poses.keypoints, poses.scores):
            person = [*_rounded(box), round(float(box_score), 4)]
            for name, (x, y), score in zip(names, keypoints, scores):
                rows.writerow([frame.index, round(frame.timestamp, 4), frame.file or "", int(t), name,
                               round(float(x), 2), round(float(y), 2), round(float(score), 4), *person])
        return table.getvalue().splitlines()


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in values]


def _finish_posetrack(journal: Path, header: dict, records: int | None) -> Path | None:
    frames = records if records is not None else sum(1 for _ in read_records(journal))
    if frames == 0:
        return None

    def entries() -> Iterator[tuple[dict, list[dict]]]:
        return ((r["image"], r["annotations"]) for r in read_records(journal))

    return write_entries(journal.with_name(header["output"]), entries, frames)


def _finish_coco(journal: Path, header: dict, records: int | None) -> Path | None:
    return write_results(read_records(journal), journal.with_name(header["output"]))


_FINISHERS = {"posetrack": _finish_posetrack, "coco": _finish_coco}


def finish_journal(journal: str | Path, records: int | None = None) -> Path | None:
    """Build the output a journal stands for (``<output>.journal`` → ``<output>``, complete or not written at all),
    then delete the journal. ``records``: how many it holds, when the writer knows (saves a reading pass).
    Returns the output, or None when the journal held no frame."""
    journal = Path(journal)
    header = read_header(journal)
    finish = _FINISHERS.get(header["kind"])
    if finish is None or not isinstance(header.get("output"), str):
        raise PosetrackError(f"{journal}: unknown journal kind {header['kind']!r}")
    try:
        output = finish(journal, header, records)
    except (KeyError, TypeError, ValueError) as exc:
        raise PosetrackError(f"{journal}: damaged record ({type(exc).__name__}: {exc})") from None
    journal.unlink()
    return output


def recover(target: str | Path) -> tuple[list[Path], list[Path]]:
    """``posetrack recover``: turn the journals a killed run left (in the folder ``target``, or the one journal
    ``target``) into their outputs. Returns (outputs written, cut-off videos found: ``*.partial.mp4`` files that
    no player opens, since MP4 writes its index last)."""
    target = Path(target)
    if not target.exists():
        raise PosetrackError(f"{target}: no such file or folder")
    journals = sorted(target.glob(f"*{SUFFIX}")) if target.is_dir() else [target]
    outputs = [out for j in journals if (out := finish_journal(j)) is not None]
    videos = sorted(target.glob(f"*{PARTIAL}.mp4")) if target.is_dir() else []
    return outputs, videos


class VideoSink(Sink):
    """The frames with their skeletons drawn (per-track colours, FPS overlay), as an MP4 at ``path``.

    Frames go to ``<stem>.partial.mp4``, renamed to ``path`` when the sink is closed (on every exit path the
    run controls: the end, an error, Ctrl-C, SIGTERM): a file under ``path`` is always finalised and playable.
    Frames of another size than ``size`` (image folders of mixed sizes) are letterboxed into it. Drawing and
    encoding run in a thread of their own, at most ``BEHIND`` frames behind (at 1080p with 16 people they cost
    about 30 ms a frame on this project's CPU: off the run's path they overlap with the networks); ``close``
    waits for every frame written, and an error there is raised by the next ``write`` or by ``close``.
    """

    BEHIND = 8  # frames the drawing thread may fall behind (each holds a frame: 6 MB at 1080p)

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float, style: DrawStyle = DrawStyle()):
        self.path: Path = Path(path)
        self.style, self.size = style, (int(size[0]), int(size[1]))
        self._trails = Trails(style.trail) if style.trail else None
        self._partial = self.path.with_name(self.path.stem + PARTIAL + self.path.suffix)
        self._writer = VideoWriter(self._partial, self.size, fps)
        self._queue: queue.Queue[FrameResult | None] = queue.Queue(self.BEHIND)
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._draw_and_encode, daemon=True, name="posetrack-video")
        self._thread.start()

    def write(self, result: FrameResult) -> None:
        if self._errors:
            raise self._errors[0]
        self._queue.put(result)

    def _draw_and_encode(self) -> None:
        while (result := self._queue.get()) is not None:
            if self._errors:
                continue  # drain: the run is told at its next write or at close
            try:
                if self._trails is not None:
                    self._trails.update(result.poses)
                image = draw_poses(result.frame.image, result.poses, self.style, result.fps, self._trails)
                if image.shape[1::-1] != self.size:
                    image = letterbox(image, self.size, fill=0)[0]
                self._writer.write(image)
            except BaseException as exc:
                self._errors.append(exc)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._writer.frames:
            self._partial.replace(self.path)
        else:
            self._partial.unlink(missing_ok=True)
        if self._errors:
            raise self._errors[0]


class WindowSink(Sink):
    """The annotated frames in a display window (``io.window``); q or Esc sets ``stop`` (the run ends, keeping its
    results), and so does closing the window."""

    def __init__(self, name: str = "posetrack", style: DrawStyle = DrawStyle()):
        self.style = style
        self.window = open_window(name)

    def write(self, result: FrameResult) -> None:
        self.stop = self.window.show(draw_poses(result.frame.image, result.poses, self.style, result.fps))

    def close(self) -> None:
        self.window.close()
