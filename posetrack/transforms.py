"""Person box → affine crop at the model's input size, and model coordinates back to image pixels.

Conventions follow the official HRNet code: a box is grown to the model's aspect ratio, padded by 1.25,
and mapped isotropically onto the input so that its centre lands on the input centre (no half-pixel
offset). Sizes here are in pixels (the official code divides them by ``pixel_std = 200``).
All functions are vectorised over N boxes; matrices are (N, 2, 3) float64 mapping ``[x, y, 1]``.

``preprocess`` is the ImageNet normalisation every HRNet config (and the shipped detector) applies to its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

# ImageNet statistics of 0..255 RGB, as every HRNet config normalises its input.
MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255


@dataclass(frozen=True)
class Preprocess:
    """How uint8 BGR pixels become a network's float32 input: ``(pixel - mean) / std`` per channel, in the
    channel order the network reads, and, for a detector, how a frame is letterboxed into its input.

    Attributes:
        channels: ``"rgb"`` (the channels reversed from OpenCV's BGR) or ``"bgr"`` (as decoded).
        mean / std: per channel, in 0..255 units and in ``channels`` order (std 255 and mean 0: pixels / 255).
        placement: where the resized frame sits in a letterboxed input: ``"centre"`` (YOLO: padded evenly on both
            sides) or ``"top-left"`` (MMDetection's Pad: padded on the right and bottom).
        fill: the letterbox padding value (0..255, before normalisation).
    """

    channels: Literal["rgb", "bgr"] = "rgb"
    mean: tuple[float, float, float] = tuple(MEAN_RGB.tolist())
    std: tuple[float, float, float] = tuple(STD_RGB.tolist())
    placement: Literal["centre", "top-left"] = "centre"
    fill: int = 114

    def __post_init__(self) -> None:
        if self.channels not in ("rgb", "bgr") or self.placement not in ("centre", "top-left"):
            raise ValueError(f"preprocessing: channels {self.channels!r} / placement {self.placement!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0 or not 0 <= self.fill <= 255:
            raise ValueError(f"preprocessing: mean {self.mean}, std {self.std} (3 each, std > 0), fill {self.fill}")

    def __call__(self, images_bgr: np.ndarray) -> np.ndarray:
        """(N, h, w, 3) uint8 BGR → (N, 3, h, w) float32 network input."""
        x = (images_bgr[..., ::-1] if self.channels == "rgb" else images_bgr).astype(np.float32)
        x -= np.asarray(self.mean, np.float32)
        x /= np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def describe(self) -> dict:
        """The settings as JSON-able values (cache keys are digests of them)."""
        return {"channels": self.channels, "mean": list(self.mean), "std": list(self.std),
                "placement": self.placement, "fill": self.fill}


IMAGENET = Preprocess()  # HRNet configs and the shipped detector


def preprocess(crops_bgr: np.ndarray) -> np.ndarray:
    """(N, h, w, 3) uint8 BGR crops → (N, 3, h, w) float32 network input (RGB, ImageNet-normalised)."""
    return IMAGENET(crops_bgr)


def boxes_to_center_size(boxes: np.ndarray, aspect_ratio: float, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """Grow boxes to ``aspect_ratio`` (width / height) around their centres, then scale by ``padding``.

    Args:
        boxes: (N, 4) x1, y1, x2, y2 in image pixels.
        aspect_ratio: model input width / height (0.75 for 256x192).
        padding: extra context around the box.
    Returns:
        centers (N, 2) and sizes (N, 2) (width, height), float64 image pixels.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    centers = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-3)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-3)
    w, h = np.maximum(w, h * aspect_ratio), np.maximum(h, w / aspect_ratio)
    return centers, np.stack([w, h], axis=1) * padding


def crop_matrices(centers: np.ndarray, sizes: np.ndarray, output_size: tuple[int, int],
                  rotation: np.ndarray | None = None) -> np.ndarray:
    """Affine maps image → crop: the region (centre, size) fills an ``output_size`` (w, h) crop.

    Args:
        centers: (N, 2) image pixels.
        sizes: (N, 2) region width/height in image pixels (the width sets the scale, as officially).
        output_size: (width, height) of the crop.
        rotation: optional (N,) degrees; the region is rotated by this angle before cropping
            (the official augmentation convention).
    Returns:
        (N, 2, 3) float64.
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    scale = output_size[0] / np.asarray(sizes, dtype=np.float64).reshape(-1, 2)[:, 0]
    theta = np.zeros(len(centers)) if rotation is None else np.deg2rad(np.asarray(rotation, dtype=np.float64))
    cos, sin = np.cos(theta) * scale, np.sin(theta) * scale
    m = np.empty((len(centers), 2, 3))
    # crop = s * R(-theta) (p - c) + crop_centre
    m[:, 0, 0], m[:, 0, 1] = cos, sin
    m[:, 1, 0], m[:, 1, 1] = -sin, cos
    m[:, :, 2] = np.array(output_size, dtype=np.float64) / 2 - np.einsum("nij,nj->ni", m[:, :, :2], centers)
    return m


def invert_affine(matrices: np.ndarray) -> np.ndarray:
    """(N, 2, 3) → (N, 2, 3) inverse maps."""
    linear = np.linalg.inv(matrices[:, :, :2])
    return np.concatenate([linear, -np.einsum("nij,nj->ni", linear, matrices[:, :, 2])[:, :, None]], axis=2)


def apply_affine(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Map (N, K, 2) points with (N, 2, 3) matrices; returns (N, K, 2) in the points' dtype."""
    out = np.einsum("nij,nkj->nki", matrices[:, :, :2], points) + matrices[:, None, :, 2]
    return out.astype(points.dtype, copy=False)


def warp_crops(image: np.ndarray, matrices: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Cut N crops from ``image`` (H, W, C) uint8 with bilinear sampling; returns (N, h, w, C) uint8.

    Pixels outside the image are black (zero), as in the official pipeline.
    """
    w, h = output_size
    out = np.empty((len(matrices), h, w, image.shape[2]), dtype=image.dtype)
    for i, m in enumerate(matrices):
        cv2.warpAffine(image, m, (w, h), dst=out[i], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return out


def letterbox(image: np.ndarray, size: tuple[int, int], fill: int = 114,
              placement: str = "centre") -> tuple[np.ndarray, float, np.ndarray]:
    """Resize keeping the aspect ratio and pad to ``size`` (width, height): centred (the YOLO convention) or at the
    top left (MMDetection's Pad, which pads on the right and bottom).

    Returns:
        (h, w, 3) uint8 image, scale (input px per image px), pad (2,) float64 (x, y) offset in input pixels.
    """
    w, h = size
    scale = min(w / image.shape[1], h / image.shape[0])
    nw, nh = round(image.shape[1] * scale), round(image.shape[0] * scale)
    out = np.full((h, w, 3), fill, np.uint8)
    x0, y0 = (int(round((w - nw) / 2 - 0.1)), int(round((h - nh) / 2 - 0.1))) if placement == "centre" else (0, 0)
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, scale, np.array([x0, y0], np.float64)


def pose_boxes(keypoints: np.ndarray, scores: np.ndarray, threshold: float = 0.3, expansion: float = 1.25,
               min_joints: int = 3) -> np.ndarray:
    """Person boxes made from poses, the way the real-time trackers (MMDeploy's, rtmlib's) follow people between
    detections: the extent of the joints scoring at least ``threshold`` (all joints where fewer than ``min_joints``
    do), grown by ``expansion`` about its centre.

    Args:
        keypoints: (N, K, 2) image pixels. scores: (N, K).
    Returns:
        (N, 4) float32 x1, y1, x2, y2.
    """
    keypoints = np.asarray(keypoints, np.float32)
    if len(keypoints) == 0:
        return np.zeros((0, 4), np.float32)
    use = np.asarray(scores) >= threshold
    use[use.sum(1) < min_joints] = True
    big = np.float32(np.inf)
    lo = np.where(use[..., None], keypoints, big).min(1)
    hi = np.where(use[..., None], keypoints, -big).max(1)
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo) * expansion
    return np.concatenate([centre - half, centre + half], 1).astype(np.float32)
