"""MOTChallenge text files: ``frame,id,x,y,w,h,conf,x,y,z`` per box, frames 1-based, (x, y) the top-left corner in
pixels, the last three ignored (-1, or world coordinates). Ground truth (``gt.txt``: a row with conf 0 is to be
ignored), detections (``det.txt``: id -1, conf the score) and tracker output (what ``--mot`` writes) share it;
``seqinfo.ini`` says a sequence's name, frame rate, length and size.

A MOT frame k is the video's (or folder's) 0-based frame k - 1; ``MotBoxes`` keep the file's 1-based frames.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posetrack.errors import PosetrackError


@dataclass(frozen=True)
class MotBoxes:
    """The rows of a MOT file.

    Attributes:
        frames: (N,) int64, 1-based. ids: (N,) int64 (-1 for detections).
        boxes: (N, 4) float64 x, y, w, h in pixels. scores: (N,) float64 (conf column).
    """

    frames: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    def take(self, rows: np.ndarray) -> MotBoxes:
        return MotBoxes(self.frames[rows], self.ids[rows], self.boxes[rows], self.scores[rows])

    def in_frame(self, frame: int) -> MotBoxes:
        """The rows of 1-based ``frame``."""
        return self.take(self.frames == frame)

    def xyxy(self) -> np.ndarray:
        """(N, 4) float32 x1, y1, x2, y2."""
        b = self.boxes
        return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1).astype(np.float32)


def read_mot(path: str | Path) -> MotBoxes:
    """The boxes of a MOTChallenge text file (an empty file has none).

    Raises:
        PosetrackError: a missing file, or a line that is not ``frame,id,x,y,w,h,conf[,...]`` (naming the line).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PosetrackError(f"{path}: no such MOT file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PosetrackError(f"{path}: not a readable MOT file ({exc})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.replace(" ", "").split(",")
        try:
            values = [float(v) for v in parts[:7]]
        except ValueError:
            values = []
        if len(values) < 6 or values[0] < 1:
            raise PosetrackError(f"{path}:{number}: not a MOTChallenge line (frame,id,x,y,w,h,conf,...): "
                                 f"{line.strip()[:60]!r}")
        rows.append(values + [1.0] * (7 - len(values)))
    table = np.array(rows, np.float64).reshape(-1, 7)
    return MotBoxes(table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2:6], table[:, 6])


def is_mot_file(path: str | Path) -> bool:
    """Whether a file reads as MOTChallenge text: its first non-empty line is at least seven comma-separated numbers
    with a positive whole frame number (COCO results are JSON and start with ``[``)."""
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as f:
            first = next((line for line in f if line.strip()), "")
    except OSError:
        return False
    parts = first.replace(" ", "").split(",")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        return False
    return len(values) >= 7 and values[0] >= 1 and values[0] == int(values[0])


def mot_line(frame: int, track_id: int, box_xyxy: np.ndarray, score: float) -> str:
    """One tracker-output line: 1-based ``frame``, the box as x, y, w, h (two decimals), the score, ``-1,-1,-1``."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    return f"{frame},{track_id},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.4f},-1,-1,-1"


@dataclass(frozen=True)
class SeqInfo:
    """A sequence's ``seqinfo.ini``: name, frame rate, length (frames), size."""

    name: str
    fps: float
    length: int
    width: int
    height: int


def read_seqinfo(path: str | Path) -> SeqInfo:
    """The ``[Sequence]`` section of a MOTChallenge ``seqinfo.ini``.

    Raises:
        PosetrackError: missing, or without name / seqLength (one line naming the file).
    """
    path = Path(path)
    parser = configparser.ConfigParser()
    try:
        if not parser.read(path):
            raise PosetrackError(f"{path}: no such seqinfo.ini")
        seq = parser["Sequence"]
        return SeqInfo(seq.get("name", path.parent.name), float(seq.get("frameRate", "25")), int(seq["seqLength"]),
                       int(seq.get("imWidth", "0")), int(seq.get("imHeight", "0")))
    except (KeyError, ValueError, configparser.Error) as exc:
        raise PosetrackError(f"{path}: not a MOTChallenge seqinfo.ini ({type(exc).__name__}: {exc})") from None
