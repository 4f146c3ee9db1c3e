"""Synthetic clips on disk: ``<name>.mp4`` plus ``<name>.json`` ground truth in PoseTrack 2018 form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from posetrack.io.posetrack_json import PoseTrackFrame, PoseTrackSequence, write_sequence
from posetrack.io.video import VideoWriter
from posetrack.skeleton import POSETRACK17
from posetrack.synth.scene import PRESETS, FrameTruth, SceneConfig, SyntheticVideo


def sequence_name(preset: str | None, seed: int) -> str:
    """A poseval-valid sequence name: one digit for the preset (9 = custom), five for the seed."""
    digit = list(PRESETS).index(preset) + 1 if preset in PRESETS else 9
    return f"{digit}{seed % 100_000:05d}_mpii_test"


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
        with VideoWriter(video_path, config.size, config.fps) as video:
            for frame, truth in SyntheticVideo(config, seed):
                video.write(frame.image)
                frames.append(truth_to_posetrack(truth))
                if progress:
                    progress(1)
    finally:
        if frames:
            write_sequence(PoseTrackSequence(name, *config.size, frames), json_path)
    return video_path, json_path
