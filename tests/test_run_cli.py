"""``posetrack run`` end to end through the command line: outputs, evaluation, Ctrl-C, bad input."""

import json
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

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


def cli(*args, **kwargs):
    return [sys.executable, "-m", "posetrack.cli", *args]


def run_args(root, source, out, *extra):
    return cli("run", str(source), "--out", str(out), "--detections", str(root / "dets.json"), "--pose-weights",
               str(root / "weights.pth"), "--pose-config", "demo", "--pose-input", "128x96", "--backend", "torch", *extra)


def test_run_writes_json_video_and_evaluates(assets):
    root, video = assets
    r = subprocess.run(run_args(root, video, root / "pred", "--coco"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "40 frames" in r.stdout and "FPS end to end" in r.stdout
    out = json.loads((root / "pred" / "200008_mpii_test.json").read_text())
    assert len(out["images"]) == 40
    coco = json.loads((root / "pred" / "200008_mpii_test.coco.json").read_text())
    assert {row["image_id"] for row in coco} <= set(range(40)) and len(coco) >= 40  # several people per frame
    assert "200008_mpii_test.coco.json" in r.stdout
    capture = cv2.VideoCapture(str(root / "pred" / "200008_mpii_test.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    ev = subprocess.run(cli("eval", "--gt", str(root / "gt"), "--pred", str(root / "pred"), "--json",
                            str(root / "metrics.json")), capture_output=True, text=True, timeout=120)
    assert ev.returncode == 0, ev.stderr
    assert set(json.loads((root / "metrics.json").read_text())) >= {"mAP", "MOTA", "MOTP", "precision", "recall"}


def test_ctrl_c_leaves_valid_json_of_finished_frames(assets, tmp_path):
    root, _ = assets
    frames = 3000
    long_clip, truth = write_clip(preset("easy", frames=frames, size=(320, 192)), 9, tmp_path, "100009_mpii_test")
    (tmp_path / "dets.json").write_text(json.dumps(truth_detections(truth)))  # every frame has people to pose
    args = run_args(root, long_clip, tmp_path / "out")
    args[args.index("--detections") + 1] = str(tmp_path / "dets.json")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    annotated = tmp_path / "out" / "100009_mpii_test.mp4"
    deadline = time.time() + 120
    while time.time() < deadline and not annotated.exists():
        time.sleep(0.1)  # the outputs are open: frames are being processed
    started = time.time()
    while time.time() < started + 3 and annotated.stat().st_size < 20_000:
        time.sleep(0.1)  # some frames finished (the writer flushes in chunks), far from all 3000
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    data = json.loads((tmp_path / "out" / "100009_mpii_test.json").read_text())
    assert 0 < len(data["images"]) < frames
    assert [img["id"] for img in data["images"]] == [int(f"1100009{i:04d}") for i in range(len(data["images"]))]


def _error_line(r, *fragments):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("posetrack: error:"), r.stderr
    for fragment in fragments:
        assert fragment in last


def test_bad_sources(assets, tmp_path):
    root, video = assets
    run = lambda source, *extra: subprocess.run(run_args(root, source, tmp_path / "o", *extra),  # noqa: E731
                                               capture_output=True, text=True, timeout=120)
    _error_line(run(tmp_path / "nope.mp4"), "nope.mp4", "no such file")
    (tmp_path / "text.mp4").write_text("not a video")
    _error_line(run(tmp_path / "text.mp4"), "text.mp4", "cannot be opened")
    (tmp_path / "empty").mkdir()
    _error_line(run(tmp_path / "empty"), "no images")
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


def test_grayscale_images_run(assets, tmp_path):
    root, _ = assets
    (tmp_path / "gray").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "gray" / f"{i:03d}.png"), np.full((96, 160), 80, np.uint8))
    r = subprocess.run(run_args(root, tmp_path / "gray", tmp_path / "o", "--no-video"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the quick TorchScript exporter builds the bad model
def test_bad_models(assets, tmp_path):
    root, video = assets
    (tmp_path / "bad.pth").write_bytes(b"garbage")
    r = subprocess.run(cli("run", str(video), "--out", str(tmp_path), "--pose-weights", str(tmp_path / "bad.pth"),
                           "--pose-config", "demo", "--detections", str(root / "dets.json")),
                       capture_output=True, text=True, timeout=120)
    _error_line(r, "bad.pth", "not a PyTorch checkpoint")
    transposed = tmp_path / "transposed.onnx"
    torch.onnx.export(_Transposed(), (torch.zeros(1, 3, 64, 64),), str(transposed), dynamo=False,
                      input_names=["images"], output_names=["output0"])
    r = subprocess.run(cli("run", str(video), "--out", str(tmp_path / "o"), "--detector", str(transposed),
                           "--pose-weights", str(root / "weights.pth"), "--pose-config", "demo", "--pose-input",
                           "128x96", "--backend", "torch"), capture_output=True, text=True, timeout=120)
    _error_line(r, "looks transposed")


class _Transposed(torch.nn.Module):
    """A detector exported the wrong way round: [batch, candidates, 4 + classes]."""

    def forward(self, x):
        return x.mean(1).flatten(1)[:, :, None].expand(-1, -1, 84).contiguous()


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


def test_first_ctrl_c_is_deferred_to_the_frame_loop_and_a_second_one_interrupts():
    import os

    from posetrack.track_video import deferred_interrupt

    before = signal.getsignal(signal.SIGINT)
    with deferred_interrupt() as interrupted:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs in the main thread at the next bytecode
        assert interrupted.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before
