"""The tracker's state: every track as rows of arrays, so that prediction, similarity and updates are vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posetrack.track.appearance import SIGNATURE
from posetrack.types import Poses


@dataclass
class Tracks:
    """All tracks as arrays (T tracks, K joints); what a similarity function compares new poses with."""

    ids: np.ndarray  # (T,) int64
    keypoints: np.ndarray  # (T, K, 2) float32, last matched pose moved along to the current frame
    scores: np.ndarray  # (T, K) float32
    boxes: np.ndarray  # (T, 4) float32
    since_seen: np.ndarray  # (T,) frames since the last match (ByteTrack's time_since_update)
    velocity: np.ndarray  # (T, 2) own motion of the box centre, px/frame, camera motion removed
    camera: np.ndarray  # (T, 2) camera motion accumulated since the last match
    matched_boxes: np.ndarray  # (T, 4) float32 box at the last match, unmoved
    appearance: np.ndarray  # (T, D) float32 running colour signature (track.appearance), zeros when unused
    box_scores: np.ndarray  # (T,) float32 detection score of the box of the last match

    @classmethod
    def new(cls, ids: np.ndarray, poses: Poses, rows: np.ndarray, signatures: np.ndarray | None = None) -> Tracks:
        """Tracks of ``poses[rows]``; ``signatures``: the frame's (N, D) colour signatures, if used."""
        boxes = poses.boxes[rows].astype(np.float32)
        zeros = np.zeros((len(rows), 2), np.float32)
        appearance = (signatures[rows] if signatures is not None else np.zeros((len(rows), SIGNATURE))).astype(np.float32)
        return cls(ids, poses.keypoints[rows].astype(np.float32), poses.scores[rows].astype(np.float32), boxes,
                   np.zeros(len(rows), np.int64), zeros, zeros.copy(), boxes.copy(), appearance,
                   poses.box_scores[rows].astype(np.float32))

    def motion_boxes(self) -> np.ndarray:
        """(T, 4) float32: each track's box at its last match, moved to the current frame by its own velocity over
        the frames since (``since_seen + 1``: call before the update increments ``since_seen``) plus the camera's motion."""
        size = self.box_size
        centre = self.anchor + self.camera + self.velocity * (self.since_seen[:, None] + 1)
        return np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)

    @property
    def box_size(self) -> np.ndarray:
        return self.matched_boxes[:, 2:] - self.matched_boxes[:, :2]

    @property
    def anchor(self) -> np.ndarray:
        """(T, 2) box centre at the last match."""
        return 0.5 * (self.matched_boxes[:, :2] + self.matched_boxes[:, 2:])

    def take(self, keep: np.ndarray) -> Tracks:
        return Tracks(*(getattr(self, f)[keep] for f in FIELDS))

    def __len__(self) -> int:
        return len(self.ids)


FIELDS = ("ids", "keypoints", "scores", "boxes", "since_seen", "velocity", "camera", "matched_boxes", "appearance",
          "box_scores")


def concat(a: Tracks, b: Tracks) -> Tracks:
    return Tracks(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in FIELDS))
