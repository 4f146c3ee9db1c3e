"""Sample streams for training: person instances (pose) and whole frames (detector).

Samples carry the full frame plus the person's box and keypoints, so the training code applies its own
crop and augmentation (scale, rotation, flip with joint swap) through ``posetrack.transforms``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import count

import numpy as np

from posetrack.skeleton import POSETRACK17, Skeleton
from posetrack.synth.scene import MIN_VISIBLE, PRESETS, SceneConfig, SyntheticVideo


@dataclass
class PersonSample:
    """One annotated person.

    Attributes:
        image: (H, W, 3) uint8 BGR, the whole frame (shared by the persons of that frame; do not modify).
        box: (4,) float32 x1, y1, x2, y2. keypoints: (K, 2) float32 image pixels.
        visibility: (K,) int8 (2 visible, 1 occluded, 0 outside).
    """

    image: np.ndarray
    box: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray


@dataclass
class FrameSample:
    """One frame with all person boxes: image (H, W, 3) uint8 BGR, boxes (N, 4) float32 x1, y1, x2, y2."""

    image: np.ndarray
    boxes: np.ndarray


def _clips(configs: list[SceneConfig], seed: int, frames_per_clip: int, skeleton: Skeleton) -> Iterator[SyntheticVideo]:
    """An endless, seeded round of short clips over ``configs``."""
    for i in count():
        config = replace(configs[i % len(configs)], frames=frames_per_clip)
        yield SyntheticVideo(config, seed=seed * 1_000_003 + i, skeleton=skeleton)


def person_samples(seed: int, configs: list[SceneConfig] | None = None, skeleton: Skeleton = POSETRACK17,
                   frames_per_clip: int = 60, stride: int = 3, min_visible: int = MIN_VISIBLE,
                   unoccluded_keep: float = 1.0) -> Iterator[PersonSample]:
    """Endless person samples from short clips of all presets (every ``stride``-th frame).

    Persons with fewer than ``min_visible`` visible joints are skipped; the default keeps every person the ground
    truth annotates, mostly hidden ones included (with at least 6, the demo model never saw the 2 % of held-out
    people that cost it 2 points of OKS AP). ``unoccluded_keep`` < 1 keeps only that share (at random, seeded) of
    the persons with no joint hidden behind someone else, so that crops holding an occluder, where the pose model
    must not find the person in front, weigh more.
    """
    rng = np.random.default_rng(seed + 17)
    for video in _clips(configs or list(PRESETS.values()), seed, frames_per_clip, skeleton):
        for frame, truth in video:
            if frame.index % stride:
                continue
            for k in range(len(truth)):
                if not truth.occluded_by_other[k].any() and rng.random() >= unoccluded_keep:
                    continue
                if (truth.visibility[k] == 2).sum() >= min_visible:
                    yield PersonSample(frame.image, truth.boxes[k], truth.keypoints[k], truth.visibility[k])


def frame_samples(seed: int, configs: list[SceneConfig] | None = None, frames_per_clip: int = 60,
                  stride: int = 3) -> Iterator[FrameSample]:
    """Endless frames with their person boxes (every ``stride``-th frame of short clips of all presets)."""
    for video in _clips(configs or list(PRESETS.values()), seed, frames_per_clip, POSETRACK17):
        for frame, truth in video:
            if frame.index % stride == 0:
                yield FrameSample(frame.image, truth.boxes)
