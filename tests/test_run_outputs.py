"""What ``posetrack run`` writes for a user: image file names in every output, the CSV table (checked against its
Table Schema, on real footage too), ``--smooth``, ``--start/--end/--stride`` with the source's frame numbers, and
the ``--show`` window (on a display the test starts, where Xvfb is installed) or its one-line error."""

import json
import os
import shutil
import subprocess
import time

import cv2
import numpy as np
import pytest
from conftest import DEMO_MODELS, posetrack_command, real_data, validate, validate_table

from posetrack.synth import SyntheticVideo, preset


@pytest.fixture(scope="module")
def named_folder(tmp_path_factory):
    """Five synthetic frames saved under names that do not sort as numbers (one with a comma and a space), and a
    JPEG cut off in the middle (a copy that did not finish), as frame 1."""
    folder = tmp_path_factory.mktemp("named") / "shots"
    folder.mkdir()
    names = ["a, first.jpg", "b_cut.jpg", "c_basketball.png", "d_basketball.png", "e_last.jpg"]
    frames = [f.image for f, _ in SyntheticVideo(preset("easy", frames=5, size=(320, 192)), 1)]
    for name, image in zip(names, frames):
        cv2.imwrite(str(folder / name), image)
    data = (folder / "b_cut.jpg").read_bytes()
    (folder / "b_cut.jpg").write_bytes(data[: len(data) // 2])
    return folder, names


def test_a_folder_of_named_images_keeps_its_names_in_every_output(here, named_folder, tmp_path):
    folder, names = named_folder
    out = tmp_path / "out"
    r = here("run", folder, *DEMO_MODELS, "--no-video", "--out", out, "--coco", "--csv", out / "t.csv",
            "--stream-json", out / "s.jsonl")
    assert r.returncode == 0, r.stderr
    # the cut-off JPEG is refused by name, before libjpeg could print its own line or fill the rest in grey
    assert f"skipped {folder / 'b_cut.jpg'}: truncated JPEG (no end-of-image marker)" in r.stderr
    assert "Premature end of JPEG" not in r.stderr + r.stdout
    posetrack = json.loads((out / "shots.json").read_text())
    validate(posetrack, "posetrack")
    assert [img["source_file"] for img in posetrack["images"]] == names  # the skipped one's too; file_name keeps
    # the form poseval parses
    coco = json.loads((out / "shots.coco.json").read_text())
    validate(coco, "coco-keypoints")
    assert {(r["frame"], r["file_name"]) for r in coco} == {(i, names[i]) for i in (0, 2, 3, 4)}
    lines = [json.loads(line) for line in (out / "s.jsonl").read_text().splitlines()]
    for line in lines:
        validate(line, "stream")
    assert [(line["frame"], line["file"]) for line in lines] == [(i, names[i]) for i in (0, 2, 3, 4)]
    rows = validate_table(out / "t.csv", "poses-csv")
    assert {(row["frame"], row["file"]) for row in rows} == {(i, names[i]) for i in (0, 2, 3, 4)}


def test_the_csv_table_of_a_real_run_meets_its_schema(here, tmp_path):
    """TUD-Campus with a real pose model's poses: a row per person per frame per COCO joint, the same people as
    the PoseTrack JSON, each box the person's, every time stamp the frame's."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks" / "real"))
    from convert import convert

    real = real_data()
    poses = convert(real / "TUD-Campus" / "poses-gt.npz", tmp_path / "poses.json")
    r = here("run", real / "TUD-Campus" / "img1", "--poses", poses, "--no-video", "--out", tmp_path, "--csv",
            tmp_path / "csv", "--stream-json", tmp_path / "s.jsonl")
    assert r.returncode == 0, r.stderr
    rows = validate_table(tmp_path / "csv" / "img1.csv", "poses-csv")
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    people = [(line["frame"], p["track_id"]) for line in lines for p in line["people"]]
    assert len(rows) == 17 * len(people) and {(r["frame"], r["track_id"]) for r in rows} == set(people)
    first = lines[0]["people"][0]
    mine = [r for r in rows if r["frame"] == lines[0]["frame"] and r["track_id"] == first["track_id"]]
    assert [r["joint"] for r in mine][:3] == ["nose", "left_eye", "right_eye"]  # COCO-17, its order
    assert [mine[0][k] for k in ("box_x1", "box_y1", "box_x2", "box_y2")] == first["box"]
    assert all(r["time"] == pytest.approx(r["frame"] / 25, abs=1e-4) for r in rows)
    assert all(r["file"].endswith(".jpg") for r in rows)


def test_smooth_is_a_flag_with_a_default_cutoff():
    from posetrack.cli.args import options_from_args
    from posetrack.cli.parser import build_parser
    from posetrack.options import OneEuroConfig

    parser = build_parser()
    plain = options_from_args(parser.parse_args(["run", "v.mp4"]))
    default = options_from_args(parser.parse_args(["run", "v.mp4", "--smooth"]))
    slower = options_from_args(parser.parse_args(["run", "v.mp4", "--smooth", "0.8"]))
    assert plain.tracker.smoothing is None and default.tracker.smoothing == OneEuroConfig()
    assert slower.tracker.smoothing == OneEuroConfig(min_cutoff=0.8)
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "v.mp4", "--smooth", "-1"])


def test_smoothed_keypoints_jitter_less_with_the_same_identities(here, clip_factory, tmp_path):
    video, _ = clip_factory("easy", 30)
    runs = {}
    for name, extra in {"raw": [], "smooth": ["--smooth"]}.items():
        r = here("run", video, *DEMO_MODELS, *extra, "--no-video", "--out", tmp_path / name, "--stream-json",
                tmp_path / f"{name}.jsonl")
        assert r.returncode == 0, r.stderr
        runs[name] = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]

    def tracks(lines):
        return [[p["track_id"] for p in line["people"]] for line in lines]

    def jitter(lines):  # second differences of track 0's joints: shaking, not walking
        path = np.array([np.array(p["keypoints"])[:, :2] for line in lines for p in line["people"]
                         if p["track_id"] == 0])
        assert len(path) > 20
        return np.abs(np.diff(path, 2, axis=0)).mean()

    assert tracks(runs["smooth"]) == tracks(runs["raw"])
    assert jitter(runs["smooth"]) < 0.7 * jitter(runs["raw"])


def test_start_end_and_stride_keep_the_source_frame_numbers(here, clip_factory, tmp_path):
    video, _ = clip_factory("crossing", 20)
    r = here("run", video, *DEMO_MODELS, "--no-video", "--out", tmp_path, "--start", "0.2s", "--end", "15",
            "--stride", "3", "--stream-json", tmp_path / "s.jsonl", "--mot", tmp_path / "m.txt", "--json",
            tmp_path / "summary.json")
    assert r.returncode == 0, r.stderr
    wanted = [5, 8, 11, 14]  # 0.2 s at 25 fps is frame 5; up to, not including, 15
    assert [json.loads(line)["frame"] for line in (tmp_path / "s.jsonl").read_text().splitlines()] == wanted
    assert sorted({int(line.split(",")[0]) - 1 for line in (tmp_path / "m.txt").read_text().splitlines()}) == wanted
    posetrack = json.loads((tmp_path / f"{video.stem}.json").read_text())
    labelled = {a["image_id"] for a in posetrack["annotations"]}
    assert [i for i, img in enumerate(posetrack["images"]) if img["id"] in labelled] == wanted
    assert json.loads((tmp_path / "summary.json").read_text())["frames"] == len(wanted)


@pytest.mark.parametrize(("args", "message"), [
    (["--start", "99"], "no frame from --start 99 (frame 99); it has 20 frames"),
    (["--start", "10", "--end", "4"], "runtime.end = '4' is not after runtime.start = '10'"),
    (["--end", "ten"], "argument --end: must be a frame index (300) or seconds (12.5s), got 'ten'"),
    (["--start", "12", "--end", "0.4s"], "--end 0.4s (frame 10) is not after --start 12 (frame 12)"),
])
def test_a_bad_frame_range_is_one_line(here, clip_factory, tmp_path, args, message):
    video, _ = clip_factory("crossing", 20)
    r = here("run", video, *DEMO_MODELS, "--no-video", "--out", tmp_path, *args)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_show_without_a_display_is_one_line_before_anything_loads(clip_factory, tmp_path):
    video, _ = clip_factory("easy", 4)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run(posetrack_command("run", video, *DEMO_MODELS, "--show", "--out", tmp_path / "out"),
                       capture_output=True, text=True, env=env, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "--show needs a display" in lines[0], r.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def display():
    """A display: the session's own, else an Xvfb server started here (skipped where there is neither)."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        pytest.skip("no display and no Xvfb to start one")
    name = f":{90 + os.getpid() % 100}"
    server = subprocess.Popen(["Xvfb", name, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if os.path.exists(f"/tmp/.X11-unix/X{name[1:]}"):
                break
            if server.poll() is not None:
                break
            time.sleep(0.1)
        else:
            pytest.skip(f"Xvfb {name} did not come up")
        if server.poll() is not None:
            pytest.skip(f"Xvfb {name} exited at once (display in use?)")
        yield name
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_window_shows_each_frame_and_q_stops(display, monkeypatch):
    pytest.importorskip("tkinter")
    from posetrack.io.window import open_window

    monkeypatch.setenv("DISPLAY", display)
    window = open_window("posetrack test")
    try:
        image = np.zeros((40, 60, 3), np.uint8)
        image[..., 0] = 200  # blue, in BGR
        image[5, 7] = (1, 2, 3)
        assert window.show(image) is False
        photo = getattr(window, "photo", None)
        if photo is not None:  # Tk: the pixels shown are the frame's, in RGB
            assert (photo.width(), photo.height()) == (60, 40)
            assert photo.get(0, 0) == (0, 0, 200) and photo.get(7, 5) == (3, 2, 1)
            window.root.focus_force()
            window.root.update()
            window.label.event_generate("<Key>", keysym="q")
            assert window.show(image) is True
    finally:
        window.close()


@pytest.mark.slow
def test_a_run_with_show_on_a_display_ends_normally(cli, clip_factory, tmp_path, display):
    pytest.importorskip("tkinter")
    video, _ = clip_factory("easy", 4)
    r = cli("run", video, *DEMO_MODELS, "--show", "--no-video", "--out", tmp_path, env={"DISPLAY": display})
    assert r.returncode == 0 and "4 frames" in r.stdout, r.stderr


def test_a_span_counts_and_holds_the_frames_it_takes():
    from posetrack.types import Span, frame_at, parse_position

    assert parse_position("12.5s") == (12.5, "s") and parse_position("300") == (300.0, "frame")
    assert parse_position("-1") is None and parse_position("1.5") is None and parse_position("s") is None
    assert frame_at("12.5s", 25) == 313 and frame_at("12s", 25) == 300 and frame_at("7", 25) == 7
    span = Span.of("5", "0.6s", 3, 25)  # frames 5, 8, 11, 14 (15 is 0.6 s: not included)
    assert [i for i in range(30) if i in span] == [5, 8, 11, 14] and span.count(30) == 4 and span.count(12) == 3
    assert span.past(15) and not span.past(14) and Span().everything and Span().count(None) is None
