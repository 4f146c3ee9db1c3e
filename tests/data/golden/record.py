"""Record ``crossing-seed5-60.json``: ``posetrack run`` at K = 1 (demo models, ONNX Runtime, the detector on every
frame) on 60 frames of the synthetic crossing clip, seed 5, as ``tests/test_keyframes.py`` replays it.

Recorded when the keyframe policy moved into ``track.follow`` (the run path's redesign: the recording before and
after it were equal), and again when the tracker changed on purpose (the real-footage tracker). Re-record only for
such a change, and say so in its commit:

    python tests/data/golden/record.py
"""

from __future__ import annotations

import json
from pathlib import Path

GOLDEN = Path(__file__).with_name("crossing-seed5-60.json")


def k1_results() -> list:
    """The ``FrameResult`` of every frame of the clip, from ``create_pipeline`` at K = 1."""
    from posetrack import create_pipeline
    from posetrack.synth import SyntheticVideo, preset

    pipeline = create_pipeline("demo", "demo", device="cpu", runtime__backend="ort")
    return list(pipeline.run([f for f, _ in SyntheticVideo(preset("crossing", frames=60), seed=5)]))


def record() -> None:
    rows = [{"frame": i, "keyframe": r.keyframe, "ids": r.poses.track_ids.tolist(),
             "boxes": r.poses.boxes.round(2).tolist(), "keypoints": r.poses.keypoints.round(2).tolist()}
            for i, r in enumerate(k1_results())]
    GOLDEN.write_text(json.dumps({"k1": rows}) + "\n")


if __name__ == "__main__":
    record()
