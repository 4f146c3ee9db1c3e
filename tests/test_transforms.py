"""Box → crop affine maps and their inverses."""

import numpy as np
import pytest

from posetrack.transforms import (
    apply_affine,
    boxes_to_center_size,
    crop_matrices,
    invert_affine,
    warp_crops,
)


def test_center_size_fits_aspect_and_pads():
    boxes = np.array([[10, 20, 110, 420], [0, 0, 300, 100]], np.float32)  # tall, wide
    centers, sizes = boxes_to_center_size(boxes, aspect_ratio=0.75, padding=1.25)
    np.testing.assert_allclose(centers, [[60, 220], [150, 50]])
    np.testing.assert_allclose(sizes, [[300 * 1.25, 400 * 1.25], [300 * 1.25, 400 * 1.25]])
    np.testing.assert_allclose(sizes[:, 0] / sizes[:, 1], 0.75)


def test_box_maps_onto_crop_centre_and_edges():
    centers, sizes = boxes_to_center_size(np.array([[100, 50, 196, 178]]), 0.75, padding=1.0)
    m = crop_matrices(centers, sizes, (192, 256))
    corners = apply_affine(np.array([[[100.0, 50.0], [196.0, 178.0], [148.0, 114.0]]]), m)
    np.testing.assert_allclose(corners[0], [[0, 0], [192, 256], [96, 128]], atol=1e-9)


@pytest.mark.parametrize("rotation", [None, np.array([0.0, 30.0, -75.0, 180.0])])
def test_round_trip_below_hundredth_pixel(rng, rotation):
    boxes = np.concatenate([rng.uniform(0, 500, (4, 2)), rng.uniform(520, 900, (4, 2))], axis=1)
    centers, sizes = boxes_to_center_size(boxes, 0.75)
    m = crop_matrices(centers, sizes, (192, 256), rotation)
    points = rng.uniform(-100, 1000, (4, 17, 2)).astype(np.float32)
    back = apply_affine(apply_affine(points.astype(np.float64), m), invert_affine(m))
    assert np.abs(back - points).max() < 0.01


def test_rotation_turns_region(rng):
    m = crop_matrices(np.array([[50.0, 50.0]]), np.array([[40.0, 40.0]]), (40, 40), np.array([90.0]))
    # a point right of the centre in the image ends up above the crop centre under a 90° rotation
    out = apply_affine(np.array([[[60.0, 50.0]]]), m)[0, 0]
    np.testing.assert_allclose(np.abs(out - 20), [0, 10], atol=1e-9)


def test_warp_samples_the_box(rng):
    image = np.zeros((200, 300, 3), np.uint8)
    image[60:140, 100:160] = (10, 200, 30)  # a green rectangle
    centers, sizes = boxes_to_center_size(np.array([[100, 60, 160, 140]], np.float32), 0.75, padding=1.0)
    crops = warp_crops(image, crop_matrices(centers, sizes, (48, 64)), (48, 64))
    assert crops.shape == (1, 64, 48, 3) and crops.dtype == np.uint8
    assert (crops[0, 4:-4, 4:-4] == (10, 200, 30)).all()  # the box fills the crop (aspect already 0.75)
    outside = warp_crops(image, crop_matrices(np.array([[-500.0, -500.0]]), sizes, (48, 64)), (48, 64))
    assert outside.max() == 0  # outside the image is black
