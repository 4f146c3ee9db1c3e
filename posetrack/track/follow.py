"""The keyframe policy: when the detector runs, and how people are followed between its runs
(``options.KeyframeOptions``, ``posetrack run --detect-every K --redetect on|off``).

The schedule: the detector runs on frames 0, K, 2K, … (the run's frame order, whatever the source's numbering).
Between keyframes each person seen in the last frame is looked for at a box made from their pose
(``PoseTracker.proposals``: the extent of their confident joints grown by 1.25, as MMDeploy's pose-to-box step
does, moved by their own and the camera's motion); a pose found there is kept when its mean keypoint score reaches
``recover_score``, and it continues its track only (it never starts one).

Triggers (with ``redetect`` on): the detector also runs off schedule, on the next frame, when

- ``lost``: a person followed into the last frame found no confident pose there;
- ``weak``: a followed pose turned uncertain (mean keypoint score below ``redetect_below``);
- ``scene-cut``: this frame starts a new shot (its 32x18 grey thumbnail differs from the last one's by more than
  ``scene_cut`` grey levels on average), where following by poses has nothing to follow;
- ``nobody``: nobody is followed, so only the detector can find people.

The run reports the scheduled detector frames (``keyframes``) and the extra ones per trigger apart. With
``redetect`` off the schedule is strict: new and lost people wait for the next keyframe.

Recovery: on a keyframe, a person tracked in the previous frame whom the detector missed is looked for at their
flow-moved box (inside the image, on nobody already posed), kept at ``recover_score``, continuing their track
(``recoverer``; the tracker calls it, ``PoseTracker.update(recover=...)``).

The pose stage of a frame between keyframes needs the proposals of the frame before, which the track stage
publishes after each frame's association (``publish`` / ``plan``, safe across the two stage threads).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from posetrack.options import KeyframeOptions
from posetrack.track.oks import box_iou
from posetrack.track.tracker import Proposals, Recover, TrackUpdate
from posetrack.types import Detections, Poses, TrackedPoses

TRIGGERS = ("scene-cut", "lost", "weak", "nobody")  # in the order they are asked; the first that fires is counted
SCHEDULED = "scheduled"


@dataclass(frozen=True)
class Plan:
    """What the pose stage does with one frame: the detector's boxes (``detect``: why it runs, ``SCHEDULED`` or a
    trigger), or poses at the boxes where the followed people should be (``look``: the proposals inside the frame,
    with the scores of the boxes they were last matched by; ``detect`` None)."""

    detect: str | None
    look: Detections


class _Published:
    """The proposals (and the triggers they raise) after each frame's association; the pose stage of frame t
    waits for those of frame t - 1."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = -1
        self._value: tuple[Proposals, str | None] = (Proposals.none(), None)

    def put(self, seq: int, proposals: Proposals, trigger: str | None) -> None:
        with self._cond:
            self._seq, self._value = seq, (proposals, trigger)
            self._cond.notify_all()

    def after(self, seq: int) -> tuple[Proposals, str | None]:
        with self._cond:
            while self._seq < seq:
                self._cond.wait(0.05)
            return self._value


class Follower:
    """The keyframe policy of one run (see the module docstring).

    Attributes:
        keyframes: frames the detector ran on by the schedule. extra: the extra detector frames per trigger.
    """

    def __init__(self, options: KeyframeOptions | None = None):
        self.options = options or KeyframeOptions()
        self.reset()

    def reset(self) -> None:
        """A new run: nobody followed, nothing counted."""
        self._published = _Published()
        self._followed = Proposals.none()  # the proposals of the frame being tracked (pose stage → track stage)
        self._thumb: np.ndarray | None = None
        self.keyframes = 0
        self.extra: Counter[str] = Counter()

    @property
    def follows(self) -> bool:
        """Whether people are followed between keyframes (then the pose stage waits for the track stage)."""
        return self.options.every > 1

    def scheduled(self, seq: int) -> bool:
        """Whether the run's frame ``seq`` (0-based, in run order) is a keyframe."""
        return seq % self.options.every == 0

    def plan(self, seq: int, image: np.ndarray, detected: bool) -> Plan:
        """What to do with the run's frame ``seq`` (``detected``: the detect stage ran the detector on it, as the
        schedule says). Between keyframes this waits for the previous frame's association."""
        cut = self.follows and self._scene_cut(image)
        if detected:
            self.keyframes += 1
            return Plan(SCHEDULED, Detections.empty())
        proposals, trigger = self._published.after(seq - 1)
        fired = {"scene-cut": cut, "lost": trigger == "lost", "weak": trigger == "weak", "nobody": not len(proposals)}
        reason = next((t for t in TRIGGERS if fired[t]), None) if self.options.redetect else None
        if reason is not None:
            self.extra[reason] += 1
        self._followed = proposals
        h, w = image.shape[:2]
        return Plan(reason, Detections(np.clip(proposals.boxes, 0, [w, h, w, h]), proposals.scores))

    def confident(self, poses: Poses) -> np.ndarray:
        """(N,) bool: the poses found at a followed person's box whose mean keypoint score reaches
        ``recover_score`` (the others are not that person)."""
        return poses.scores.mean(1) >= self.options.recover_score

    def publish(self, seq: int, update: TrackUpdate, proposed: np.ndarray, keyframe: bool) -> None:
        """After frame ``seq``'s association: the proposals for the next frame, and the trigger this frame raised
        (``proposed``: (N,) bool, which of the frame's poses were found at proposed boxes)."""
        if not self.follows:
            return
        tracked, followed = update.tracked, proposed[update.kept]
        trigger = None
        if not keyframe and len(np.setdiff1d(self._followed.ids, tracked.track_ids)):
            trigger = "lost"
        elif followed.any() and float(tracked.scores[: len(followed)][followed].mean(1).min()) < \
                self.options.redetect_below:
            trigger = "weak"
        self._published.put(seq, update.proposals, trigger)

    def recoverer(self, image: np.ndarray, estimate: Callable[[np.ndarray], Poses]) -> Recover | None:
        """On a keyframe: the tracker's ``recover`` function, which looks for the missing people at their moved boxes
        with ``estimate(boxes (M, 4)) -> Poses`` (the pose network); None where recovery is off."""
        if self.options.recover_score is None:
            return None
        h, w = image.shape[:2]

        def recover(missing: Proposals, tracked: TrackedPoses) -> tuple[np.ndarray, Poses]:
            boxes = missing.boxes
            look = (boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= w) & (boxes[:, 3] <= h)
            if len(tracked) and len(boxes):
                look &= box_iou(boxes, tracked.boxes).max(1) < self.options.recover_overlap
            if not look.any():
                return np.zeros(0, np.int64), tracked.take(np.zeros(0, int))
            found = estimate(boxes[look])
            keep = self.confident(found)
            return missing.ids[look][keep], found.take(keep)

        return recover

    def _scene_cut(self, image: np.ndarray) -> bool:
        """A cut between this frame and the last (see ``KeyframeOptions.scene_cut``)."""
        thumb = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (32, 18), interpolation=cv2.INTER_AREA)
        previous, self._thumb = self._thumb, thumb.astype(np.int16)
        return previous is not None and float(np.abs(self._thumb - previous).mean()) > self.options.scene_cut
