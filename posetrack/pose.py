"""Top-down pose estimation: person boxes → crops → one batched network call → keypoints in the image.

``TopDownEstimator`` owns the model-side conventions (input size, normalisation, joint layout,
flip test, sub-pixel refinement); the network itself is any ``Backend``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from posetrack import heatmaps as hm
from posetrack.backends import Backend
from posetrack.skeleton import COCO17, Skeleton
from posetrack.transforms import apply_affine, boxes_to_center_size, crop_matrices, invert_affine, warp_crops
from posetrack.types import Poses

# ImageNet statistics of 0..255 RGB, as every HRNet config normalises its input.
MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255


def preprocess(crops_bgr: np.ndarray) -> np.ndarray:
    """(N, h, w, 3) uint8 BGR crops → (N, 3, h, w) float32 network input (RGB, ImageNet-normalised)."""
    x = crops_bgr[..., ::-1].astype(np.float32)
    x -= MEAN_RGB
    x /= STD_RGB
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@dataclass
class TopDownConfig:
    """Model-side settings of a top-down estimator.

    Attributes:
        input_size: network input (width, height), e.g. (192, 256).
        skeleton: joint layout of the network's output channels.
        padding: box enlargement before cropping (official 1.25).
        flip_test: also run mirrored crops (in the same batch) and average the heatmaps.
        shift_heatmap: the official one-column shift of flipped heatmaps.
        refine: ``"argmax"`` (official quarter-pixel) or ``"dark"``.
        input_name / output_name: backend tensor names.
    """

    input_size: tuple[int, int] = (192, 256)
    skeleton: Skeleton = COCO17
    padding: float = 1.25
    flip_test: bool = False
    shift_heatmap: bool = True
    refine: hm.Refine = "argmax"
    input_name: str = "input"
    output_name: str = "heatmaps"


def crop_batch(image: np.ndarray, boxes: np.ndarray, config: TopDownConfig) -> tuple[np.ndarray, np.ndarray]:
    """Network input for the persons in ``boxes`` ((N, 4) x1, y1, x2, y2 image pixels) of a BGR ``image``:
    (N, 3, H, W) float32 crops and the (N, 2, 3) image → crop affine matrices."""
    width, height = config.input_size
    centers, sizes = boxes_to_center_size(np.asarray(boxes, np.float32).reshape(-1, 4), width / height, config.padding)
    to_crop = crop_matrices(centers, sizes, config.input_size)
    return preprocess(warp_crops(image, to_crop, config.input_size)), to_crop


def preprocessing_description(config: TopDownConfig) -> dict:
    """Everything that decides the network input of a crop (calibration caches are keyed by it)."""
    return {"kind": "topdown-crop", "input_size": list(config.input_size), "padding": config.padding,
            "mean_rgb": MEAN_RGB.tolist(), "std_rgb": STD_RGB.tolist(), "channels": "rgb"}


class TopDownEstimator:
    """Estimate the poses of all given persons of an image in one network call.

    Args:
        backend: runs the heatmap network ((N, 3, H, W) → (N, K, H/4, W/4)).
        input_size: network input (width, height); shortcut for ``config.input_size``.
        config: the remaining settings (``TopDownConfig``).
    """

    def __init__(self, backend: Backend, input_size: tuple[int, int] | None = None, config: TopDownConfig | None = None):
        self.backend = backend
        self.config = config or TopDownConfig()
        if input_size is not None:
            self.config = replace(self.config, input_size=tuple(input_size))
        self._flip_perm = self.config.skeleton.flip_permutation()

    def estimate(self, image: np.ndarray, boxes: np.ndarray, box_scores: np.ndarray | None = None) -> Poses:
        """Poses of the persons in ``boxes``.

        Args:
            image: (H, W, 3) uint8 BGR.
            boxes: (N, 4) x1, y1, x2, y2 in image pixels.
            box_scores: (N,) detection scores (default 1).
        Returns:
            ``Poses`` with keypoints (N, K, 2) float32 in image pixels and peak-value scores (N, K).
        """
        cfg = self.config
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        box_scores = np.ones(len(boxes), np.float32) if box_scores is None else np.asarray(box_scores, np.float32)
        k = cfg.skeleton.num_joints
        if len(boxes) == 0:
            return Poses(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32), boxes, box_scores, cfg.skeleton)
        batch, to_crop = crop_batch(image, boxes, cfg)
        heatmaps = self.heatmaps(batch)
        coords, scores = hm.decode(heatmaps, cfg.refine)
        width, height = cfg.input_size
        stride = np.array([width / heatmaps.shape[3], height / heatmaps.shape[2]], dtype=np.float32)
        keypoints = apply_affine(coords * stride, invert_affine(to_crop))
        return Poses(keypoints, scores, boxes, box_scores, cfg.skeleton)

    def heatmaps(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) network input → (N, K, H/4, W/4) heatmaps, in one backend call.

        With flip test the mirrored crops ride in the same batch and their flipped-back heatmaps are
        averaged in.
        """
        cfg = self.config
        n = len(batch)
        if cfg.flip_test:
            batch = np.concatenate([batch, batch[..., ::-1]])
        out = self.backend.run({cfg.input_name: batch})[cfg.output_name]
        if not cfg.flip_test:
            return out
        return 0.5 * (out[:n] + hm.flip_back(out[n:], self._flip_perm, cfg.shift_heatmap))
