"""The keyframe policy (``track.follow``): the exact schedule of ``--detect-every K``, each re-detection trigger,
the strict schedule of ``--redetect off``, the run summary's count of both, and K = 1 equal to a recording
(``data/golden/record.py``)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import validate

from posetrack.detect import GroundTruthDetections
from posetrack.options import KeyframeOptions, RuntimeOptions
from posetrack.pipeline import Pipeline
from posetrack.skeleton import POSETRACK17
from posetrack.synth import SyntheticVideo, preset
from posetrack.track import PoseTracker, Proposals, TrackUpdate
from posetrack.track.follow import SCHEDULED, Follower
from posetrack.types import TrackedPoses

sys.path.insert(0, str(Path(__file__).parent / "data" / "golden"))
from record import GOLDEN, k1_results


class Recording(GroundTruthDetections):
    """Ground-truth boxes, recording the frames the detector ran on."""

    def __init__(self, boxes):
        super().__init__(boxes)
        self.frames: list[int] = []

    def detect(self, frame):
        self.frames.append(frame.index)
        return super().detect(frame)


@pytest.fixture(scope="module")
def crossing():
    video = list(SyntheticVideo(preset("crossing", frames=24, size=(320, 192)), seed=4))
    return [f for f, _ in video], [t.boxes for _, t in video]


@pytest.fixture(scope="module")
def estimator():
    from posetrack.assemble import build_estimator
    from posetrack.options import Options

    return build_estimator(Options.demo(runtime__backend="ort"))


def run(frames, detector, estimator, **keyframes):
    pipeline = Pipeline(detector, estimator, PoseTracker(), KeyframeOptions(**keyframes),
                        runtime=RuntimeOptions(sequential=True))
    return pipeline, list(pipeline.run(frames))


def test_the_schedule_is_exactly_0_k_2k_with_redetection_off(crossing, estimator):
    frames, boxes = crossing
    for k in (2, 3, 5):
        detector = Recording(boxes)
        pipeline, results = run(frames, detector, estimator, every=k, redetect=False)
        assert detector.frames == list(range(0, len(frames), k))
        assert [r.keyframe for r in results] == [i % k == 0 for i in range(len(frames))]
        assert pipeline.follower.keyframes == len(range(0, len(frames), k)) and not pipeline.follower.extra
        assert all(len(r.poses) for r in results)  # people are followed between keyframes, by their poses


def test_extra_detections_are_the_triggers_and_counted_apart(crossing, estimator):
    frames, boxes = crossing
    detector = Recording(boxes)
    pipeline, results = run(frames, detector, estimator, every=4)
    scheduled = list(range(0, len(frames), 4))
    extra = sorted(set(detector.frames) - set(scheduled))
    assert set(scheduled) <= set(detector.frames) and len(detector.frames) == len(set(detector.frames))
    assert pipeline.follower.keyframes == len(scheduled)
    assert sum(pipeline.follower.extra.values()) == len(extra)
    assert [r.frame.index for r in results if r.keyframe] == sorted(detector.frames)


def test_nobody_to_follow_detects_every_frame_unless_the_schedule_is_strict(crossing, estimator):
    frames, _ = crossing
    empty = [np.zeros((0, 4), np.float32)] * len(frames)
    detector = Recording(empty)
    pipeline, _ = run(frames, detector, estimator, every=3)
    assert detector.frames == list(range(len(frames)))
    assert dict(pipeline.follower.extra) == {"nobody": len(frames) - len(range(0, len(frames), 3))}
    strict = Recording(empty)
    run(frames, strict, estimator, every=3, redetect=False)
    assert strict.frames == list(range(0, len(frames), 3))


def _update(ids, scores, kept=None):
    """A tracker update with one pose per id (all joints scoring ``scores``), proposing each for the next frame."""
    n = len(ids)
    boxes = np.tile(np.array([[10, 10, 50, 90]], np.float32), (n, 1))
    tracked = TrackedPoses(np.zeros((n, 17, 2), np.float32), np.full((n, 17), scores, np.float32), boxes,
                           np.ones(n, np.float32), POSETRACK17, np.array(ids, np.int64))
    proposals = Proposals(np.array(ids, np.int64), boxes, np.ones(n, np.float32))
    return TrackUpdate(tracked, np.arange(n) if kept is None else kept, proposals, Proposals.none())


def test_each_trigger_fires_on_what_it_names():
    image = np.full((96, 160, 3), 90, np.uint8)
    follower = Follower(KeyframeOptions(every=10, redetect_below=0.5))
    assert follower.plan(0, image, detected=True).detect == SCHEDULED
    follower.publish(0, _update([1, 2], 0.9), np.zeros(2, bool), keyframe=True)
    plan = follower.plan(1, image, detected=False)
    assert plan.detect is None and len(plan.look) == 2  # both followed at their proposals
    follower.publish(1, _update([1], 0.9), np.ones(1, bool), keyframe=False)  # person 2 lost
    assert follower.plan(2, image, detected=False).detect == "lost"
    follower.publish(2, _update([1, 2], 0.3), np.ones(2, bool), keyframe=False)  # found again, but unsure
    assert follower.plan(3, image, detected=False).detect == "weak"
    follower.publish(3, _update([1, 2], 0.9), np.ones(2, bool), keyframe=False)
    assert follower.plan(4, 255 - image, detected=False).detect == "scene-cut"  # a new shot
    follower.publish(4, _update([], 0.9), np.zeros(0, bool), keyframe=True)  # the detector found nobody there
    assert follower.plan(5, 255 - image, detected=False).detect == "nobody"
    assert dict(follower.extra) == {"lost": 1, "weak": 1, "scene-cut": 1, "nobody": 1}
    assert follower.keyframes == 1


def test_k1_equals_the_recorded_results():
    """``posetrack run`` at K = 1 (the demo models on a crossing clip, the detector on every frame, missed people
    recovered at their tracked boxes) gives the identities and poses recorded when the policy moved into
    ``track.follow`` (``tests/data/golden/record.py``; re-recorded only when the tracker changed on purpose)."""
    golden = json.loads(GOLDEN.read_text())["k1"]
    results = k1_results()
    assert len(results) == len(golden)
    for result, expected in zip(results, golden):
        assert result.keyframe and result.poses.track_ids.tolist() == expected["ids"]
        np.testing.assert_allclose(result.poses.boxes, np.array(expected["boxes"]).reshape(-1, 4), atol=0.05)
        np.testing.assert_allclose(result.poses.keypoints, np.array(expected["keypoints"]).reshape(-1, 17, 2),
                                   atol=0.05)


def test_the_run_summary_reports_keyframes_and_extra_detections(cli, clip_factory, tmp_path):
    video, _ = clip_factory("crossing", 20)
    r = cli("run", video, "--pose-model", "demo", "--detector", "demo", "--detect-every", "4", "--no-video", "--out",
            tmp_path, "--json", tmp_path / "summary.json")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    validate(summary, "run-summary")
    assert summary["keyframes"] == 5
    assert summary["detector_frames"] == summary["keyframes"] + sum(summary["extra_detections"].values())
    assert f"({summary['keyframes']} keyframes" in r.stdout
