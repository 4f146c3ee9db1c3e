"""Where poses come from: top-down pose estimation (person boxes → crops → one batched network call → keypoints in
the image), or a file of poses another model made.

``TopDownEstimator`` owns the model-side conventions (input size, normalisation, joint layout, flip test,
sub-pixel refinement); the network itself is any ``Backend``. ``GivenPoses`` reads COCO keypoint results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from posetrack import heatmaps as hm
from posetrack.backends import Backend, DeviceBackend, TorchBackend
from posetrack.backends.base import device_path
from posetrack.device import crops as device_crops
from posetrack.device import is_cuda
from posetrack.device.frames import frame_on_device
from posetrack.device.pose_step import PoseStep
from posetrack.errors import PosetrackError
from posetrack.io.files import read_json
from posetrack.models.records import PoseRecord
from posetrack.skeleton import COCO17, SKELETONS, Skeleton
from posetrack.transforms import (
    IMAGENET,
    Preprocess,
    apply_affine,
    boxes_to_center_size,
    crop_matrices,
    invert_affine,
    pose_boxes,
    warp_crops,
)
from posetrack.types import Detections, Frame, Poses, Size


@dataclass(frozen=True)
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
        device_path: crops, network and decoding as device tensors (``posetrack.device``), only keypoints back
            to the host; needs a backend with ``run_torch``. None: when that backend's device is a GPU.
    """

    input_size: Size = Size(192, 256)
    skeleton: Skeleton = COCO17
    padding: float = 1.25
    flip_test: bool = False
    shift_heatmap: bool = True
    refine: hm.Refine = "argmax"
    input_name: str = "input"
    output_name: str = "heatmaps"
    device_path: bool | None = None
    preprocess: Preprocess = IMAGENET

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", Size(*self.input_size))

    @classmethod
    def from_record(cls, record: PoseRecord, flip_test: bool = False) -> TopDownConfig:
        """The settings a pose model record implies."""
        return cls(input_size=record.input_size, skeleton=record.skeleton, padding=record.padding,
                   flip_test=flip_test, refine=record.refine, output_name=record.output_name,
                   preprocess=record.preprocess)


def crop_transforms(boxes: np.ndarray, config: TopDownConfig) -> np.ndarray:
    """The (N, 2, 3) image → crop affine maps of the persons in ``boxes`` ((N, 4) x1, y1, x2, y2 image pixels)."""
    width, height = config.input_size
    centers, sizes = boxes_to_center_size(np.asarray(boxes, np.float32).reshape(-1, 4), width / height, config.padding)
    return crop_matrices(centers, sizes, config.input_size)


def crop_batch(image: np.ndarray, boxes: np.ndarray, config: TopDownConfig) -> tuple[np.ndarray, np.ndarray]:
    """Network input for the persons in ``boxes`` ((N, 4) x1, y1, x2, y2 image pixels) of a BGR ``image``:
    (N, 3, H, W) float32 crops and the (N, 2, 3) image → crop affine matrices."""
    to_crop = crop_transforms(boxes, config)
    return config.preprocess(warp_crops(image, to_crop, config.input_size)), to_crop


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
            self.config = replace(self.config, input_size=Size(*input_size))
        expected = network_input_size(backend)
        if expected is not None and expected != self.config.input_size:
            raise PosetrackError(f"input size {self.config.input_size.hxw} (height x width) does not match the "
                                 f"network's {expected.hxw}: sizes are Size(width, height); did you swap them?")
        self._flip_perm = self.config.skeleton.flip_permutation()
        device = device_path(self.backend, self.config.device_path)
        self.step = None if device is None else self._pose_step(device)

    def _pose_step(self, backend: DeviceBackend) -> PoseStep:
        """The device path's step. Over a PyTorch network with CUDA graphs it is captured whole (crops, network,
        decode: one graph per person bucket and frame size) around the bare network; over any other device
        backend it calls ``run_torch``, padded to the backend's buckets where it pads."""
        cfg = self.config
        if isinstance(backend, TorchBackend) and backend.graphs is not None:
            def network(x: torch.Tensor) -> torch.Tensor:
                return backend.forward(x)[backend.output_names.index(cfg.output_name)]
        else:
            def network(x: torch.Tensor) -> torch.Tensor:
                return backend.run_torch({cfg.input_name: x})[cfg.output_name]
        torch_backend = backend if isinstance(backend, TorchBackend) else None
        return PoseStep(network, backend.device, cfg.input_size, cfg.preprocess, cfg.refine,
                        self._flip_perm if cfg.flip_test else None, cfg.shift_heatmap,
                        buckets=torch_backend.buckets if torch_backend is not None and torch_backend.pad else None,
                        graphs=torch_backend is not None and torch_backend.graphs is not None)

    def warm_up(self, frame_size: tuple[int, int], max_persons: int) -> float:
        """Capture (or autotune) the device path for frames of ``frame_size`` (height, width) and up to
        ``max_persons`` persons, now; the seconds it took (0.0 where nothing runs on a GPU)."""
        if self.step is None or not is_cuda(self.step.device):
            return 0.0
        start = time.perf_counter()
        self.step.warm_up(frame_size, max_persons)
        return time.perf_counter() - start

    def estimate(self, image: np.ndarray | Frame, boxes: np.ndarray, box_scores: np.ndarray | None = None) -> Poses:
        """Poses of the persons in ``boxes``.

        Args:
            image: (H, W, 3) uint8 BGR, or the ``Frame`` (whose upload to the device, if a stage made one, is
                reused).
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
        if self.step is not None:
            return self._estimate_on_device(self.step, image, boxes, box_scores)
        if isinstance(image, Frame):
            image = image.image
        batch, to_crop = crop_batch(image, boxes, cfg)
        heatmaps = self.heatmaps(batch)
        coords, scores = hm.decode(heatmaps, cfg.refine)
        width, height = cfg.input_size
        stride = np.array([width / heatmaps.shape[3], height / heatmaps.shape[2]], dtype=np.float32)
        keypoints = apply_affine(coords * stride, invert_affine(to_crop))
        return Poses(keypoints, scores, boxes, box_scores, cfg.skeleton)

    def _estimate_on_device(self, step: PoseStep, image: np.ndarray | Frame, boxes: np.ndarray,
                            box_scores: np.ndarray) -> Poses:
        """``estimate`` with the frame uploaded once (or taken from the stage that did), and crops, network, flip
        merge and decoding on the device in one step; only keypoints and scores come back."""
        device = step.device
        on_device = frame_on_device(image, device) if isinstance(image, Frame) else device_crops.upload(image, device)
        found = step(on_device, invert_affine(crop_transforms(boxes, self.config)))
        return Poses(found[..., :2], found[..., 2], boxes, box_scores, self.config.skeleton)

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


def network_input_size(backend: Backend) -> Size | None:
    """The (width, height) a backend's network takes, where its file says (ONNX Runtime, TensorRT), else None."""
    shape = getattr(backend, "input_shape", None)
    if shape is None or len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape[2:]):
        return None
    return Size(int(shape[3]), int(shape[2]))


class GivenPoses:
    """Poses another model made, from COCO keypoint results (``[{"image_id", "keypoints": [x, y, score, ...],
    "score", "bbox"?}]``, ``image_id`` the 0-based frame index): ``posetrack run VIDEO --poses FILE``. It is both the
    run's detector (the poses' boxes) and its estimator (the poses at those boxes), so the tracker works on them
    alone: no network is built or fetched.

    Joints are COCO-17 in COCO's order, or PoseTrack-17 in PoseTrack's (``layout``); a keypoint's third value is its
    score. A person without ``bbox`` gets the box ``transforms.pose_boxes`` makes from the keypoints scoring at least
    0.3 (their extent grown by 1.25); ``score`` is the person's score (1 where missing).

    Raises:
        PosetrackError: a file that is no list of keypoint results, or an entry without ``image_id`` / ``keypoints``
            or with the wrong number of keypoint values (naming the entry).
    """

    def __init__(self, path: str | Path, layout: str | None = None):
        self.path, self.skeleton = Path(path), SKELETONS[layout or COCO17.name]
        self._frames: dict[int, Poses] = {}
        rows = read_json(self.path)
        if not isinstance(rows, list):
            raise PosetrackError(f"{self.path}: expected COCO keypoint results (a JSON list)")
        by_frame: dict[int, list[tuple[np.ndarray, float, list[float] | None]]] = {}
        k = self.skeleton.num_joints
        for n, row in enumerate(rows):
            try:
                index, values = int(row["image_id"]), np.asarray(row["keypoints"], np.float32)
                box = row.get("bbox")
                score = float(row.get("score", 1.0))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise PosetrackError(f"{self.path}: entry {n} is no keypoint result ({type(exc).__name__}: {exc})"
                                     ) from None
            if values.shape != (3 * k,) or index < 0 or not np.isfinite(values).all():
                raise PosetrackError(f"{self.path}: entry {n}: {values.size} keypoint values for image_id {index}; "
                                     f"{self.skeleton.name} has {3 * k} ({k} joints x, y, score)")
            by_frame.setdefault(index, []).append((values.reshape(k, 3), score, box))
        for index, people in by_frame.items():
            kp = np.stack([p[0][:, :2] for p in people])
            scores = np.stack([p[0][:, 2] for p in people])
            boxes = pose_boxes(kp, scores)
            for i, (_, _, box) in enumerate(people):
                if box is not None:
                    x, y, w, h = (float(v) for v in box)
                    boxes[i] = (x, y, x + w, y + h)
            self._frames[index] = Poses(kp, scores, boxes, np.array([p[1] for p in people], np.float32),
                                        self.skeleton)

    def detect(self, frame: Frame) -> Detections:
        """The boxes of ``frame``'s given poses, with their scores."""
        poses = self._frames.get(frame.index)
        return Detections.empty() if poses is None else Detections(poses.boxes, poses.box_scores)

    def estimate(self, image: np.ndarray | Frame, boxes: np.ndarray, box_scores: np.ndarray | None = None) -> Poses:
        """The given poses of the frame whose boxes ``boxes`` are (``detect``'s, in any order or number; a box that is
        no given pose's, such as one where a tracked person is looked for, has none)."""
        poses = self._frames.get(image.index) if isinstance(image, Frame) else None
        if poses is None or len(boxes) == 0:
            return Poses(np.zeros((0, self.skeleton.num_joints, 2), np.float32),
                         np.zeros((0, self.skeleton.num_joints), np.float32), np.zeros((0, 4), np.float32),
                         np.zeros(0, np.float32), self.skeleton)
        same = np.isclose(np.asarray(boxes, np.float32)[:, None], poses.boxes[None], atol=1e-3).all(-1)
        rows = [int(np.argmax(match)) for match in same if match.any()]
        return poses.take(np.array(rows, int))

    def warm_up(self, frame_size: tuple[int, int], max_persons: int) -> float:
        return 0.0
