"""``posetrack run`` end to end through the command line: outputs, evaluation, Ctrl-C, bad input."""

import json
import signal
import subprocess
import time

import cv2
import jsonschema
import numpy as np
import pytest
import torch
from conftest import as_from_a_terminal, posetrack_command, schema

from posetrack.io.coco_json import video_image_id
from posetrack.models.hrnet import hrnet
from posetrack.synth import preset
from posetrack.synth.files import truth_detections, write_clip


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A synthetic clip with ground truth, its boxes as COCO detection results, and random demo-config weights."""
    root = tmp_path_factory.mktemp("run")
    video, truth = write_clip(preset("crossing", frames=40, size=(320, 192)), 8, root / "gt", "200008_mpii_test")
    (root / "dets.json").write_text(json.dumps(truth_detections(truth)))
    torch.manual_seed(0)
    torch.save(hrnet("demo").state_dict(), root / "weights.pth")
    return root, video


def run_args(root, source, out, *extra):
    return posetrack_command("run", str(source), "--out", str(out), "--detections", str(root / "dets.json"), "--pose-model",
               str(root / "weights.pth"), "--pose-config", "demo", "--pose-input", "128x96", "--pose-layout", "posetrack17",
               "--backend", "torch", *extra)


def test_run_writes_json_video_and_evaluates(assets):
    root, video = assets
    r = subprocess.run(run_args(root, video, root / "pred", "--coco", "--json", str(root / "summary.json"),
                                "--stream-json", str(root / "lines.jsonl")), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "40 frames" in r.stdout and "FPS end to end" in r.stdout
    summary = json.loads((root / "summary.json").read_text())  # the promises of schemas/, kept
    jsonschema.validate(summary, schema("run-summary"))
    assert summary["frames"] == summary["detector_frames"] == 40 and summary["dropped"] == 0
    written = [root / "pred" / f"200008_mpii_test.{e}" for e in ("json", "mp4", "coco.json")] + [root / "lines.jsonl"]
    assert summary["outputs"] == [str(p) for p in written]
    lines = [json.loads(line) for line in (root / "lines.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(40))
    for line in lines:
        jsonschema.validate(line, schema("stream"))
    out = json.loads((root / "pred" / "200008_mpii_test.json").read_text())
    assert len(out["images"]) == 40
    jsonschema.validate(out, schema("posetrack"))
    coco = json.loads((root / "pred" / "200008_mpii_test.coco.json").read_text())
    jsonschema.validate(coco, schema("coco-keypoints"))
    assert {row["frame"] for row in coco} <= set(range(40)) and len(coco) >= 40  # several people per frame
    assert all(row["image_id"] == video_image_id("200008_mpii_test", row["frame"]) for row in coco)
    assert "200008_mpii_test.coco.json" in r.stdout
    capture = cv2.VideoCapture(str(root / "pred" / "200008_mpii_test.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    ev = subprocess.run(posetrack_command("eval", "--gt", str(root / "gt"), "--pred", str(root / "pred"), "--json",
                            str(root / "metrics.json")), capture_output=True, text=True, timeout=120)
    assert ev.returncode == 0, ev.stderr
    assert set(json.loads((root / "metrics.json").read_text())) >= {"mAP", "MOTA", "MOTP", "precision", "recall"}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """A 1200-frame clip (far more than a test waits for: at least 10 s of tracking) and its ground-truth boxes:
    every frame has people."""
    root = tmp_path_factory.mktemp("long")
    clip, truth = write_clip(preset("easy", frames=1200, size=(320, 192)), 9, root, "100009_mpii_test")
    (root / "dets.json").write_text(json.dumps(truth_detections(truth)))
    return clip, root / "dets.json"


def _start_and_wait(assets, long_clip, out, frames=15, ignored=()):
    """Start ``posetrack run`` on the long clip (with ``ignored`` signals ignored); return it once ``frames`` frames
    are in its journal."""
    root, _ = assets
    clip, dets = long_clip
    args = run_args(root, clip, out)
    args[args.index("--detections") + 1] = str(dets)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal(*ignored))
    journal = out / "100009_mpii_test.json.journal"
    deadline = time.time() + 120
    while time.time() < deadline and (not journal.exists() or journal.read_text().count("\n") <= frames):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return proc, journal.read_text().count("\n") - 1  # frames surely finished (the header is a line)


def _frames_of(out):
    data = json.loads((out / "100009_mpii_test.json").read_text())
    assert [img["id"] for img in data["images"]] == [int(f"1100009{i:04d}") for i in range(len(data["images"]))]
    return len(data["images"])


def _video_frames(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    return count


@pytest.mark.parametrize("signals", [pytest.param(["SIGINT"], marks=pytest.mark.slow), ["SIGTERM"],
                                     pytest.param(["SIGHUP"], marks=pytest.mark.slow),
                                     pytest.param(["SIGTERM", "SIGTERM"], marks=pytest.mark.slow)])
def test_stop_signals_leave_valid_files_of_every_finished_frame(assets, long_clip, tmp_path, signals):
    out = tmp_path / "out"
    proc, finished = _start_and_wait(assets, long_clip, out)
    for name in signals:
        proc.send_signal(getattr(signal, name))
        time.sleep(0.02)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + getattr(signal, signals[0]), err
    assert "Traceback" not in err and f"interrupted by {signals[-1]}" in err
    frames = _frames_of(out)
    assert finished <= frames < 1200
    if len(signals) == 1:
        assert f"stopped after {frames} frames" in err
    assert _video_frames(out / "100009_mpii_test.mp4") == frames  # finalised: playable, every frame
    assert sorted(p.name for p in out.iterdir()) == ["100009_mpii_test.json", "100009_mpii_test.mp4"]


@pytest.mark.slow
def test_a_signal_ignored_at_start_stays_ignored(assets, long_clip, tmp_path):
    """Under ``nohup`` (SIGHUP ignored) a hangup does not stop the run; SIGTERM still does."""
    proc, _ = _start_and_wait(assets, long_clip, tmp_path / "out", ignored=(signal.SIGHUP,))
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted by SIGTERM" in err


@pytest.mark.slow
def test_after_sigkill_the_finished_frames_are_recovered(assets, long_clip, tmp_path):
    out = tmp_path / "out"
    proc, finished = _start_and_wait(assets, long_clip, out)
    proc.kill()
    proc.communicate(timeout=60)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["100009_mpii_test.json.journal", "100009_mpii_test.partial.mp4"]  # nothing looks finished
    r = subprocess.run(posetrack_command("recover", str(out)), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "recovered" in r.stdout and "100009_mpii_test.partial.mp4" in r.stderr
    assert finished <= _frames_of(out) < 1200
    assert not (out / "100009_mpii_test.json.journal").exists()
    r = subprocess.run(posetrack_command("recover", str(out)), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "recovered" not in r.stdout


def _error_line(r, *fragments):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("posetrack: error:"), r.stderr
    for fragment in fragments:
        assert fragment in last


@pytest.mark.slow
def test_bad_sources(assets, tmp_path):
    root, video = assets
    run = lambda source, *extra: subprocess.run(run_args(root, source, tmp_path / "o", *extra),  # noqa: E731
                                               capture_output=True, text=True, timeout=120)
    _error_line(run(tmp_path / "nope.mp4"), "nope.mp4", "no such file")
    (tmp_path / "text.mp4").write_text("not a video")
    _error_line(run(tmp_path / "text.mp4"), "text.mp4", "cannot be opened")
    (tmp_path / "empty").mkdir()
    _error_line(run(tmp_path / "empty"), "no videos or images")
    (tmp_path / "tiny").mkdir()
    cv2.imwrite(str(tmp_path / "tiny" / "0.png"), np.zeros((16, 16, 3), np.uint8))
    _error_line(run(tmp_path / "tiny"), "16x16")
    data = video.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    _error_line(run(tmp_path / "cut.mp4"), "cut.mp4")


def test_truncated_avi_keeps_decoded_frames(assets, tmp_path):
    root, _ = assets
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 96))
    for i in range(40):
        writer.write(np.full((96, 160, 3), i * 5, np.uint8))
    writer.release()
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    r = subprocess.run(run_args(root, path, tmp_path / "o", "--no-video"), capture_output=True, text=True, timeout=120)
    _error_line(r, "breaks off at frame")
    data = json.loads((tmp_path / "o" / "clip.json").read_text())
    assert 0 < len(data["images"]) < 40


@pytest.mark.slow
def test_grayscale_images_run(assets, tmp_path):
    root, _ = assets
    (tmp_path / "gray").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "gray" / f"{i:03d}.png"), np.full((96, 160), 80, np.uint8))
    r = subprocess.run(run_args(root, tmp_path / "gray", tmp_path / "o", "--no-video"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the quick TorchScript exporter builds the bad model
def test_bad_models(assets, tmp_path):
    root, video = assets
    (tmp_path / "bad.pth").write_bytes(b"garbage")
    r = subprocess.run(posetrack_command("run", str(video), "--out", str(tmp_path), "--pose-model", str(tmp_path / "bad.pth"),
                           "--pose-config", "demo", "--detections", str(root / "dets.json")),
                       capture_output=True, text=True, timeout=120)
    _error_line(r, "bad.pth", "not a PyTorch checkpoint")
    transposed = tmp_path / "transposed.onnx"
    torch.onnx.export(_Transposed(), (torch.zeros(1, 3, 64, 64),), str(transposed), dynamo=False,
                      input_names=["images"], output_names=["output0"])
    r = subprocess.run(posetrack_command("run", str(video), "--out", str(tmp_path / "o"), "--detector", str(transposed),
                           "--pose-model", str(root / "weights.pth"), "--pose-config", "demo", "--pose-input",
                           "128x96", "--backend", "torch"), capture_output=True, text=True, timeout=120)
    _error_line(r, "looks transposed")


class _Transposed(torch.nn.Module):
    """A detector exported the wrong way round: [batch, candidates, 4 + classes]."""

    def forward(self, x):
        return x.mean(1).flatten(1)[:, :, None].expand(-1, -1, 84).contiguous()


@pytest.mark.slow
def test_show_without_a_gui_says_so(assets, tmp_path):
    import cv2

    try:
        cv2.namedWindow("probe")
        pytest.skip("this OpenCV has GUI support")
    except cv2.error:
        pass
    root, video = assets
    r = subprocess.run(run_args(root, video, tmp_path, "--show"), capture_output=True, text=True, timeout=120)
    _error_line(r, "--show needs a display")


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_first_stop_signal_is_deferred_to_the_frame_loop_and_a_second_one_interrupts(name):
    import os

    from posetrack.errors import Interrupted
    from posetrack.track_video import deferred_signals

    signum = getattr(signal, name)
    # as in a terminal, whatever the test runner inherited (a background job starts with Ctrl-C ignored)
    inherited = signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
    try:
        before = signal.getsignal(signum)
        with deferred_signals() as stop:
            os.kill(os.getpid(), signum)
            time.sleep(0.05)  # the handler runs in the main thread at the next bytecode
            assert stop.signum == signum
            with pytest.raises(Interrupted):
                os.kill(os.getpid(), signum)
                time.sleep(0.05)
        assert signal.getsignal(signum) is before
    finally:
        signal.signal(signum, inherited)


def test_deferred_signals_leave_an_ignored_signal_ignored():
    import os

    from posetrack.track_video import deferred_signals

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with deferred_signals() as stop:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
            assert stop.signum is None
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


@pytest.mark.slow
def test_image_folder_with_a_corrupt_image_and_mixed_sizes(assets, tmp_path):
    root, _ = assets
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, (w, h) in enumerate([(320, 192), (320, 192), (0, 0), (480, 240), (320, 192)]):
        if w:
            cv2.imwrite(str(folder / f"{i:03d}.jpg"), np.full((h, w, 3), 60 + 20 * i, np.uint8))
        else:
            (folder / f"{i:03d}.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    r = subprocess.run(run_args(root, folder, tmp_path / "o"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "posetrack: warning: skipped" in r.stderr and "002.jpg" in r.stderr
    assert "1 unreadable images skipped" in r.stdout
    data = json.loads((tmp_path / "o" / "frames.json").read_text())
    assert [(i["width"], i["height"], i["is_labeled"]) for i in data["images"]] == [
        (320, 192, True), (320, 192, True), (320, 192, False), (480, 240, True), (320, 192, True)]
    capture = cv2.VideoCapture(str(tmp_path / "o" / "frames.mp4"))
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (320, 192)
    assert _video_frames(tmp_path / "o" / "frames.mp4") == 4


def test_out_naming_a_file_is_one_line(assets, tmp_path):
    root, video = assets
    (tmp_path / "taken").write_text("")
    r = subprocess.run(run_args(root, video, tmp_path / "taken"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith("taken is a file; give a folder (it is created if missing)")


BAD_ENTRIES = [
    ({"image_id": 0, "bbox": [10, float("nan"), 30, 40], "score": 0.9}, "non-finite"),
    ({"image_id": 0, "bbox": [10, 10, -5, 40], "score": 0.9}, "not positive"),
    ({"image_id": -1, "bbox": [10, 10, 5, 40], "score": 0.9}, "image_id"),
    ({"image_id": 0, "bbox": [10, 10, 5], "score": 0.9}, "bbox"),
    ({"image_id": 0, "score": 0.9}, "no 'bbox' field"),
    ({"image_id": 0, "bbox": [10, 10, 5, 40], "score": "high"}, "score"),
]


def _bad_detections(folder, entry):
    dets = folder / "dets.json"
    good = {"image_id": 0, "bbox": [10, 10, 30, 40], "score": 0.9, "category_id": 1}
    dets.write_text(json.dumps([good, entry]))  # json.dumps writes NaN as the bare token NaN, which Python reads
    return dets


@pytest.mark.slow
def test_a_bad_detection_file_is_one_line_naming_the_entry(assets, tmp_path):
    root, video = assets
    args = run_args(root, video, tmp_path / "o", "--no-video")
    args[args.index("--detections") + 1] = str(_bad_detections(tmp_path, BAD_ENTRIES[0][0]))
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    _error_line(r, "dets.json", "entry 1", BAD_ENTRIES[0][1])
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("entry, fragment", BAD_ENTRIES)
def test_each_bad_detection_entry_is_named(tmp_path, entry, fragment):
    from posetrack.detect import PrecomputedDetections
    from posetrack.errors import PosetrackError

    with pytest.raises(PosetrackError) as error:
        PrecomputedDetections(_bad_detections(tmp_path, entry))
    message = str(error.value)
    assert "\n" not in message and all(f in message for f in ("dets.json", "entry 1", fragment))


def test_boxes_outside_the_frame_are_clipped_with_one_warning(assets, tmp_path):
    root, video = assets
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": i, "bbox": [-40, 20, 400, 150], "score": 0.9} for i in range(3)]
                               + [{"image_id": 1, "bbox": [330, 20, 40, 40], "score": 0.9}]))  # wholly outside
    args = run_args(root, video, tmp_path / "o", "--no-video")
    args[args.index("--detections") + 1] = str(dets)
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("clipped") == 1 and "outside the 320x192 frame" in r.stderr
    boxes = [a["bbox"] for a in json.loads((tmp_path / "o" / "200008_mpii_test.json").read_text())["annotations"]]
    assert all(x >= 0 and y >= 0 and x + w <= 320 and y + h <= 192 for x, y, w, h in boxes)


def test_ground_truth_with_nan_is_one_line(tmp_path):
    from posetrack.io.posetrack_json import read_sequence

    write_clip(preset("easy", frames=2, size=(320, 192)), 1, tmp_path, "100001_mpii_test")
    truth = tmp_path / "100001_mpii_test.json"
    data = json.loads(truth.read_text())
    data["annotations"][0]["keypoints"][3] = float("nan")
    truth.write_text(json.dumps(data))
    from posetrack.errors import PosetrackError

    with pytest.raises(PosetrackError, match=r"100001_mpii_test\.json.*not a finite number"):
        read_sequence(truth)
