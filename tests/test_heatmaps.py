"""Heatmap decoding: sub-pixel accuracy on known Gaussians, flip-back algebra."""

import numpy as np
import pytest

from posetrack.heatmaps import decode, flip_back, peaks
from posetrack.skeleton import COCO17, POSETRACK17


def gaussian_heatmaps(centers: np.ndarray, size=(48, 64), sigma=2.0) -> np.ndarray:
    """(N, K, 2) sub-pixel centres → (N, K, H, W) unit-peak Gaussians."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    dx = xs[None, None] - centers[..., 0, None, None]
    dy = ys[None, None] - centers[..., 1, None, None]
    return np.exp(-(dx**2 + dy**2) / (2 * sigma**2)).astype(np.float32)


@pytest.fixture
def true_centers(rng):
    return np.stack([rng.uniform(3, 44, (32, 17)), rng.uniform(3, 60, (32, 17))], axis=-1)


def test_argmax_with_quarter_shift(true_centers):
    coords, scores = decode(gaussian_heatmaps(true_centers), "argmax")
    assert coords.shape == (32, 17, 2) and coords.dtype == np.float32
    assert np.abs(coords - true_centers).max() <= 0.25 + 1e-6  # each axis within a quarter pixel
    assert np.abs(coords - true_centers).mean() < 0.15  # and better than plain argmax (mean 0.25)
    np.testing.assert_allclose(scores, 1.0, atol=0.15)


def test_dark_recovers_subpixel_peaks(true_centers, rng):
    coords, _ = decode(gaussian_heatmaps(true_centers), "dark", blur_sigma=0.0)
    assert np.linalg.norm(coords - true_centers, axis=-1).max() < 0.05
    # the default modulation blur is zero-padded: exact away from the border (>= 2 sigma)
    inner = np.stack([rng.uniform(4, 43, (32, 17)), rng.uniform(4, 59, (32, 17))], axis=-1)
    coords, _ = decode(gaussian_heatmaps(inner), "dark")
    assert np.linalg.norm(coords - inner, axis=-1).max() < 0.05


def test_dark_handles_noisy_heatmaps(true_centers, rng):
    hm = gaussian_heatmaps(true_centers) + rng.normal(0, 0.02, (32, 17, 64, 48)).astype(np.float32)
    dark, _ = decode(hm, "dark")
    plain, _ = decode(hm, "argmax")
    assert np.linalg.norm(dark - true_centers, axis=-1).mean() < np.linalg.norm(plain - true_centers, axis=-1).mean()


def test_border_and_empty_channels_do_not_move():
    hm = np.zeros((1, 2, 64, 48), np.float32)
    hm[0, 0, 0, 5] = 1.0  # peak on the border row
    hm[0, 0, 1, 5] = 0.5
    coords, scores = decode(hm, "argmax")
    np.testing.assert_array_equal(coords[0, 0], [5, 0])
    assert scores[0, 1] == 0 and np.all(np.isfinite(decode(hm, "dark")[0]))


def test_peaks_are_row_major():
    hm = np.zeros((1, 1, 4, 5), np.float32)
    hm[0, 0, 3, 2] = 1
    coords, _ = peaks(hm)
    np.testing.assert_array_equal(coords[0, 0], [2, 3])


@pytest.mark.parametrize("skeleton", [COCO17, POSETRACK17])
def test_flip_back_inverts_a_mirror(true_centers, skeleton):
    hm = gaussian_heatmaps(true_centers)
    mirrored = hm[:, skeleton.flip_permutation(), :, ::-1]
    np.testing.assert_array_equal(flip_back(mirrored, skeleton.flip_permutation(), shift=False), hm)


def test_flip_shift_moves_one_column_right():
    hm = np.arange(2 * 3 * 4, dtype=np.float32).reshape(1, 2, 3, 4)
    identity = np.arange(2)
    out = flip_back(hm, identity, shift=True)
    mirrored = hm[..., ::-1]
    np.testing.assert_array_equal(out[..., 1:], mirrored[..., :-1])
    np.testing.assert_array_equal(out[..., 0], mirrored[..., 0])


def test_flip_permutation_swaps_left_right():
    perm = COCO17.flip_permutation()
    for i, j in enumerate(perm):
        a, b = COCO17.joints[i], COCO17.joints[j]
        assert a.replace("left", "right") == b or b.replace("left", "right") == a or i == j
    assert sorted(perm) == list(range(17)) and perm[0] == 0
