"""Training: targets, augmentation, file datasets, a few steps that lower the loss, resume."""

import itertools
import json

import cv2
import numpy as np
import pytest
import torch
from conftest import tiny_extra

from posetrack.cli import main
from posetrack.errors import PosetrackError
from posetrack.heatmaps import decode
from posetrack.models import DEMO_POSE
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.detector import PersonDetector
from posetrack.models.hrnet import HRNet, hrnet
from posetrack.skeleton import COCO17, POSETRACK17
from posetrack.synth.samples import PersonSample, frame_samples, person_samples
from posetrack.train.data import NO_AUGMENT, Augment, coco_person_samples, make_batch
from posetrack.train.detector_trainer import (
    boxes_ground_truth,
    make_detector_batch,
    train_detector,
)
from posetrack.train.loop import TrainConfig
from posetrack.train.pose_trainer import train_pose
from posetrack.train.targets import gaussian_heatmaps


def test_targets_peak_at_subpixel_centres():
    kp = np.array([[[20.6, 30.2], [-40.0, 10.0]]], np.float32)
    heat, weights = gaussian_heatmaps(kp, np.ones((1, 2)), (24, 32), 4.0)
    assert heat.shape == (1, 2, 32, 24) and weights.tolist() == [[1.0, 0.0]]  # the second lies far outside
    coords, _ = decode(heat[:, :1], "dark", blur_sigma=0)
    np.testing.assert_allclose(coords[0, 0] * 4, kp[0, 0], atol=1e-3)
    assert heat[0, 1].max() == 0


def test_flip_augmentation_swaps_joints_consistently():
    sample = next(person_samples(seed=2))
    rng = np.random.default_rng(0)
    plain = make_batch([sample], (96, 128), POSETRACK17, rng, NO_AUGMENT)
    flipped = make_batch([sample], (96, 128), POSETRACK17, rng, Augment(0, 0, 0, 0, flip_prob=1.0, colour=0))
    expected = plain.keypoints[0][POSETRACK17.flip_permutation()]
    expected[:, 0] = 95 - expected[:, 0]
    np.testing.assert_allclose(flipped.keypoints[0], expected, atol=1e-4)
    np.testing.assert_allclose(flipped.inputs[0], plain.inputs[0][..., ::-1], atol=1e-6)


def _fixed(batch):
    return itertools.repeat(batch)


@pytest.mark.slow
def test_pose_steps_lower_the_loss_and_resume(tmp_path):
    torch.manual_seed(0)
    model = HRNet.from_official_config(tiny_extra()).init_weights()
    samples = list(itertools.islice(person_samples(seed=1), 8))
    batch = make_batch(samples, (96, 128), POSETRACK17, np.random.default_rng(0), NO_AUGMENT)
    cfg = TrainConfig(steps=40, lr=3e-3, warmup=5, val_every=1000)
    history = train_pose(model, _fixed(batch), cfg, tmp_path, progress=False)
    assert np.mean(history.loss[-5:]) < 0.7 * np.mean(history.loss[:5])
    assert (tmp_path / "last.pth").is_file()
    more = train_pose(model, _fixed(batch), TrainConfig(steps=45, lr=3e-3, warmup=5, val_every=1000), tmp_path,
                      progress=False)
    assert len(more.loss) == 45  # resumed at step 40, not restarted


def test_detector_steps_lower_the_loss_validate_and_resume(tmp_path):
    torch.manual_seed(0)
    model = PersonDetector(widths=(8, 16, 32, 32, 32), head=16)
    frames = list(itertools.islice((f for f in frame_samples(seed=1) if len(f.boxes) >= 2), 4))
    batch = make_detector_batch(frames, (320, 192), np.random.default_rng(0), augment=False)
    assert batch.mask.sum() > 0 and batch.heat.max() == 1.0
    images = [f.image for f in frames[:2]]
    validation = (images, boxes_ground_truth(images, [f.boxes for f in frames[:2]]))
    cfg = TrainConfig(steps=25, lr=3e-3, warmup=2, val_every=25)
    history = train_detector(model, _fixed(batch), cfg, tmp_path, validation, (320, 192), progress=False)
    assert np.mean(history.loss[-3:]) < 0.7 * np.mean(history.loss[:3])
    assert [v["step"] for v in history.val] == [25] and 0 <= history.val[0]["AP50"] <= 1
    assert (tmp_path / "best.pth").is_file() and (tmp_path / "last.pth").is_file()
    more = train_detector(model, _fixed(batch), TrainConfig(steps=28, lr=3e-3, warmup=2, val_every=100), tmp_path,
                          validation, (320, 192), progress=False)
    assert len(more.loss) == 28 and len(more.val) == 2  # resumed at step 25; validated again at the end


def test_coco_dataset(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((100, 120, 3), np.uint8))
    kp = np.zeros((17, 3))
    kp[5] = [40, 30, 2]
    kp[6] = [60, 30, 1]
    anns = {"images": [{"id": 7, "file_name": "a.jpg"}, {"id": 8, "file_name": "missing.jpg"}],
            "annotations": [{"id": 1, "image_id": 7, "keypoints": kp.ravel().tolist(), "num_keypoints": 2,
                             "bbox": [30, 20, 40, 70], "iscrowd": 0},
                            {"id": 2, "image_id": 7, "keypoints": kp.ravel().tolist(), "num_keypoints": 2,
                             "bbox": [0, 0, 9, 9], "iscrowd": 1},
                            {"id": 3, "image_id": 8, "keypoints": kp.ravel().tolist(), "num_keypoints": 2,
                             "bbox": [0, 0, 9, 9], "iscrowd": 0}]}
    (tmp_path / "ann.json").write_text(json.dumps(anns))
    stream = coco_person_samples(tmp_path / "ann.json", tmp_path, repeat=False)
    first = next(stream)
    assert isinstance(first, PersonSample) and first.box.tolist() == [30, 20, 70, 90]
    assert first.visibility[5] == 2 and first.keypoints.shape == (17, 2)
    with pytest.raises(PosetrackError, match=r"missing\.jpg"):
        next(stream)  # the crowd annotation is skipped; the next image is missing
    batch = make_batch([first], (96, 128), COCO17, np.random.default_rng(0))
    assert batch.weights[0].sum() <= 2


@pytest.mark.slow
def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    """`train --init`: the run starts from the shipped weights (one step later it still validates like a trained
    model and its parameters barely moved), not from the random initialisation."""
    out = tmp_path / "tuned"
    argv = ["train", "pose", "--out", str(out), "--init", str(DEMO_POSE.weights), "--steps", "1", "--val-every", "1",
            "--lr", "1e-7", "--batch", "4", "--input-size", "x".join(map(str, DEMO_POSE.input_size[::-1]))]
    assert main(argv) == 0
    assert json.loads((out / "history.json").read_text())["val"][0]["AP"] > 0.5  # an untrained network scores ~0
    start = dict(load_checkpoint(hrnet("demo", 17), DEMO_POSE.weights).named_parameters())
    tuned = torch.load(out / "best.pth", weights_only=True)
    assert max(float((tuned[k] - p.detach()).abs().max()) for k, p in start.items()) < 1e-5


def test_fine_tuning_from_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["train", "pose", "--out", str(tmp_path / "run"), "--init", str(tmp_path / "nope.pth")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.pth" in err[0] and "no such file" in err[0]


@pytest.mark.gpu
def test_a_pose_training_step_on_cuda(tmp_path):
    from posetrack.models.hrnet import hrnet
    from posetrack.skeleton import POSETRACK17
    from posetrack.synth import preset
    from posetrack.synth.samples import person_samples
    from posetrack.train.data import batches
    from posetrack.train.loop import TrainConfig
    from posetrack.train.pose_trainer import train_pose

    model = hrnet("demo")
    samples = person_samples(seed=0, configs=[preset("easy", frames=20)])
    history = train_pose(model, batches(samples, 4, (96, 128), POSETRACK17, seed=0),
                         TrainConfig(steps=2, val_every=100, device="cuda"), tmp_path, progress=False)
    assert len(history.loss) == 2 and next(model.parameters()).is_cuda
