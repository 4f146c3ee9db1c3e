"""Model files on first use, from an HTTP server the tests start on 127.0.0.1: streamed, checked, resumed, atomic,
shared between processes; and registered models (MMPose-format checkpoints, zipped ONNX detectors) fetched and run
through the command line and the Python API."""

import hashlib
import http.server
import io
import json
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from posetrack.errors import PosetrackError
from posetrack.models import hub
from posetrack.models.hub import Remote, fetch, local_path


@dataclass
class Files:
    """What the test server serves, and what it was asked."""

    content: dict[str, bytes] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)  # file → bytes sent before the next answer breaks off
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    ranges: bool = True  # honour Range requests


@pytest.fixture
def server():
    files = Files()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.lstrip("/").split("/")[-1]
            files.requests.append((self.path, self.headers.get("Range")))
            if name not in files.content:
                self.send_error(404, "Not Found")
                return
            data, start = files.content[name], 0
            asked = self.headers.get("Range")
            if asked and files.ranges:
                start = int(asked.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_error(416, "Range Not Satisfiable")
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            cut = files.cut_after.pop(name, None)
            self.wfile.write(data[start:cut] if cut is not None else data[start:])
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    files.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield files
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("POSETRACK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("POSETRACK_OFFLINE", raising=False)
    monkeypatch.delenv("POSETRACK_MIRROR", raising=False)
    return tmp_path / "home"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(n: int = 3 << 20, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def test_a_file_is_downloaded_once_checked_and_kept(server, home):
    data = payload()
    server.content["w.pth"] = data
    remote = Remote("w.pth", f"{server.url}/models/w.pth", sha(data))
    path = fetch(remote, "w", progress=False)
    assert path == home / "models" / "w.pth" and path.read_bytes() == data
    assert fetch(remote, "w", progress=False) == path and len(server.requests) == 1  # cached: no second request
    assert not list((home / "models").glob("*.part"))


def test_an_8_digit_prefix_is_a_checksum_too(server, home):
    data = payload(1000)
    server.content["m-abcd.pth"] = data
    fetch(Remote("m-abcd.pth", f"{server.url}/m-abcd.pth", sha(data)[:8]), "m", progress=False)
    server.content["n.pth"] = data
    with pytest.raises(PosetrackError, match=r"n: the sha256 of n\.pth .* not the expected 00000000"):
        fetch(Remote("n.pth", f"{server.url}/n.pth", "00000000"), "n", progress=False)
    assert not (home / "models" / "n.pth").exists() and not list((home / "models").glob("n.pth*part"))


def test_an_interrupted_download_resumes_where_it_stopped(server, home):
    data = payload()
    server.content["big.pth"] = data
    server.cut_after["big.pth"] = 1 << 20
    remote = Remote("big.pth", f"{server.url}/big.pth", sha(data))
    with pytest.raises(PosetrackError, match="cannot download big"):
        fetch(remote, "big", progress=False)  # the connection broke off: the part stays
    part = home / "models" / "big.pth.part"
    assert part.stat().st_size == 1 << 20 and not (home / "models" / "big.pth").exists()
    assert fetch(remote, "big", progress=False).read_bytes() == data
    assert server.requests[-1][1] == f"bytes={1 << 20}-"  # only the rest was asked for


def test_a_server_ignoring_range_sends_it_all_again(server, home):
    data = payload(200_000)
    server.content["x.pth"], server.ranges = data, False
    (home / "models").mkdir(parents=True)
    (home / "models" / "x.pth.part").write_bytes(b"stale bytes from another version")
    assert fetch(Remote("x.pth", f"{server.url}/x.pth", sha(data)), "x", progress=False).read_bytes() == data


def test_a_file_without_a_published_checksum_is_pinned_on_first_download(server, home):
    server.content["p.onnx"] = b"first version"
    remote = Remote("p.onnx", f"{server.url}/p.onnx")
    path = fetch(remote, "p", progress=False)
    assert (home / "models" / "p.onnx.sha256").read_text().strip() == sha(b"first version")
    assert sorted(p.name for p in (home / "models").iterdir()) == ["p.onnx", "p.onnx.sha256"]  # no lock left
    path.unlink()
    server.content["p.onnx"] = b"changed upstream"
    with pytest.raises(PosetrackError, match="the source changed the file"):
        fetch(remote, "p", progress=False)


def test_a_bad_download_is_never_pinned_so_the_good_one_is_taken_after_it(server, home, tmp_path):
    """A mirror serving garbage (an error page, a truncated zip) once: nothing is pinned, no lock file is left, and
    the next fetch from the same mirror takes the good file and pins that."""
    from test_detect import PEOPLE, baked_onnx, mmdeploy

    from posetrack.models import DetectorRecord, model_file
    from posetrack.types import Size

    good = zipped({"sdk/end2end.onnx": baked_onnx(tmp_path / "e.onnx", mmdeploy(PEOPLE)).read_bytes()})
    record = DetectorRecord("mirrored", Size(320, 320), onnx=Remote("sdk.zip", f"{server.url}/sdk.zip",
                                                                    member="end2end.onnx"), layout="mmdeploy")
    for garbage, why in ((b"<html>502 Bad Gateway</html>", "not a readable zip"),
                         (zipped({"sdk/end2end.onnx": b"not a network"}), "ONNX Runtime cannot load it")):
        server.content["sdk.zip"] = garbage
        with pytest.raises(PosetrackError, match=why):
            model_file(record, progress=False)
        assert sorted(p.name for p in (home / "models").iterdir()) == []  # no pin, no lock, no part, no folder
    server.content["sdk.zip"] = good
    path = model_file(record, progress=False)
    assert path.is_file() and (home / "models" / "sdk.zip.sha256").read_text().strip() == sha(good)
    assert not list((home / "models").glob("*.lock"))


def test_every_model_a_run_needs_is_named_in_one_offline_line(home, monkeypatch):
    from posetrack.models import DEMO_POSE, PoseRecord, fetch_all
    from posetrack.models.records import DetectorRecord
    from posetrack.skeleton import COCO17
    from posetrack.types import Size

    pose = PoseRecord("far_pose", "demo", Size(96, 128), COCO17, Remote("p-1a2b3c4d.pth", "https://example.invalid/p"))
    det = DetectorRecord("far_det", Size(320, 320), onnx=Remote("d.zip", "https://example.invalid/d.zip",
                                                                   member="end2end.onnx"), layout="mmdeploy")
    monkeypatch.setenv("POSETRACK_OFFLINE", "1")
    with pytest.raises(PosetrackError) as caught:
        fetch_all([DEMO_POSE, pose, det], progress=False)  # the shipped one needs no network
    message = str(caught.value)
    assert "\n" not in message and "cannot download far_pose, far_det (POSETRACK_OFFLINE is set)" in message
    assert "--pose-model demo --detector demo" in message and "posetrack models fetch far_pose far_det" in message
    assert "POSETRACK_MIRROR" in message and "p-1a2b3c4d.pth, d.zip" in message


def test_mirror_offline_and_unreachable_are_one_line_each(server, home, monkeypatch):
    data = payload(5000)
    server.content["w.pth"] = data
    remote = Remote("w.pth", "https://example.invalid/deep/path/w.pth", sha(data))
    monkeypatch.setenv("POSETRACK_OFFLINE", "1")
    with pytest.raises(PosetrackError) as offline:
        fetch(remote, "w", progress=False)
    message = str(offline.value)
    assert "\n" not in message and "POSETRACK_OFFLINE is set" in message
    assert str(home / "models" / "w.pth") in message and "POSETRACK_MIRROR" in message
    monkeypatch.delenv("POSETRACK_OFFLINE")
    monkeypatch.setenv("POSETRACK_MIRROR", server.url + "/mirror/")
    assert fetch(remote, "w", progress=False).read_bytes() == data
    assert server.requests == [("/mirror/w.pth", None)]  # by file name from the mirror; the source never asked
    monkeypatch.setenv("POSETRACK_MIRROR", "http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(PosetrackError, match=r"cannot download q from http://127\.0\.0\.1:9/q\.pth \("):
        fetch(Remote("q.pth", "https://example.invalid/q.pth"), "q", progress=False)
    monkeypatch.setenv("POSETRACK_MIRROR", server.url)
    with pytest.raises(PosetrackError, match="HTTP 404"):
        fetch(Remote("gone.pth", "https://example.invalid/gone.pth"), "gone", progress=False)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_is_unpacked_into_its_own_folder(server, home):
    model = payload(4000)
    server.content["sdk.zip"] = zipped({"sdk/end2end.onnx": model, "sdk/pipeline.json": b"{}"})
    remote = Remote("sdk.zip", f"{server.url}/sdk.zip", member="end2end.onnx", member_sha256=sha(model))
    path = fetch(remote, "sdk", progress=False)
    assert path == home / "models" / "sdk" / "end2end.onnx" == local_path(remote) and path.read_bytes() == model
    assert (path.parent / "pipeline.json").is_file() and not (home / "models" / "sdk.zip").exists()
    server.content["bad.zip"] = zipped({"readme.txt": b"no model here"})
    with pytest.raises(PosetrackError, match=r"bad\.zip holds no end2end\.onnx"):
        fetch(Remote("bad.zip", f"{server.url}/bad.zip", member="end2end.onnx"), "bad", progress=False)
    assert not (home / "models" / "bad").exists()


@pytest.mark.slow
def test_processes_fetching_the_same_file_take_turns(server, home, tmp_path):
    data = payload(8 << 20)
    server.content["shared.pth"] = data
    code = (f"from posetrack.models.hub import Remote, fetch; "
            f"print(fetch(Remote('shared.pth', {server.url + '/shared.pth'!r}, {sha(data)!r}), 's', False))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert {o.strip() for o, _ in outs} == {str(home / "models" / "shared.pth")}
    assert len(server.requests) == 1  # one download; the others found it cached


# ---- registered models, fetched on first use and run -------------------------------------------------------------


def mmpose_checkpoint(seed: int = 0) -> bytes:
    """The demo HRNet's random weights in MMPose 1.x's layout (``backbone.*``, ``head.final_layer.*``)."""
    from posetrack.models.hrnet import hrnet

    torch.manual_seed(seed)
    sd = hrnet("demo").state_dict()
    head = ("final_layer.weight", "final_layer.bias")
    state = {**{f"backbone.{k}": v for k, v in sd.items() if k not in head}, **{f"head.{k}": sd[k] for k in head}}
    buffer = io.BytesIO()
    torch.save({"meta": {"mmengine_version": "0.10.4"}, "state_dict": state}, buffer)
    return buffer.getvalue()


@pytest.fixture
def registered(server, home):
    """A pose model and an SDK-zipped ONNX detector registered with 127.0.0.1 sources (unregistered after)."""
    from test_detect import PEOPLE, baked_onnx, mmdeploy

    from posetrack.models import register_model, unregister_model
    from posetrack.models.preprocess import RTMDET
    from posetrack.models.records import DetectorRecord, PoseRecord
    from posetrack.skeleton import COCO17
    from posetrack.types import Size

    weights = mmpose_checkpoint()
    server.content["tiny_coco-1a2b3c4d.pth"] = weights
    onnx_file = baked_onnx(home.parent / "end2end.onnx", mmdeploy(PEOPLE[:2]))
    server.content["tiny_det.zip"] = zipped({"tiny_det/end2end.onnx": onnx_file.read_bytes()})
    pose = PoseRecord("tiny_hrnet_coco", "demo", Size(96, 128), COCO17,
                      Remote("tiny_coco-1a2b3c4d.pth", f"{server.url}/tiny_coco-1a2b3c4d.pth", sha(weights)[:8]))
    detector = DetectorRecord("tiny_person_det", Size(320, 320), onnx=Remote(
        "tiny_det.zip", f"{server.url}/tiny_det.zip", member="end2end.onnx"), preprocess=RTMDET, layout="mmdeploy")
    register_model(pose)
    register_model(detector)
    yield pose, detector
    unregister_model(pose.name)
    unregister_model(detector.name)


@pytest.fixture(scope="module")
def clip(clip_factory):
    return clip_factory("easy", 6, seed=3)[0]


@pytest.mark.slow
def test_registered_models_are_fetched_and_run_by_the_command_line(registered, clip, home, tmp_path, monkeypatch,
                                                                    capsys):
    from posetrack.cli import main

    monkeypatch.setenv("POSETRACK_ENGINES", str(tmp_path / "engines"))
    def listed(name):
        assert main(["models", "--task", "pose" if "hrnet" in name else "detector"]) == 0
        return next(line for line in capsys.readouterr().out.splitlines() if line.startswith(name))

    assert "not cached" in listed("tiny_hrnet_coco") and "not cached" in listed("tiny_person_det")
    code = main(["run", str(clip), "--out", str(tmp_path / "out"), "--pose-model", "tiny_hrnet_coco",
                 "--detector", "tiny_person_det", "--no-video", "--coco"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (home / "models" / "tiny_coco-1a2b3c4d.pth").is_file()
    assert (home / "models" / "tiny_det" / "end2end.onnx").is_file()
    result = json.loads((tmp_path / "out" / f"{clip.stem}.json").read_text())
    assert len(result["images"]) == 6
    coco = json.loads((tmp_path / "out" / f"{clip.stem}.coco.json").read_text())
    assert coco and all(len(row["keypoints"]) == 51 for row in coco)  # COCO-17 joints, COCO order
    # the PoseTrack JSON has PoseTrack's joints (head_bottom / head_top made from COCO's): the evaluator takes it
    assert main(["eval", "--gt", str(clip.parent), "--pred", str(tmp_path / "out"), "--json",
                 str(tmp_path / "metrics.json")]) == 0
    assert set(json.loads((tmp_path / "metrics.json").read_text())) >= {"mAP", "MOTA"}
    assert " cached" in listed("tiny_hrnet_coco") and "not cached" not in listed("tiny_person_det")
    assert main(["models", "check", "tiny_hrnet_coco", "tiny_person_det"]) == 0
    checked = capsys.readouterr().out
    assert "tiny_hrnet_coco: ONNX export" in checked and "drawn people: 2 boxes over" in checked


@pytest.mark.slow
def test_the_python_api_runs_registered_models(registered, clip, tmp_path, monkeypatch):
    from posetrack import create_pipeline

    monkeypatch.setenv("POSETRACK_ENGINES", str(tmp_path / "engines"))
    pipeline = create_pipeline("tiny_hrnet_coco", "tiny_person_det", device="cpu")
    results = list(pipeline.track(str(clip)))
    assert len(results) == 6 and all(len(r.detections) == 2 for r in results)
    assert results[0].poses.keypoints.shape[1:] == (17, 2)


def test_home_is_where_the_cache_is(home):
    assert hub.models_dir() == home / "models"
    assert local_path(Remote("a.zip", "x", member="end2end.onnx")) == Path(home / "models" / "a" / "end2end.onnx")
