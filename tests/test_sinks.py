"""Sinks and the run loop: every output is a context manager with ``write(result)``; the loop closes them on every
exit path and stops when a sink asks."""

import json

import cv2
import numpy as np
import pytest

from posetrack.io.coco_json import video_image_id
from posetrack.io.posetrack_json import SEQUENCE_NAME, read_sequence, sequence_name_for
from posetrack.io.sources import open_source
from posetrack.pipeline import StageTimes
from posetrack.sinks import CocoKeypointsSink, PoseTrackJsonSink, Sink, VideoSink
from posetrack.skeleton import COCO17, POSETRACK17
from posetrack.track.follow import Follower
from posetrack.track_video import track_video
from posetrack.types import Detections, Frame, FrameResult, TrackedPoses


def _result(index: int, people: int = 2, skeleton=POSETRACK17) -> FrameResult:
    rng = np.random.default_rng(index)
    kp = rng.uniform(20, 150, (people, 17, 2)).astype(np.float32)
    scores = np.full((people, 17), 0.8, np.float32)
    scores[:, 0] = 0.1  # below keep_score: left out of PoseTrack files
    boxes = np.concatenate([kp.min(1), kp.max(1)], 1)
    poses = TrackedPoses(kp, scores, boxes, np.ones(people, np.float32), skeleton, np.arange(people) + 10 * index)
    return FrameResult(Frame(index, index / 25, np.zeros((160, 200, 3), np.uint8)), Detections(boxes, np.ones(people)),
                       poses, fps=30.0)


def test_posetrack_json_sink_writes_a_poseval_file_on_close(tmp_path):
    path = tmp_path / "clip.json"
    with PoseTrackJsonSink(path, "000000_mpii_clip", (200, 160)) as sink:
        for i in range(3):
            sink.write(_result(i))
        assert not path.exists()  # finished only when closed
    seq = read_sequence(path)
    assert len(seq.frames) == 3 and (seq.width, seq.height) == (200, 160)
    assert seq.frames[2].track_ids.tolist() == [20, 21]
    assert (seq.frames[0].flags[:, 0] == 0).all() and (seq.frames[0].flags[:, 1:] > 0).all()


def test_a_sink_that_saw_no_frame_writes_nothing(tmp_path):
    with PoseTrackJsonSink(tmp_path / "a.json", "000000_mpii_a", (200, 160)), CocoKeypointsSink(tmp_path / "b.json"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_coco_sink_writes_coco_joints_in_coco_order_with_track_ids(tmp_path):
    path = tmp_path / "clip.coco.json"
    with CocoKeypointsSink(path) as sink:
        sink.write(_result(0, people=1, skeleton=COCO17))
        sink.write(_result(1, people=2, skeleton=COCO17))
    rows = json.loads(path.read_text())
    assert [(r["frame"], r["track_id"]) for r in rows] == [(0, 0), (1, 10), (1, 11)]
    assert [r["image_id"] for r in rows] == [video_image_id("clip", r["frame"]) for r in rows]
    assert all(len(r["keypoints"]) == 51 and r["category_id"] == 1 for r in rows)
    expected = _result(1, people=2, skeleton=COCO17).poses
    np.testing.assert_allclose(np.array(rows[1]["keypoints"]).reshape(17, 3)[:, :2], expected.keypoints[0], atol=0.01)
    assert rows[1]["score"] == pytest.approx(float(expected.scores[0].mean()))


def test_coco_sink_puts_a_posetrack_model_s_joints_in_coco_slots_and_leaves_the_eyes_out(tmp_path):
    path = tmp_path / "clip.coco.json"
    with CocoKeypointsSink(path) as sink:
        sink.write(_result(3, people=1, skeleton=POSETRACK17))
    (row,) = json.loads(path.read_text())
    triples = np.array(row["keypoints"]).reshape(17, 3)
    poses = _result(3, people=1, skeleton=POSETRACK17).poses
    for name in COCO17.joints:
        slot = COCO17.joints.index(name)
        if name in POSETRACK17.joints:  # nose, ears, body: the same joint, in COCO's slot, flagged 1
            np.testing.assert_allclose(triples[slot, :2], poses.keypoints[0, POSETRACK17.joints.index(name)], atol=0.01)
            assert triples[slot, 2] == 1
        else:  # the eyes: never predicted (slots 1-2 held head_bottom and head_top before)
            assert name.endswith("_eye") and triples[slot].tolist() == [0, 0, 0]
    shared = [POSETRACK17.joints.index(n) for n in COCO17.joints if n in POSETRACK17.joints]
    assert row["score"] == pytest.approx(float(poses.scores[0, shared].mean()))


def test_a_coco_model_s_head_joints_follow_posewarpers_rule():
    """PoseTrack JSON from a COCO-17 model: head_bottom is the shoulder midpoint, head_top mirrors it through the
    nose (PoseWarper's coco2posetrack); each scores the least of its sources; every other joint keeps its slot."""
    from posetrack.skeleton import coco_to_posetrack

    kp = np.zeros((1, 17, 2), np.float32)
    kp[0, 0] = (50, 40)  # nose
    kp[0, 1], kp[0, 2] = (45, 35), (55, 35)  # eyes: not used
    kp[0, 5], kp[0, 6] = (30, 80), (70, 84)  # shoulders: neck at (50, 82)
    kp[0, 7:] = np.arange(20).reshape(10, 2) + 100
    scores = np.linspace(0.1, 0.9, 17, dtype=np.float32)[None]
    out, out_scores = coco_to_posetrack(kp, scores)
    np.testing.assert_allclose(out[0, 1], (50, 82))
    np.testing.assert_allclose(out[0, 2], (50, -2))  # 40 - (82 - 40)
    assert out_scores[0, 1] == pytest.approx(min(scores[0, 5], scores[0, 6]))
    assert out_scores[0, 2] == pytest.approx(min(scores[0, 0], scores[0, 5], scores[0, 6]))
    np.testing.assert_array_equal(out[0, [0, 3, 4, *range(5, 17)]], kp[0, [0, 3, 4, *range(5, 17)]])


def test_coco_image_ids_of_two_videos_never_meet(tmp_path):
    ids = {video_image_id(stem, i) for stem in ("walk", "run") for i in range(1000)}
    assert len(ids) == 2000 and max(ids) < 2 ** 53
    with pytest.raises(ValueError, match="frame index"):
        video_image_id("walk", 1_000_000)


def test_video_sink_draws_every_frame(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoSink(path, (200, 160), 25.0) as sink:
        for i in range(4):
            sink.write(_result(i))
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    ok, image = capture.read()
    assert ok and image.max() > 100  # skeletons drawn on a black frame


class _Recorder(Sink):
    """Records what it is given; asks to stop after ``stop_after`` frames."""

    def __init__(self, stop_after: int | None = None):
        self.indices: list[int] = []
        self.closed = 0
        self.stop_after = stop_after

    def write(self, result):
        self.indices.append(result.frame.index)
        self.stop = self.stop_after is not None and len(self.indices) >= self.stop_after

    def close(self):
        self.closed += 1


class _Replay:
    """A pipeline stand-in that replays results of the frames it is given, failing at ``fail_at``."""

    label = "replayed results"
    warmup_s = 0.0

    def __init__(self, fail_at: int | None = None):
        self.times, self.fail_at, self.follower = StageTimes(), fail_at, Follower()

    def run(self, frames, queue_size=None):
        for frame in frames:
            if frame.index == self.fail_at:
                raise RuntimeError("stage failed")
            yield _result(frame.index)


@pytest.fixture(scope="module")
def clip(clip_factory):
    return clip_factory("easy", 8, (200, 160), seed=1)[0]


def test_run_loop_stops_when_a_sink_asks_and_closes_every_sink(clip):
    first, second = _Recorder(stop_after=3), _Recorder()
    summary = track_video(open_source(clip), _Replay(), [first, second], progress=False)
    assert summary.frames == 3 and first.indices == second.indices == [0, 1, 2]
    assert first.closed == second.closed == 1
    assert summary.persons == 6 and summary.tracks == 6


def test_run_loop_closes_the_sinks_when_a_stage_fails(clip, tmp_path):
    recorder = _Recorder()
    json_sink = PoseTrackJsonSink(tmp_path / "clip.json", "100001_mpii_test", (200, 160))
    with pytest.raises(RuntimeError, match="stage failed"):
        track_video(open_source(clip), _Replay(fail_at=5), [recorder, json_sink], progress=False)
    assert recorder.closed == 1 and recorder.indices == [0, 1, 2, 3, 4]
    assert len(read_sequence(tmp_path / "clip.json").frames) == 5  # the finished frames are kept


def _result_at(index: int, size: tuple[int, int]) -> FrameResult:
    result = _result(index)
    w, h = size
    result.frame = Frame(index, index / 25, np.full((h, w, 3), 40, np.uint8))
    return result


def test_streamed_json_is_byte_identical_to_writing_the_sequence_at_once(tmp_path):
    from posetrack.io.posetrack_json import PoseTrackSequence, poses_to_frame, write_sequence

    results = [_result(i, people=i % 3) for i in range(7)]
    with PoseTrackJsonSink(tmp_path / "a.json", "000000_mpii_clip", (200, 160)) as sink:
        for r in results:
            sink.write(r)
        assert (tmp_path / "a.json.journal").exists() and not (tmp_path / "a.json").exists()
    frames = [poses_to_frame(r.poses, 0.3) for r in results]
    write_sequence(PoseTrackSequence("000000_mpii_clip", 200, 160, frames), tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert not (tmp_path / "a.json.journal").exists()


def test_json_sink_fills_skipped_frames_and_records_each_frames_size(tmp_path):
    with PoseTrackJsonSink(tmp_path / "c.json", "000000_mpii_clip", (200, 160)) as sink:
        for index, size in [(0, (200, 160)), (3, (320, 240)), (4, (200, 160))]:
            sink.write(_result_at(index, size))
    data = json.loads((tmp_path / "c.json").read_text())
    assert [(i["width"], i["height"], i["is_labeled"]) for i in data["images"]] == [
        (200, 160, True), (200, 160, False), (200, 160, False), (320, 240, True), (200, 160, True)]
    assert {a["image_id"] for a in data["annotations"]} == {data["images"][i]["id"] for i in (0, 3, 4)}


def test_json_sink_continues_in_a_new_file_past_the_posetrack_frame_limit(tmp_path, monkeypatch):
    import posetrack.sinks

    monkeypatch.setattr(posetrack.sinks, "MAX_FRAMES", 4)
    with PoseTrackJsonSink(tmp_path / "long.json", "000000_mpii_long", (200, 160)) as sink:
        for i in range(10):
            sink.write(_result(i))
    assert sink.outputs == [tmp_path / "long.json", tmp_path / "long.4.json", tmp_path / "long.8.json"]
    lengths = [len(read_sequence(p).frames) for p in sink.outputs]
    assert lengths == [4, 4, 2]
    second = read_sequence(tmp_path / "long.4.json").frames[0]
    np.testing.assert_allclose(second.keypoints[0, 1:], _result(4).poses.keypoints[0, 1:], atol=0.006)


def test_recover_builds_the_files_a_killed_run_left_and_ignores_a_torn_last_line(tmp_path):
    from posetrack.sinks import recover

    json_sink = PoseTrackJsonSink(tmp_path / "k.json", "000000_mpii_k", (200, 160))
    coco_sink = CocoKeypointsSink(tmp_path / "k.coco.json")
    for i in range(5):
        json_sink.write(_result(i))
        coco_sink.write(_result(i))
    json_sink._journal.close()  # the process dies here: nothing finalised
    coco_sink._journal.close()
    with (tmp_path / "k.json.journal").open("a") as f:
        f.write('{"image": {"file_na')  # a line torn mid-write by the kill
    assert not (tmp_path / "k.json").exists()
    outputs, videos = recover(tmp_path)
    assert sorted(outputs) == [tmp_path / "k.coco.json", tmp_path / "k.json"] and videos == []
    assert len(read_sequence(tmp_path / "k.json").frames) == 5
    assert len(json.loads((tmp_path / "k.coco.json").read_text())) == 10
    assert list(tmp_path.glob("*.journal")) == []


def test_a_damaged_journal_is_one_clear_error(tmp_path):
    from posetrack.errors import PosetrackError
    from posetrack.sinks import recover

    (tmp_path / "x.json.journal").write_text("not json\n")
    with pytest.raises(PosetrackError, match="not a posetrack journal"):
        recover(tmp_path)
    (tmp_path / "x.json.journal").write_text('{"kind": "posetrack", "output": "x.json"}\n{"image": 1}\n')
    with pytest.raises(PosetrackError, match="damaged record"):
        recover(tmp_path)


def test_video_sink_letterboxes_other_sizes_and_is_named_only_when_final(tmp_path):
    path = tmp_path / "v.mp4"
    with VideoSink(path, (200, 160), 25.0) as sink:
        sink.write(_result_at(0, (200, 160)))
        sink.write(_result_at(1, (320, 120)))  # wider: letterboxed with bars above and below
        assert not path.exists() and (tmp_path / "v.partial.mp4").exists()
    assert not (tmp_path / "v.partial.mp4").exists()
    capture = cv2.VideoCapture(str(path))
    frames = [capture.read()[1] for _ in range(2)]
    assert all(f.shape == (160, 200, 3) for f in frames)
    assert frames[1][:20].mean() < 10 < frames[1][70:90].mean()  # black bars, then the grey frame


def test_a_video_s_sequence_is_named_after_it_with_digits_of_its_own():
    a, b = sequence_name_for("walk in park"), sequence_name_for("run")
    assert a.endswith("_mpii_walk_in_park") and SEQUENCE_NAME.match(a) and a[:6] != b[:6]
    assert sequence_name_for("200003_mpii_test") == "200003_mpii_test" and sequence_name_for("run") == b  # stable


def test_the_video_sink_draws_in_its_thread_exactly_what_drawing_in_line_gives(tmp_path):
    from posetrack.annotate import draw_poses
    from posetrack.io.video import VideoWriter

    results = [_result(i) for i in range(30)]
    with VideoSink(tmp_path / "sink.mp4", (200, 160), 25.0) as sink:
        for result in results:
            sink.write(result)
    with VideoWriter(tmp_path / "inline.mp4", (200, 160), 25.0) as writer:
        for result in results:
            writer.write(draw_poses(result.frame.image, result.poses, fps=result.fps))
    assert (tmp_path / "sink.mp4").read_bytes() == (tmp_path / "inline.mp4").read_bytes()  # every frame, in order


def test_a_drawing_error_in_the_video_thread_reaches_the_run(tmp_path):
    broken = _result(0)
    broken.poses.keypoints[:] = np.nan  # cannot be drawn
    broken.poses.scores[:] = 1.0
    sink = VideoSink(tmp_path / "v.mp4", (200, 160), 25.0)
    sink.write(broken)
    with pytest.raises(ValueError):
        sink.close()


def test_videos_are_h264_and_odd_sizes_are_padded(tmp_path):
    from posetrack.io.video import VideoWriter

    with VideoWriter(tmp_path / "odd.mp4", (161, 95), 25) as writer:
        for i in range(5):
            writer.write(np.full((95, 161, 3), 40 * i, np.uint8))
    capture = cv2.VideoCapture(str(tmp_path / "odd.mp4"))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
    assert writer.codec == "h264" and fourcc in ("h264", "avc1")
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (162, 96)
    frames = [capture.read()[1] for _ in range(5)]
    assert np.allclose([f[:95, :161].mean() for f in frames], [0, 40, 80, 120, 160], atol=5)  # each, in order


def test_without_an_h264_encoder_the_video_is_mp4v_with_one_warning(tmp_path, monkeypatch, caplog):
    from posetrack.io import video

    monkeypatch.setattr(video, "_h264_encoder", lambda: False)  # PyAV absent, as on a minimal install
    monkeypatch.setattr(video, "_WARNED", set())
    for name in ("a.mp4", "b.mp4"):
        with video.VideoWriter(tmp_path / name, (64, 48), 25) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
        assert writer.codec == "mp4v" and cv2.VideoCapture(str(tmp_path / name)).read()[0]
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1 and "pip install av" in caplog.text


def _one_person(index, x):
    kp = np.full((1, 17, 2), [x, 80.0], np.float32) + np.linspace(0, 40, 17, dtype=np.float32)[None, :, None] * [0, 1]
    poses = TrackedPoses(kp, np.full((1, 17), 0.9, np.float32), np.array([[x - 20, 60, x + 20, 140]], np.float32),
                         np.ones(1, np.float32), POSETRACK17, np.array([7]))
    return FrameResult(Frame(index, index / 25, np.zeros((160, 200, 3), np.uint8)), Detections.empty(), poses)


def test_draw_style_boxes_trails_and_line_width():
    from posetrack.annotate import DrawStyle, Trails, draw_poses, track_colour

    result = _one_person(0, 100.0)
    image, poses = result.frame.image, result.poses
    plain, boxed = draw_poses(image, poses), draw_poses(image, poses, DrawStyle(boxes=True))
    edge = boxed[100, 80].astype(int)  # on the box's left edge, drawn in the track's colour
    assert plain[100, 80].max() == 0 and np.argmax(edge) == np.argmax(track_colour(7)) and edge.max() > 150
    assert (draw_poses(image, poses, DrawStyle(line_width=6)) > 0).sum() > (plain > 0).sum()
    trails = Trails(3)
    for i, x in enumerate((40.0, 70.0, 100.0)):
        trails.update(_one_person(i, x).poses)
    assert trails.paths() == {7: [(40, 140), (70, 140), (100, 140)]}  # where the person stood, oldest first
    with_trail = draw_poses(image, poses, DrawStyle(ids=False), trails=trails)
    assert with_trail[140, 55].any() and not draw_poses(image, poses, DrawStyle(ids=False))[140, 55].any()
    for _ in range(3):
        trails.update(_one_person(0, 100.0).poses.take(np.zeros(1, bool)))  # nobody in view for 3 frames
    assert trails.paths() == {}


def test_drawing_flags_reach_the_options():
    from posetrack.cli.args import options_from_args
    from posetrack.cli.parser import build_parser

    args = build_parser().parse_args(["run", "v.mp4", "--draw-boxes", "--trail", "25", "--line-width", "3"])
    style = options_from_args(args).output.style()
    assert (style.boxes, style.trail, style.line_width, style.ids) == (True, 25, 3, True)


def test_every_journal_line_keeps_the_journal_schema(tmp_path):
    import jsonschema
    from conftest import schema

    sinks = PoseTrackJsonSink(tmp_path / "a.json", "000000_mpii_a", (200, 160)), CocoKeypointsSink(tmp_path / "a.coco.json")
    for i in range(3):
        for sink in sinks:
            sink.write(_result(i))
    for sink in sinks:
        sink._journal.close()  # as a kill leaves them: journals, not outputs
    for journal in ("a.json.journal", "a.coco.json.journal"):
        lines = (tmp_path / journal).read_text().splitlines()
        assert len(lines) > 3
        for line in lines:
            jsonschema.validate(json.loads(line), schema("journal"))
