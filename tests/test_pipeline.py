"""The staged runtime: order under concurrency, equality with the sequential mode, errors, bounded read-ahead,
flat memory."""

import random
import resource
import time

import numpy as np
import pytest

from posetrack.backends import TorchBackend
from posetrack.detect import GroundTruthDetections
from posetrack.options import KeyframeOptions, RuntimeOptions, TrackerConfig
from posetrack.pipeline import Pipeline
from posetrack.pose import TopDownConfig, TopDownEstimator
from posetrack.skeleton import POSETRACK17
from posetrack.synth import SyntheticVideo, preset
from posetrack.track import PoseTracker
from posetrack.types import Detections, Frame


@pytest.fixture(scope="module")
def clip():
    frames, boxes = [], []
    for frame, truth in SyntheticVideo(preset("crossing", frames=30, size=(320, 192)), seed=4):
        frames.append(frame)
        boxes.append(truth.boxes)
    return frames, boxes


def _pipeline(tiny_model, detector, sequential=False, queue_size=4):
    estimator = TopDownEstimator(TorchBackend(tiny_model), config=TopDownConfig((96, 128), POSETRACK17))
    return Pipeline(detector, estimator, PoseTracker(), runtime=RuntimeOptions(sequential=sequential,
                                                                               queue_size=queue_size))


class JitteryDetector(GroundTruthDetections):
    """Ground-truth boxes after a random delay, so stages finish out of step."""

    def detect(self, frame):
        time.sleep(random.uniform(0, 0.01))
        return super().detect(frame)


def test_threaded_keeps_order_and_equals_sequential(tiny_model, clip):
    frames, boxes = clip
    threaded = list(_pipeline(tiny_model, JitteryDetector(boxes)).run(frames))
    sequential = list(_pipeline(tiny_model, GroundTruthDetections(boxes), sequential=True).run(frames))
    assert [r.frame.index for r in threaded] == list(range(len(frames)))
    for a, b in zip(threaded, sequential):
        np.testing.assert_array_equal(a.poses.track_ids, b.poses.track_ids)
        np.testing.assert_allclose(a.poses.keypoints, b.poses.keypoints, atol=1e-4)


def test_stage_error_stops_the_run(tiny_model, clip):
    frames, boxes = clip

    class Broken(GroundTruthDetections):
        def detect(self, frame):
            if frame.index == 5:
                raise RuntimeError("detector failed on frame 5")
            return super().detect(frame)

    done = []
    with pytest.raises(RuntimeError, match="frame 5"):
        for result in _pipeline(tiny_model, Broken(boxes)).run(frames):
            done.append(result.frame.index)
    assert done == list(range(len(done))) and len(done) <= 5


def test_read_ahead_is_bounded(tiny_model):
    pulled = []

    def source():
        for i in range(200):
            pulled.append(i)
            yield Frame(i, i / 25, np.zeros((96, 160, 3), np.uint8))

    run = _pipeline(tiny_model, GroundTruthDetections([]), queue_size=2).run(source())
    next(run)
    time.sleep(0.3)  # a slow consumer: the stages fill their queues and wait
    assert len(pulled) <= 2 * 4 + 5  # queues of 2 between 4 stages, plus one item in each worker
    run.close()


@pytest.mark.slow
def test_memory_stays_flat_on_a_long_stream(tiny_model):
    """RSS after 1500 frames is within a few MB of RSS after 300: nothing accumulates per frame."""
    rng = np.random.default_rng(0)
    boxes = np.array([[20, 10, 60, 90], [90, 15, 130, 95]], np.float32)

    def source():
        for i in range(1500):
            yield Frame(i, i / 25, rng.integers(0, 255, (96, 160, 3), np.uint8))

    class Fixed:
        def detect(self, frame):
            return Detections(boxes + rng.normal(0, 1, boxes.shape).astype(np.float32), np.ones(2, np.float32))

    rss = {}
    for result in _pipeline(tiny_model, Fixed()).run(source()):
        if result.frame.index in (300, 1499):
            rss[result.frame.index] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB
    assert rss[1499] - rss[300] < 20


@pytest.fixture(scope="module")
def clip_truth():
    return list(SyntheticVideo(preset("crossing", frames=14, size=(320, 192)), seed=4))


@pytest.mark.parametrize("recover", [True, False])
def test_missed_person_is_recovered_at_its_tracked_box(clip_truth, recover):
    from posetrack.assemble import build_estimator
    from posetrack.options import Options

    frames = [f for f, _ in clip_truth]
    truths = [t for _, t in clip_truth]
    target = truths[9].track_ids[0]
    # ground-truth boxes, except that the target person is missed in frames 10 and 11
    boxes = [t.boxes[(t.track_ids != target) | (t.index not in (10, 11))] for t in truths]
    tracker = PoseTracker(TrackerConfig(box="detector"))  # each output box is a ground-truth box: found by equality
    pipeline = Pipeline(GroundTruthDetections(boxes), build_estimator(Options.demo(runtime__backend="ort")), tracker,
                        KeyframeOptions(recover_score=0.5 if recover else None), runtime=RuntimeOptions(sequential=True))
    results = list(pipeline.run(frames))

    def track_of_target(t):
        row = np.flatnonzero(truths[t].track_ids == target)[0]
        return results[t].poses.track_ids[np.flatnonzero((results[t].poses.boxes == truths[t].boxes[row]).all(1))[0]]

    person = track_of_target(9)
    assert track_of_target(12) == person  # the same identity once detected again
    for t in (10, 11):
        ids = results[t].poses.track_ids
        assert (person in ids) == recover
        if recover:
            keypoints = results[t].poses.take(ids == person).keypoints[0]
            x1, y1, x2, y2 = truths[t].boxes[truths[t].track_ids == target][0]
            inside = (keypoints[:, 0] >= x1 - 5) & (keypoints[:, 0] <= x2 + 5) & (keypoints[:, 1] >= y1 - 5) & (
                keypoints[:, 1] <= y2 + 5)
            assert inside.mean() > 0.8  # the recovered pose is on the person the detector missed
            # nobody posed twice (a person whose pose collapsed onto the one in front may be left out)
            assert len(set(ids.tolist())) == len(ids) <= len(truths[t])
