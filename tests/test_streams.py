"""Each network stage's device work inside its own CUDA stream (``device.streams``), checked with fake streams."""


import torch

from posetrack.backends import TorchBackend
from posetrack.pose import TopDownConfig, TopDownEstimator
from posetrack.skeleton import POSETRACK17


def test_each_network_stage_runs_inside_its_own_stream(tiny_model):
    """The stream hand-off logic with fake streams: detect work inside the detect stream, pose work (and the
    re-detection) inside the pose stream, each from its own stage thread."""
    import threading
    from contextlib import contextmanager

    from posetrack.detect import GroundTruthDetections
    from posetrack.device.streams import Handoff, stage_streams
    from posetrack.pipeline import Pipeline
    from posetrack.synth import SyntheticVideo, preset
    from posetrack.track import PoseTracker

    seen = []

    class FakeStream:
        def __init__(self):
            self.waited = []

        def wait_event(self, event):
            self.waited.append(event)

    streams = []

    @contextmanager
    def enter(stream):
        seen.append((streams.index(stream), threading.current_thread().name))
        yield

    def make():
        streams.append(FakeStream())
        return streams[-1]

    context = stage_streams(torch.device("cpu"), make_stream=make, enter=enter)
    assert stage_streams(torch.device("cpu")) is None  # on a CPU: no streams at all
    video = list(SyntheticVideo(preset("easy", frames=6, size=(320, 192)), 1))
    estimator = TopDownEstimator(TorchBackend(tiny_model), config=TopDownConfig((96, 128), POSETRACK17))
    pipeline = Pipeline(GroundTruthDetections([t.boxes for _, t in video]), estimator, PoseTracker(),
                        stage_context=context)
    assert len(list(pipeline.run(f for f, _ in video))) == 6
    assert {(s, t) for s, t in seen} <= {(0, "posetrack-detect"), (1, "posetrack-pose"), (1, "posetrack-track")}
    assert sum(s == 0 for s, _ in seen) == 6 and sum(s == 1 for s, _ in seen) >= 6

    class FakeEvent:
        def record(self, stream):
            self.on = stream

    made = Handoff.made_on("tensor", streams[0], FakeEvent())
    assert made.event.on is streams[0] and made.take(streams[1]) == "tensor"
    assert streams[1].waited == [made.event]
