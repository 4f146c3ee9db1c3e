"""The training jobs ``posetrack train`` runs: data source → samples, model (fresh, or fine-tuned from weights),
the shared loop, validation on the held-out validation clips."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from posetrack.errors import PosetrackError
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.detector import PersonDetector
from posetrack.models.hrnet import hrnet
from posetrack.models.registry import DEMO_DETECTOR, DEMO_POSE
from posetrack.skeleton import POSETRACK17
from posetrack.synth.samples import frame_samples, person_samples
from posetrack.train.data import SKELETON_OF_SOURCE, batches, coco_person_samples, posetrack_person_samples
from posetrack.train.detector_trainer import boxes_ground_truth, detector_batches, train_detector
from posetrack.train.heldout import validation_set
from posetrack.train.loop import History, TrainConfig
from posetrack.train.pose_trainer import train_pose

M = TypeVar("M", bound=torch.nn.Module)

SOURCES = "synthetic | coco:ANNOTATIONS.json:IMAGE_DIR | posetrack:ANNOTATIONS.json:FRAME_ROOT"


@dataclass(frozen=True)
class TrainJob:
    """One training run.

    Attributes:
        out: run folder (checkpoints, history; resumed when it has one and ``resume``).
        config: HRNet configuration (pose only). input_size: network input (width, height); None: the shipped
            model's. data: a ``SOURCES`` spec. init: weights to fine-tune from. loop: steps, learning rate, etc.
        unoccluded_keep: share of the synthetic persons without a joint hidden by someone else that are kept
            (``synth.samples.person_samples``; pose only).
    """

    out: Path
    loop: TrainConfig
    config: str = "demo"
    input_size: tuple[int, int] | None = None
    data: str = "synthetic"
    batch: int = 32
    init: Path | None = None
    resume: bool = True
    unoccluded_keep: float = 1.0


def _initial_weights(model: M, init: Path | None) -> M:
    """``model`` with the weights of ``init`` when given (a resumed run overrides them with its own)."""
    return model if init is None else load_checkpoint(model, init)


def train_pose_job(job: TrainJob) -> History:
    """Train the pose model of ``job`` on its data source; validation by OKS AP with ground-truth boxes."""
    kind, *paths = job.data.split(":")
    if kind not in SKELETON_OF_SOURCE or (kind != "synthetic" and len(paths) != 2):
        raise PosetrackError(f"--data {job.data!r}: use {SOURCES.replace(' | ', ', ')}")
    skeleton = SKELETON_OF_SOURCE[kind]
    seed = job.loop.seed
    samples = {"synthetic": lambda: person_samples(seed=seed, skeleton=skeleton, unoccluded_keep=job.unoccluded_keep),
               "coco": lambda: coco_person_samples(paths[0], paths[1]),
               "posetrack": lambda: posetrack_person_samples(paths[0], paths[1])}[kind]()
    torch.manual_seed(seed)
    model = _initial_weights(hrnet(job.config, skeleton.num_joints).init_weights(), job.init)
    input_size = job.input_size or DEMO_POSE.input_size
    train = batches(samples, job.batch, input_size, skeleton, seed=seed)
    return train_pose(model, train, job.loop, job.out, validation_set(skeleton), input_size, skeleton,
                      resume=job.resume)


def train_detector_job(job: TrainJob) -> History:
    """Train the person detector on the synthetic world; validation by box AP50 on the validation clips."""
    if job.data != "synthetic":
        raise PosetrackError("the detector trains on the synthetic world only (--data synthetic)")
    seed = job.loop.seed
    torch.manual_seed(seed)
    input_size = job.input_size or DEMO_DETECTOR.input_size
    images, gt = validation_set(POSETRACK17)
    boxes: list[list[list[float]]] = [[] for _ in images]
    index = {img["id"]: i for i, img in enumerate(gt["images"])}
    for ann in gt["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes[index[ann["image_id"]]].append([x, y, x + w, y + h])
    validation = (images, boxes_ground_truth(images, [np.array(b, np.float32).reshape(-1, 4) for b in boxes]))
    train = detector_batches(frame_samples(seed=seed + 1), job.batch, input_size, seed=seed)
    return train_detector(_initial_weights(PersonDetector(), job.init), train, job.loop, job.out, validation,
                          input_size, resume=job.resume)
