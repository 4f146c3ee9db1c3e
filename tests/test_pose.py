"""TopDownEstimator: exact geometry end to end, flip-test symmetry, batching, preprocessing."""

import numpy as np
import pytest
import torch
from torch import nn

from posetrack.backends import TorchBackend
from posetrack.heatmaps import flip_back
from posetrack.pose import TopDownConfig, TopDownEstimator
from posetrack.skeleton import COCO17
from posetrack.transforms import preprocess


class BlobNet(nn.Module):
    """A transparent 'network': every joint's heatmap is the input brightness at every 4th pixel, so the
    heatmap peak sits exactly where the brightest blob of the crop is (heatmap px i = input px 4i)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.mean(1, keepdim=True)[:, :, ::4, ::4]
        return (b - b.amin((2, 3), keepdim=True)).repeat(1, 17, 1, 1)


class CountingBackend(TorchBackend):
    def __init__(self, module):
        super().__init__(module)
        self.batches = []

    def run(self, inputs):
        self.batches.append(len(inputs["input"]))
        return super().run(inputs)


def blob_image(centers: np.ndarray, shape=(360, 640), sigma=5.0) -> np.ndarray:
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.zeros(shape, np.float64)
    for cx, cy in centers:
        img = np.maximum(img, np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2)))
    return np.repeat((img * 255).round().astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize("refine,tolerance", [("argmax", 1.0), ("dark", 0.05)])
def test_keypoints_land_on_the_blobs(refine, tolerance):
    blobs = np.array([[103.3, 152.7], [330.6, 110.2], [541.1, 260.9]])
    boxes = np.array([[60, 60, 160, 250], [280, 40, 380, 230], [500, 170, 600, 350]], np.float32)
    estimator = TopDownEstimator(CountingBackend(BlobNet()), config=TopDownConfig(refine=refine))
    poses = estimator.estimate(blob_image(blobs), boxes, np.array([0.9, 0.8, 0.7]))
    assert poses.keypoints.shape == (3, 17, 2) and poses.keypoints.dtype == np.float32
    assert estimator.backend.batches == [3]  # all persons in one call
    error = np.linalg.norm(poses.keypoints - blobs[:, None], axis=-1)
    assert error.max() < tolerance
    np.testing.assert_array_equal(poses.box_scores, np.float32([0.9, 0.8, 0.7]))


def test_flip_test_rides_in_one_batch_and_keeps_the_position():
    blobs = np.array([[210.4, 180.2]])
    estimator = TopDownEstimator(CountingBackend(BlobNet()), config=TopDownConfig(flip_test=True, refine="dark"))
    poses = estimator.estimate(blob_image(blobs), np.array([[150, 80, 270, 300]], np.float32))
    assert estimator.backend.batches == [2]
    # the official shift leaves a known quarter heatmap-pixel bias; well under a pixel here
    assert np.linalg.norm(poses.keypoints - blobs[:, None], axis=-1).max() < 0.6


def test_flip_test_is_mirror_symmetric(tiny_model, rng):
    """With flip test (no shift), the heatmaps of a mirrored crop are the flipped-back heatmaps of the crop."""
    est = TopDownEstimator(TorchBackend(tiny_model), (96, 128), TopDownConfig(flip_test=True, shift_heatmap=False))
    x = rng.standard_normal((2, 3, 128, 96), dtype=np.float32)
    direct = est.heatmaps(x)
    mirrored = est.heatmaps(np.ascontiguousarray(x[..., ::-1]))
    np.testing.assert_allclose(mirrored, flip_back(direct, COCO17.flip_permutation(), shift=False), atol=1e-5)


def test_no_boxes_no_inference():
    backend = CountingBackend(BlobNet())
    poses = TopDownEstimator(backend).estimate(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4)))
    assert len(poses) == 0 and poses.keypoints.shape == (0, 17, 2) and backend.batches == []


def test_preprocess_is_rgb_imagenet():
    crop = np.zeros((1, 2, 2, 3), np.uint8)
    crop[..., :] = (0, 128, 255)  # B, G, R
    x = preprocess(crop)
    assert x.shape == (1, 3, 2, 2) and x.dtype == np.float32 and x.flags.c_contiguous
    expected_rgb = (np.array([255, 128, 0]) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(x[0, :, 0, 0], expected_rgb, rtol=1e-5)
