"""What happens in a synthetic clip: crossings, occlusions, identities — the numbers presets promise."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from posetrack.synth.scene import FrameTruth


@dataclass(frozen=True)
class ClipStats:
    """Counts over a clip.

    Attributes:
        frames: frames seen. person_frames: annotated persons summed over frames. tracks: distinct ids.
        crossings: events where two annotated persons with overlapping boxes swap their left-right order.
        occluded_person_frames: annotated persons with at least one joint hidden by another person.
        occluded_joint_fraction: joints hidden by another person / in-frame joints.
    """

    frames: int
    person_frames: int
    tracks: int
    crossings: int
    occluded_person_frames: int
    occluded_joint_fraction: float


def clip_stats(truths: Iterable[FrameTruth]) -> ClipStats:
    frames = person_frames = crossings = occluded = 0
    by_other = in_frame = 0
    ids: set[int] = set()
    previous: dict[int, np.ndarray] = {}
    for truth in truths:
        frames += 1
        person_frames += len(truth)
        ids.update(int(i) for i in truth.track_ids)
        occluded += int(truth.occluded_by_other.any(1).sum())
        by_other += int(truth.occluded_by_other.sum())
        in_frame += int((truth.visibility > 0).sum())
        current = {int(i): b for i, b in zip(truth.track_ids, truth.boxes)}
        crossings += _swaps(previous, current)
        previous = current
    return ClipStats(frames, person_frames, len(ids), crossings, occluded, by_other / max(in_frame, 1))


def _swaps(previous: dict[int, np.ndarray], current: dict[int, np.ndarray]) -> int:
    """Pairs present in both frames, overlapping now, whose box-centre order in x flipped."""
    both = sorted(set(previous) & set(current))
    count = 0
    for i, a in enumerate(both):
        for b in both[i + 1:]:
            before = np.sign((previous[a][0] + previous[a][2]) - (previous[b][0] + previous[b][2]))
            now = np.sign((current[a][0] + current[a][2]) - (current[b][0] + current[b][2]))
            ca, cb = current[a], current[b]
            overlap = min(ca[2], cb[2]) > max(ca[0], cb[0]) and min(ca[3], cb[3]) > max(ca[1], cb[1])
            count += int(before * now < 0 and overlap)
    return count
