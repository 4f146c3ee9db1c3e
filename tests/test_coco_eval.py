"""COCO keypoint and box AP equal pycocotools' COCOeval on the same data."""

import numpy as np
import pytest
from conftest import cocoeval

from posetrack.eval.coco import STAT_NAMES, evaluate_boxes, evaluate_keypoints
from posetrack.skeleton import COCO17


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    images, anns, kp_dets, box_dets = [], [], [], []
    for i in range(30):
        images.append({"id": i, "width": 640, "height": 480})
        for _ in range(rng.integers(0, 5)):
            c, s = rng.uniform(50, 600, 2), rng.uniform(20, 200)
            kp = np.concatenate([c + rng.normal(0, s / 3, (17, 2)), rng.integers(0, 3, (17, 1))], 1)
            kp[kp[:, 2] == 0, :2] = 0
            vis = kp[:, 2] > 0
            lo, hi = (kp[vis, :2].min(0), kp[vis, :2].max(0) + 1) if vis.any() else (c, c + 10)
            bbox = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "keypoints": kp.ravel().tolist(),
                         "num_keypoints": int(vis.sum()), "bbox": bbox, "area": float(s * s * rng.uniform(0.3, 1)),
                         "iscrowd": int(rng.random() < 0.05)})
            if rng.random() < 0.85:
                d = kp.copy()
                d[:, :2] = (kp[:, :2] if vis.any() else c) + rng.normal(0, rng.uniform(1, 15), (17, 2))
                d[:, 2] = 1
                kp_dets.append({"image_id": i, "category_id": 1, "keypoints": d.ravel().tolist(),
                                "score": float(rng.random())})
                jitter = rng.normal(0, 0.1, 4) * [bbox[2], bbox[3], bbox[2], bbox[3]]
                box_dets.append({"image_id": i, "category_id": 1, "bbox": (np.array(bbox) + jitter).tolist(),
                                 "score": float(rng.random())})
        for _ in range(rng.integers(0, 3)):  # false positives
            d = np.concatenate([rng.uniform(0, 640, (17, 2)), np.ones((17, 1))], 1)
            kp_dets.append({"image_id": i, "category_id": 1, "keypoints": d.ravel().tolist(), "score": float(rng.random())})
            box_dets.append({"image_id": i, "category_id": 1, "bbox": rng.uniform(0, 300, 4).tolist(),
                             "score": float(rng.random())})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}, kp_dets, box_dets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keypoint_ap_equals_cocoeval(seed):
    gt, kp_dets, _ = random_case(seed)
    ours = evaluate_keypoints(gt, kp_dets, COCO17.sigmas.astype(np.float64))
    reference = cocoeval(gt, kp_dets, "keypoints", COCO17.sigmas)
    np.testing.assert_allclose([ours[k] for k in STAT_NAMES], reference, atol=1e-12)


def test_box_ap50_equals_cocoeval():
    gt, _, box_dets = random_case(5)
    ours = evaluate_boxes(gt, box_dets)
    ref = cocoeval(gt, box_dets, "bbox")
    assert ours["AP"] == pytest.approx(ref[0], abs=1e-12)
    assert ours["AP50"] == pytest.approx(ref[1], abs=1e-12)
    assert ours["AP75"] == pytest.approx(ref[2], abs=1e-12)
