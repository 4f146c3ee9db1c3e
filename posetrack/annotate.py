"""Drawing tracked skeletons: one stable colour per track id, joints by confidence, id labels, boxes and trails
if asked for (``DrawStyle``), an FPS overlay."""

from __future__ import annotations

import colorsys
from collections import deque

import cv2
import numpy as np

from posetrack.options import DrawStyle
from posetrack.types import Poses, TrackedPoses

_GOLDEN = 0.618033988749895


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A vivid BGR colour per id; neighbouring ids get far-apart hues (golden-ratio steps)."""
    r, g, b = colorsys.hsv_to_rgb((track_id * _GOLDEN) % 1.0, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


class Trails:
    """Each track's last ``length`` standing points (x, y pixels), for ``draw_poses``; a track not seen for
    ``length`` frames is forgotten."""

    def __init__(self, length: int):
        self.length, self.frame = length, 0
        self._points: dict[int, deque[tuple[int, tuple[int, int]]]] = {}

    def update(self, poses: TrackedPoses) -> None:
        self.frame += 1
        for track_id, (x1, _, x2, y2) in zip(poses.track_ids, poses.boxes):
            path = self._points.setdefault(int(track_id), deque(maxlen=self.length))
            path.append((self.frame, (int(round((x1 + x2) / 2)), int(round(y2)))))
        self._points = {i: p for i, p in self._points.items() if p and self.frame - p[-1][0] < self.length}

    def paths(self) -> dict[int, list[tuple[int, int]]]:
        """Each remembered track's points, oldest first, within the last ``length`` frames."""
        return {i: [pt for f, pt in p if self.frame - f < self.length] for i, p in self._points.items()}


def draw_poses(image: np.ndarray, poses: Poses | TrackedPoses, style: DrawStyle = DrawStyle(),
               fps: float | None = None, trails: Trails | None = None) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) BGR with the skeletons drawn in ``style`` (and ``trails``' paths, which the
    caller updates), and an FPS overlay when ``fps`` is given."""
    out = image.copy()
    scale = max(1, round(min(out.shape[:2]) / 360))
    width = style.line_width or 2 * scale
    ids = getattr(poses, "track_ids", None)
    if trails is not None:
        for track_id, path in trails.paths().items():
            if len(path) > 1:
                cv2.polylines(out, [np.array(path, np.int32)], False, track_colour(track_id), max(1, width // 2),
                              cv2.LINE_AA)
    for n in range(len(poses)):
        colour = track_colour(int(ids[n])) if ids is not None else (0, 255, 0)
        kp, ok = poses.keypoints[n], poses.scores[n] >= style.keypoint_threshold
        for a, b in poses.skeleton.limbs:
            if ok[a] and ok[b]:
                cv2.line(out, _pt(kp[a]), _pt(kp[b]), colour, width, cv2.LINE_AA)
        for j in np.flatnonzero(ok):
            cv2.circle(out, _pt(kp[j]), width + 1, colour, -1, cv2.LINE_AA)
        x1, y1, x2, y2 = (int(round(float(v))) for v in poses.boxes[n])
        if style.boxes:
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, max(1, width // 2), cv2.LINE_AA)
        if ids is not None and style.ids:
            _label(out, f"{int(ids[n])}", (x1, max(y1 - 4 * scale, 12 * scale)), colour, scale)
    if fps is not None:
        _label(out, f"{fps:5.1f} FPS", (8 * scale, 22 * scale), (255, 255, 255), scale)
    return out


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _label(image: np.ndarray, text: str, origin: tuple[int, int], colour: tuple[int, int, int], scale: int) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 0, 0), 3 * scale, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, colour, scale, cv2.LINE_AA)
