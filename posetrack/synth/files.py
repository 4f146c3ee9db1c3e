"""Synthetic clips on disk: ``<name>.mp4`` plus ``<name>.json`` ground truth in PoseTrack 2018 form."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from posetrack.io.posetrack_json import PoseTrackFrame, PoseTrackSequence, write_sequence
from posetrack.io.video import VideoWriter
from posetrack.skeleton import POSETRACK17
from posetrack.synth.scene import PRESETS, FrameTruth, SceneConfig, SyntheticVideo


def clip_name(preset: str | None, seed: int) -> str:
    """A poseval-valid sequence name: one digit for the preset (9 = custom), five for the seed."""
    digit = list(PRESETS).index(preset) + 1 if preset in PRESETS else 9
    return f"{digit}{seed % 100_000:05d}_mpii_test"


def is_synthetic_clip(source: object) -> bool:
    """Whether ``source`` is a clip this project rendered (``write_clip``): a video named as ``clip_name`` names
    them, with its ground truth ``<name>.json`` beside it."""
    if not isinstance(source, (str, Path)):
        return False
    path = Path(source)
    return (path.is_file() and re.fullmatch(r"\d{6}_mpii_test", path.stem) is not None
            and path.with_suffix(".json").is_file())


def truth_to_posetrack(truth: FrameTruth) -> PoseTrackFrame:
    """Ground truth of a frame as a PoseTrack frame (flags: 2 visible, 1 occluded, 0 outside → absent)."""
    if truth.skeleton is not POSETRACK17:
        raise ValueError("PoseTrack files need the PoseTrack-17 layout")
    return PoseTrackFrame(truth.track_ids, truth.keypoints, truth.visibility, truth.boxes, head_boxes=truth.head_boxes)


def write_clip(config: SceneConfig, seed: int, out_dir: str | Path, name: str,
               progress: Callable[[int], None] | None = None) -> tuple[Path, Path]:
    """Render a clip to ``out_dir/<name>.mp4`` and its ground truth to ``out_dir/<name>.json``.

    If interrupted, the frames rendered so far are still written (video and JSON agree).
    """
    out_dir = Path(out_dir)
    frames: list[PoseTrackFrame] = []
    video_path, json_path = out_dir / f"{name}.mp4", out_dir / f"{name}.json"
    try:
        with VideoWriter(video_path, config.size, config.fps, codec="mp4v") as video:  # as the models were made on
            for frame, truth in SyntheticVideo(config, seed):
                video.write(frame.image)
                frames.append(truth_to_posetrack(truth))
                if progress:
                    progress(1)
    finally:
        if frames:
            write_sequence(PoseTrackSequence(name, *config.size, frames), json_path)
    return video_path, json_path


def coco_keypoints(config: SceneConfig, seed: int, skeleton=POSETRACK17, stride: int = 1) -> tuple[list, dict]:
    """Frames of a clip and their ground truth as a COCO keypoint dict (for OKS AP).

    ``area`` is the person's visible mask area (as COCO's segment area); ``num_keypoints`` counts visible and
    occluded joints. Returns (images: list of (H, W, 3) uint8, gt dict); image ids are frame indices.
    """
    images: list[np.ndarray] = []
    anns: list[dict] = []
    infos: list[dict] = []
    for frame, truth in SyntheticVideo(config, seed, skeleton=skeleton, masks=True):
        if frame.index % stride:
            continue
        images.append(frame.image)
        h, w = frame.image.shape[:2]
        infos.append({"id": frame.index, "width": w, "height": h, "file_name": f"{frame.index:06d}.jpg"})
        assert truth.masks is not None  # asked for with masks=True
        areas = np.bincount(truth.masks.ravel(), minlength=int(truth.track_ids.max(initial=0)) + 2)
        for k in range(len(truth)):
            vis = truth.visibility[k]
            kp = np.concatenate([truth.keypoints[k], vis[:, None]], 1) * (vis[:, None] > 0)
            x1, y1, x2, y2 = (float(v) for v in truth.boxes[k])
            anns.append({"id": len(anns) + 1, "image_id": frame.index, "category_id": 1, "iscrowd": 0,
                         "keypoints": [round(float(v), 2) for v in kp.ravel()], "num_keypoints": int((vis > 0).sum()),
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(areas[truth.track_ids[k] + 1]),
                         "track_id": int(truth.track_ids[k])})
    gt = {"images": infos, "annotations": anns, "categories": [{"id": 1, "name": "person", "keypoints": list(skeleton.joints)}]}
    return images, gt


def truth_detections(truth_json: str | Path) -> list[dict]:
    """The person boxes of a ground-truth PoseTrack file as COCO detection results (``image_id`` = 0-based frame
    index, score 1): what ``posetrack run --detections`` reads, to evaluate pose and tracking apart from detection."""
    data = json.loads(Path(truth_json).read_text())
    index = {img["id"]: i for i, img in enumerate(data["images"])}
    return [{"image_id": index[a["image_id"]], "category_id": 1, "bbox": a["bbox"], "score": 1.0}
            for a in data["annotations"]]
