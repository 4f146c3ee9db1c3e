"""The synthetic world: procedural multi-person video with exact PoseTrack ground truth."""

from posetrack.synth.scene import MIN_VISIBLE, PRESETS, FrameTruth, SceneConfig, SyntheticVideo, preset

__all__ = ["MIN_VISIBLE", "PRESETS", "FrameTruth", "SceneConfig", "SyntheticVideo", "preset"]
