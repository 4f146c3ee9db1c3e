"""Live sources: an MJPEG stream served on 127.0.0.1 at a fixed pace, read through OpenCV's FFmpeg backend as a
user's camera would be; newest-frame buffering with counted drops, reconnection, latency in the summary, JSON
lines for other programs."""

import json
import signal
import subprocess
import threading
import time

import jsonschema
import numpy as np
import pytest
from conftest import DEMO_MODELS, as_from_a_terminal, posetrack_command, schema

from posetrack.bench.paced import PacedMjpegServer
from posetrack.errors import PosetrackError
from posetrack.io.sources import is_stream, open_source
from posetrack.options import RuntimeOptions
from posetrack.synth import SyntheticVideo, preset


@pytest.fixture(scope="module")
def people():
    return [f.image for f, _ in SyntheticVideo(preset("easy", frames=60, size=(320, 192)), 2)]


def test_stream_urls_are_recognised():
    assert all(is_stream(u) for u in ("rtsp://127.0.0.1:8554/cam", "RTMP://h/live", "http://h/x.mjpg", "udp://@:1234",
                                      "srt://h:9000", "tcp://h:5000"))
    assert not any(is_stream(u) for u in ("video.mp4", "0", "C:/videos/a.mp4", "file:///tmp/a.mp4", "rtsp:/x"))


def test_an_unreachable_stream_is_one_line_with_the_url_intact():
    with pytest.raises(PosetrackError, match=r"^http://127\.0\.0\.1:9/cam\.mjpg\?x=1: cannot be opened as a video$"):
        open_source("http://127.0.0.1:9/cam.mjpg?x=1")


def test_newest_frame_buffering_drops_what_a_slow_consumer_cannot_take(people):
    server = PacedMjpegServer(people, fps=60)
    try:
        reader = open_source(server.url)
        assert reader.live and reader.buffer == "latest" and reader.size == (320, 192)
        indices, ages = [], []
        for frame in reader:
            ages.append(time.monotonic() - frame.captured)
            indices.append(frame.index)
            time.sleep(0.05)  # a 20 FPS pipeline on a 60 FPS camera
        reader.close()
    finally:
        server.close()
    assert indices == sorted(set(indices)) and indices[-1] <= 59  # the source's numbering, in order, with gaps
    assert reader.dropped > 10 and len(indices) + reader.dropped == indices[-1] + 1
    assert np.median(ages) < 0.05  # each frame taken was the newest: no queue builds up


def test_all_buffering_drops_nothing(people):
    server = PacedMjpegServer(people[:20], fps=100)
    try:
        reader = open_source(server.url, RuntimeOptions(buffer="all"))
        indices = [f.index for f in reader]
        reader.close()
    finally:
        server.close()
    assert indices == list(range(20)) and reader.dropped == 0


def test_a_stream_that_breaks_off_is_reopened_and_keeps_counting(people):
    server = PacedMjpegServer(people[:30], fps=100, cut_after=10)
    try:
        reader = open_source(server.url, RuntimeOptions(buffer="all", reconnect=2))
        indices = [f.index for f in reader]
        reader.close()
    finally:
        server.close()
    assert reader.reconnects == 3 and server.connections == 4  # back once, then two tries on a camera that is gone
    assert indices == list(range(len(indices))) and len(indices) >= 10 + 30 - 2  # frame numbers go on after it


def live_run(url, out, *extra, **popen):
    return subprocess.Popen(posetrack_command("run", url, *DEMO_MODELS, "--out", out, "--no-video", "--stream-json", "-",
                                              *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.slow
def test_a_live_run_reports_latency_and_streams_json_lines(people, tmp_path):
    enough = threading.Event()  # the camera goes on until the test has seen enough frames come out
    server = PacedMjpegServer(people, fps=30, until=enough)
    try:
        run = live_run(server.url, tmp_path / "out", "--json", str(tmp_path / "summary.json"))
        lines = []
        for line in run.stdout:  # stdout holds the JSON lines only
            lines.append(json.loads(line))
            if len(lines) == 20:
                enough.set()
        stderr = run.stderr.read()
        assert run.wait(timeout=60) == 0, stderr[-2000:]
    finally:
        enough.set()
        server.close()
    for line in lines:
        jsonschema.validate(line, schema("stream"))
    frames = [line["frame"] for line in lines]
    assert frames == sorted(set(frames)) and len(frames) >= 20
    assert all(line["latency_ms"] > 0 and line["joints"] == "posetrack17" for line in lines)
    person = next(p for line in lines for p in line["people"])
    assert set(person) == {"track_id", "box", "box_score", "keypoints"} and len(person["keypoints"]) == 17
    summary = json.loads((tmp_path / "summary.json").read_text())
    jsonschema.validate(summary, schema("run-summary"))
    assert summary["frames"] == len(lines) and summary["frames"] + summary["dropped"] == frames[-1] + 1
    latency = summary["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert "latency p50" in stderr and "FPS end to end" in stderr
    posetrack = json.loads((tmp_path / "out" / "cam.json").read_text())  # named after the URL's path
    assert len(posetrack["images"]) == frames[-1] + 1  # dropped frames are empty unlabeled frames there


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_a_stopped_live_run_keeps_its_outputs_and_summary(people, tmp_path, stop):
    """Ctrl-C (how a live run normally ends) or SIGTERM: the finished frames are written, and so is the summary:
    its lines with the latency, and ``--json``, saying what stopped the run."""
    with PacedMjpegServer(people, fps=30, until=threading.Event()) as server:  # a camera that never ends
        run = live_run(server.url, tmp_path / "out", "--json", tmp_path / "summary.json",
                       preexec_fn=as_from_a_terminal())
        frames = []
        for line in run.stdout:
            frames.append(json.loads(line)["frame"])
            if len(frames) == 10:
                run.send_signal(getattr(signal, stop))
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + getattr(signal, stop) and "Traceback" not in stderr, stderr[-2000:]
    assert f"interrupted by {stop}; stopped after {len(frames)} frames" in stderr.strip().splitlines()[-1]
    assert "latency p50" in stderr and "FPS end to end" in stderr  # the summary lines (stdout is the JSON lines')
    written = json.loads((tmp_path / "out" / "cam.json").read_text())  # finished frames kept, as for a file
    assert len(written["images"]) == frames[-1] + 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    jsonschema.validate(summary, schema("run-summary"))
    assert summary["frames"] == len(frames) and summary["stopped_by"] == stop
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["max"]


@pytest.mark.slow
def test_the_live_benchmark_row_agrees_with_the_pacing():
    from posetrack.bench.live import camera_frames, measure_live

    row = measure_live(camera_frames(30), source_fps=25, detect_every=1, precision="fp32", seconds=2)
    assert abs(row.sent - 25 * row.seconds) <= 8  # what the camera sent in the time it ran, within start and end
    assert row.tracked <= row.sent and row.drop_pct == pytest.approx(100 * (row.sent - row.tracked) / row.sent)
    assert 0 < row.p50_ms <= row.p95_ms <= row.p99_ms <= row.max_ms
    assert row.fps == pytest.approx(row.tracked / row.seconds, rel=0.01)
