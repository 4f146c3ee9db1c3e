"""Training the person detector on synthetic frames: centre heatmaps with the penalty-reduced focal loss, L1 on
box size (log pixels) and sub-cell offset (CenterNet, Zhou et al. 2019); validation by box AP50."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from posetrack.backends import TorchBackend
from posetrack.detect import NetworkDetector
from posetrack.models.detector import STRIDE, PersonDetector, YoloLayout
from posetrack.models.registry import DEMO_DETECTOR
from posetrack.synth.samples import FrameSample
from posetrack.train.heldout import detector_ap
from posetrack.train.loop import History, TrainConfig, device_of, fit
from posetrack.transforms import letterbox, preprocess
from posetrack.types import Size


@dataclass
class DetectorBatch:
    """inputs (B, 3, H, W); heat (B, 1, H/8, W/8) Gaussian centre targets (exactly 1 at centres); size (B, 2, h, w)
    log box size at centres; offset (B, 2, h, w); mask (B, 1, h, w) 1 at centres."""

    inputs: np.ndarray
    heat: np.ndarray
    size: np.ndarray
    offset: np.ndarray
    mask: np.ndarray


def make_detector_batch(samples: list[FrameSample], input_size: tuple[int, int], rng: np.random.Generator,
                        augment: bool = True) -> DetectorBatch:
    """Letterbox (with random zoom and shift when augmenting), flip, colour jitter, and encode the boxes."""
    w, h = input_size
    gw, gh = w // STRIDE, h // STRIDE
    n = len(samples)
    images = np.empty((n, h, w, 3), np.uint8)
    heat = np.zeros((n, 1, gh, gw), np.float32)
    size = np.zeros((n, 2, gh, gw), np.float32)
    offset = np.zeros((n, 2, gh, gw), np.float32)
    mask = np.zeros((n, 1, gh, gw), np.float32)
    ys, xs = np.mgrid[0:gh, 0:gw]
    for i, s in enumerate(samples):
        boxed, scale, pad = letterbox(s.image, input_size)
        boxes = s.boxes * scale + np.tile(pad, 2)
        if augment:
            zoom = rng.uniform(0.75, 1.35)
            centre = np.array([w / 2, h / 2]) + rng.uniform(-0.15, 0.15, 2) * [w, h]
            m = np.array([[zoom, 0, w / 2 - zoom * centre[0]], [0, zoom, h / 2 - zoom * centre[1]]])
            boxed = cv2.warpAffine(boxed, m, (w, h), borderValue=(114, 114, 114))
            boxes = boxes * zoom + np.tile(m[:, 2], 2)
            if rng.random() < 0.5:
                boxed = boxed[:, ::-1]
                boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
        boxes = np.clip(boxes, 0, [w, h, w, h])
        boxes = boxes[((boxes[:, 2] - boxes[:, 0]) > 2) & ((boxes[:, 3] - boxes[:, 1]) > 2)]
        images[i] = boxed
        for x1, y1, x2, y2 in boxes:
            cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
            ix, iy = min(int(cx), gw - 1), min(int(cy), gh - 1)
            sigma = max(0.8, min(x2 - x1, y2 - y1) / STRIDE / 6)
            heat[i, 0] = np.maximum(heat[i, 0], np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2)))
            size[i, :, iy, ix] = np.log([x2 - x1, y2 - y1])
            offset[i, :, iy, ix] = [cx - ix, cy - iy]
            mask[i, 0, iy, ix] = 1.0
    inputs = preprocess(images)
    if augment:
        inputs = inputs * (1 + rng.uniform(-0.25, 0.25, (n, 1, 1, 1)).astype(np.float32)) + \
            rng.uniform(-0.25, 0.25, (n, 1, 1, 1)).astype(np.float32)
    return DetectorBatch(inputs, heat, size, offset, mask)


def detector_batches(samples: Iterable[FrameSample], batch_size: int, input_size: tuple[int, int],
                     seed: int = 0, shuffle: int = 128) -> Iterator[DetectorBatch]:
    """Endless augmented detector batches through a shuffle buffer."""
    rng = np.random.default_rng(seed)
    pool: list[FrameSample] = []
    for sample in samples:
        pool.append(sample)
        if len(pool) < shuffle:
            continue
        picks = sorted(rng.choice(len(pool), batch_size, replace=False), reverse=True)
        batch = [pool.pop(i) for i in picks]
        yield make_detector_batch(batch, input_size, rng)


def centernet_loss(heat: torch.Tensor, size: torch.Tensor, offset: torch.Tensor, batch: DetectorBatch) -> torch.Tensor:
    """Penalty-reduced focal loss on centres + 0.1 x L1 on log size + L1 on offsets, per centre."""
    device = heat.device
    target = torch.from_numpy(batch.heat).to(device)
    mask = torch.from_numpy(batch.mask).to(device)
    p = torch.sigmoid(heat).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    pos_loss = -(torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - p) * p**2 * (1 - target) ** 4 * (1 - pos)).sum()
    n = mask.sum().clamp(min=1)
    l1_size = (torch.abs(size - torch.from_numpy(batch.size).to(device)) * mask).sum() / n
    l1_offset = (torch.abs(offset - torch.from_numpy(batch.offset).to(device)) * mask).sum() / n
    return (pos_loss + neg_loss) / n + 0.1 * l1_size + l1_offset


def validate_detector(model: PersonDetector, images: list[np.ndarray], gt: dict, input_size: tuple[int, int]) -> dict:
    """Box AP of the detector (YOLO-layout decoding, as deployed) on ground-truth person boxes."""
    model.eval()
    record = replace(DEMO_DETECTOR, input_size=Size(*input_size))  # the shipped architecture, as deployed
    detector = NetworkDetector(TorchBackend(YoloLayout(model), output_names=("output",), device=device_of(model)),
                               record, conf=0.05)
    return detector_ap(detector, images, gt)


def train_detector(model: PersonDetector, train: Iterator[DetectorBatch], cfg: TrainConfig, out_dir: str | Path,
                   validation: tuple[list[np.ndarray], dict], input_size: tuple[int, int], resume: bool = True,
                   progress: bool = True) -> History:
    """Train the detector (see ``loop.fit``: checkpoints and resume); ``best.pth`` keeps the best box AP50."""
    def loss(m: PersonDetector, batch: DetectorBatch) -> torch.Tensor:
        heat, size, offset = m(torch.from_numpy(batch.inputs).to(device_of(m), non_blocking=True))
        return centernet_loss(heat, size, offset, batch)

    return fit(model, train, loss, cfg, out_dir, lambda m: validate_detector(m, *validation, input_size), "AP50",
               resume, progress)


def boxes_ground_truth(images: list[np.ndarray], boxes: list[np.ndarray]) -> dict:
    """COCO box ground truth from per-image (N, 4) x1, y1, x2, y2 arrays (image ids = list positions)."""
    anns: list[dict] = []
    for i, image_boxes in enumerate(boxes):
        for x1, y1, x2, y2 in np.asarray(image_boxes, np.float64).reshape(-1, 4):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "iscrowd": 0,
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})
    return {"images": [{"id": i, "width": im.shape[1], "height": im.shape[0]} for i, im in enumerate(images)],
            "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
