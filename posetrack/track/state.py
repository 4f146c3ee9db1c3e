"""The tracker's state: every track as rows of arrays, so that prediction, similarity and updates are vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posetrack.track import kalman
from posetrack.track.appearance import SIGNATURE
from posetrack.types import Poses


@dataclass
class Tracks:
    """All tracks as arrays (T tracks, K joints); what a similarity function compares new poses with."""

    ids: np.ndarray  # (T,) int64
    keypoints: np.ndarray  # (T, K, 2) float32, the last matched pose moved along into the current frame
    scores: np.ndarray  # (T, K) float32, its joints' scores (0: the track's pose is not known)
    mean: np.ndarray  # (T, 8) float64 Kalman state: box centre, width, height and their velocities (``kalman``)
    cov: np.ndarray  # (T, 8, 8) float64 its covariance
    since_seen: np.ndarray  # (T,) int64 frames since the last match (ByteTrack's time_since_update)
    detected: np.ndarray  # (T,) bool: the last match was a pose of the frame's (not one only ``recover`` found)
    hits: np.ndarray  # (T,) int64 consecutive frames matched up to the last match
    confirmed: np.ndarray  # (T,) bool: matched often enough to be output (tentative tracks are not)
    appearance: np.ndarray  # (T, D) float32 running colour signature (track.appearance), zeros when unused
    box_scores: np.ndarray  # (T,) float32 detection score of the box of the last match

    @classmethod
    def new(cls, ids: np.ndarray, poses: Poses, rows: np.ndarray, signatures: np.ndarray | None = None,
            confirmed: bool | np.ndarray = False) -> Tracks:
        """Tracks of ``poses[rows]``, seen once (``confirmed``: each, or all); ``signatures``: the frame's (N, D)
        colour signatures, if used."""
        mean, cov = kalman.initiate(poses.boxes[rows])
        n = len(rows)
        appearance = (signatures[rows] if signatures is not None else np.zeros((n, SIGNATURE))).astype(np.float32)
        return cls(np.asarray(ids, np.int64), poses.keypoints[rows].astype(np.float32),
                   poses.scores[rows].astype(np.float32), mean, cov, np.zeros(n, np.int64), np.ones(n, bool),
                   np.ones(n, np.int64),
                   np.broadcast_to(np.asarray(confirmed, bool), (n,)).copy(), appearance,
                   poses.box_scores[rows].astype(np.float32))

    @property
    def boxes(self) -> np.ndarray:
        """(T, 4) float32 x1, y1, x2, y2: where each track's box is now (the Kalman filter's estimate)."""
        return kalman.state_to_xyxy(self.mean)

    @property
    def velocity(self) -> np.ndarray:
        """(T, 2) float64 box centre velocity, pixels per frame."""
        return self.mean[:, 4:6]

    def take(self, keep: np.ndarray) -> Tracks:
        return Tracks(*(getattr(self, f)[keep] for f in FIELDS))

    def __len__(self) -> int:
        return len(self.ids)


FIELDS = ("ids", "keypoints", "scores", "mean", "cov", "since_seen", "detected", "hits", "confirmed", "appearance",
          "box_scores")


def concat(a: Tracks, b: Tracks) -> Tracks:
    return Tracks(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in FIELDS))
