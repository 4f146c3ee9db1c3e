"""Training data for the pose model: person samples from the synthetic world, COCO keypoint files or PoseTrack
files, augmented (scale, rotation, shift, flip with joint swap, colour) and batched with their heatmap targets."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import numpy as np

from posetrack.errors import PosetrackError
from posetrack.io.files import read_image, read_json
from posetrack.io.posetrack_json import read_sequence
from posetrack.skeleton import COCO17, POSETRACK17, Skeleton
from posetrack.synth.samples import PersonSample
from posetrack.train.targets import gaussian_heatmaps
from posetrack.transforms import apply_affine, boxes_to_center_size, crop_matrices, preprocess, warp_crops


@dataclass(frozen=True)
class Augment:
    """Random training transforms (the official recipe plus box-shift and colour jitter).

    Attributes:
        scale: box size is multiplied by a factor in [1 - scale, 1 + scale].
        rotation: degrees, applied with probability ``rotation_prob``.
        shift: box centre moves by up to this fraction of the box size (detector boxes are not centred).
        flip_prob: mirror the crop and swap left/right joints.
        colour: brightness/contrast jitter amplitude.
    """

    scale: float = 0.3
    rotation: float = 40.0
    rotation_prob: float = 0.6
    shift: float = 0.08
    flip_prob: float = 0.5
    colour: float = 0.25


NO_AUGMENT = Augment(scale=0.0, rotation=0.0, rotation_prob=0.0, shift=0.0, flip_prob=0.0, colour=0.0)


@dataclass
class PoseBatch:
    """inputs (B, 3, H, W) float32 normalised; heatmaps (B, K, H/4, W/4) float32; weights (B, K) float32;
    keypoints (B, K, 2) crop pixels; matrices (B, 2, 3) image → crop maps."""

    inputs: np.ndarray
    heatmaps: np.ndarray
    weights: np.ndarray
    keypoints: np.ndarray
    matrices: np.ndarray


def make_batch(samples: list[PersonSample], input_size: tuple[int, int], skeleton: Skeleton, rng: np.random.Generator,
               augment: Augment = Augment(), sigma: float = 2.0, padding: float = 1.25) -> PoseBatch:
    """Crop, augment and encode a list of person samples."""
    w, h = input_size
    n = len(samples)
    boxes = np.stack([s.box for s in samples])
    centers, sizes = boxes_to_center_size(boxes, w / h, padding)
    centers = centers + rng.uniform(-augment.shift, augment.shift, (n, 2)) * sizes
    sizes = sizes * np.clip(1 + rng.normal(0, augment.scale, (n, 1)), 1 - augment.scale, 1 + augment.scale)
    rotation = np.where(rng.random(n) < augment.rotation_prob,
                        np.clip(rng.normal(0, augment.rotation, n), -2 * augment.rotation, 2 * augment.rotation), 0.0)
    matrices = crop_matrices(centers, sizes, input_size, rotation)
    crops = np.empty((n, h, w, 3), np.uint8)
    for i, s in enumerate(samples):  # each sample may come from another image
        crops[i] = warp_crops(s.image, matrices[i : i + 1], input_size)[0]
    keypoints = apply_affine(np.stack([s.keypoints for s in samples]).astype(np.float64), matrices)
    weights = (np.stack([s.visibility for s in samples]) > 0).astype(np.float32)

    flip = rng.random(n) < augment.flip_prob
    if flip.any():
        crops[flip] = crops[flip][:, :, ::-1]
        keypoints[flip, :, 0] = w - 1 - keypoints[flip, :, 0]
        perm = skeleton.flip_permutation()
        keypoints[flip] = keypoints[flip][:, perm]
        weights[flip] = weights[flip][:, perm]
    inputs = preprocess(crops)
    if augment.colour:
        gain = 1 + rng.uniform(-augment.colour, augment.colour, (n, 1, 1, 1)).astype(np.float32)
        bias = rng.uniform(-augment.colour, augment.colour, (n, 1, 1, 1)).astype(np.float32)
        inputs = inputs * gain + bias
    heatmaps, weights = gaussian_heatmaps(keypoints, weights, (w // 4, h // 4), 4.0, sigma)
    return PoseBatch(inputs, heatmaps, weights, keypoints.astype(np.float32), matrices)


def batches(samples: Iterable[PersonSample], batch_size: int, input_size: tuple[int, int], skeleton: Skeleton,
            seed: int = 0, augment: Augment = Augment(), shuffle: int = 512) -> Iterator[PoseBatch]:
    """Endless augmented batches from a (possibly endless) sample stream.

    Samples pass through a shuffle buffer of ``shuffle`` entries, since consecutive samples of a stream come
    from the same clip.
    """
    rng = np.random.default_rng(seed)
    pool: list[PersonSample] = []
    stream = iter(samples)
    for sample in stream:
        pool.append(sample)
        if len(pool) < shuffle:
            continue
        picks = rng.choice(len(pool), batch_size, replace=False)
        batch = [pool[i] for i in picks]
        for i in sorted(picks, reverse=True):  # refill the picked slots from the stream
            pool[i] = pool[-1]
            pool.pop()
        yield make_batch(batch, input_size, skeleton, rng, augment)


def coco_person_samples(annotations: str | Path, images: str | Path, min_keypoints: int = 1,
                        repeat: bool = True) -> Iterator[PersonSample]:
    """Person samples of a COCO keypoint file (``person_keypoints_*.json``) and its image folder, COCO-17 layout.

    Crowd annotations and persons with fewer than ``min_keypoints`` labelled joints are skipped. The file is
    checked when read: a malformed entry is a ``PosetrackError`` naming the file and the entry.
    """
    annotations = Path(annotations)
    files, by_image = _coco_people(read_json(annotations), annotations, min_keypoints)
    ids = [i for i in files if i in by_image]
    if not ids:
        raise PosetrackError(f"{annotations}: no person with keypoints")
    for image_id in (cycle(ids) if repeat else ids):
        image = read_image(Path(images) / files[image_id])
        for box, kp in by_image[image_id]:
            yield PersonSample(image, box, kp[:, :2], kp[:, 2].astype(np.int8))


def _coco_people(data: object, path: Path, min_keypoints: int
                 ) -> tuple[dict[int, str], dict[int, list[tuple[np.ndarray, np.ndarray]]]]:
    """(file name per image id, [(box (4,) x1 y1 x2 y2, keypoints (17, 3) x y v)] per image id) of a COCO dict."""
    try:
        assert isinstance(data, dict), "not a COCO keypoint dict"
        files = {_image_id(img["id"]): _text(img["file_name"]) for img in data["images"]}
        by_image: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for k, ann in enumerate(data.get("annotations", [])):
            if ann.get("iscrowd", 0) or ann.get("num_keypoints", 0) < min_keypoints:
                continue
            kp = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
            x, y, w, h = np.asarray(ann["bbox"], np.float32).reshape(4)
            if not (np.isfinite(kp).all() and np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
                raise ValueError(f"annotation {k}: keypoints or bbox not finite, or bbox size not positive")
            by_image.setdefault(_image_id(ann["image_id"]), []).append((np.array([x, y, x + w, y + h]), kp))
    except KeyError as exc:
        raise PosetrackError(f"{path}: not a COCO keypoint file (no {exc} field)") from None
    except (AssertionError, AttributeError, TypeError, ValueError) as exc:
        raise PosetrackError(f"{path}: not a COCO keypoint file ({exc})") from None
    return files, by_image


def _image_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"image id {value!r} is not an integer")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"file name {value!r} is not text")
    return value


def posetrack_person_samples(annotations: str | Path, root: str | Path, repeat: bool = True) -> Iterator[PersonSample]:
    """Person samples of a PoseTrack 2018 file; frames are read from ``root / file_name``. PoseTrack-17 layout.

    Frames not labelled and persons without keypoints are skipped.
    """
    annotations = Path(annotations)
    seq = read_sequence(annotations)
    data = read_json(annotations)
    names = [img["file_name"] for img in data["images"]]
    labelled = [i for i, f in enumerate(seq.frames) if f.is_labeled and len(f) and (f.flags > 0).any()]
    if not labelled:
        raise PosetrackError(f"{annotations}: no labelled person")
    for i in (cycle(labelled) if repeat else labelled):
        frame = seq.frames[i]
        image = read_image(Path(root) / names[i])
        for k in range(len(frame)):
            if (frame.flags[k] > 0).any():
                yield PersonSample(image, frame.boxes[k].astype(np.float32), frame.keypoints[k].astype(np.float32),
                                   frame.flags[k])


SKELETON_OF_SOURCE = {"synthetic": POSETRACK17, "posetrack": POSETRACK17, "coco": COCO17}
