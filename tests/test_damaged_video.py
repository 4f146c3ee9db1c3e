"""Damaged videos: an undecodable frame in the middle is skipped and the frames after it keep their numbers (the
container's count and time stamps are the reference), a damaged first frame too; a truncated video still ends
with ``broken_at``."""

import json

import cv2
import jsonschema
import numpy as np
import pytest
from conftest import DEMO_MODELS, posetrack_cli, schema

from posetrack.io.sources import open_source
from posetrack.synth import SyntheticVideo, preset

FRAMES = 40


@pytest.fixture(scope="module")
def images():
    return [f.image for f, _ in SyntheticVideo(preset("easy", frames=FRAMES, size=(320, 192)), 2)]


def _write(path, images, fourcc):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 25, (320, 192))
    for image in images:
        writer.write(image)
    writer.release()
    return bytearray(path.read_bytes())


def _garbage(data, at, count):
    data[at:at + count] = np.random.default_rng(at).integers(0, 256, count, dtype=np.uint8).tobytes()


def damaged_avi(folder, images, frame=20):
    """An MJPEG AVI whose JPEG of ``frame`` starts with garbage (its SOI marker and header overwritten)."""
    path = folder / "damaged.avi"
    data = _write(path, images, "MJPG")
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    assert len(starts) == FRAMES
    _garbage(data, starts[frame], 400)
    path.write_bytes(data)
    return path


def damaged_start_mp4(folder, images):
    """An MPEG-4 Part 2 MP4 whose first frame's header (the start of ``mdat``) is garbage."""
    path = folder / "damaged_start.mp4"
    data = _write(path, images, "mp4v")
    _garbage(data, data.find(b"mdat") + 4, 40)
    path.write_bytes(data)
    return path


def _container_frames(path):
    return int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT))


def _psnr(a, b):
    return 10 * np.log10(255 ** 2 / max(np.mean((a.astype(float) - b) ** 2), 1e-9))


def test_a_damaged_frame_is_skipped_and_the_next_keep_their_numbers(tmp_path, images):
    path = damaged_avi(tmp_path, images)
    reader = open_source(path)
    frames = list(reader)
    assert _container_frames(path) == FRAMES and reader.damaged == [20] and reader.broken_at is None
    assert [f.index for f in frames] == [i for i in range(FRAMES) if i != 20]
    assert all(_psnr(f.image, images[f.index]) > 28 for f in frames)  # each frame is the one its number says


def test_a_damaged_first_frame_leaves_frame_numbers_aligned(tmp_path, images):
    path = damaged_start_mp4(tmp_path, images)
    reader = open_source(path)
    frames = list(reader)
    assert reader.damaged == [0] and [f.index for f in frames] == list(range(1, FRAMES))
    # Until the next keyframe the decoder builds on a lost picture; from there each frame is the one its number says
    clean = [f for f in frames if f.index >= FRAMES // 2]
    assert all(_psnr(f.image, images[f.index]) > 24 for f in clean)
    assert all(max(range(FRAMES), key=lambda j, f=f: _psnr(f.image, images[j])) == f.index for f in clean[:3])


@pytest.mark.slow
def test_run_on_a_damaged_video_writes_every_frame_and_counts_the_damage(tmp_path, images):
    path = damaged_avi(tmp_path, images)
    r = posetrack_cli("run", path, *DEMO_MODELS, "--backend", "torch", "--out", tmp_path / "out", "--no-video", "--json",
                      tmp_path / "summary.json")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "frame 20 is damaged" in r.stderr and "1 damaged frames skipped" in r.stdout
    data = json.loads((tmp_path / "out" / "damaged.json").read_text())
    jsonschema.validate(data, schema("posetrack"))
    assert len(data["images"]) == FRAMES  # frame for frame with the video
    assert not data["images"][20]["is_labeled"] and all(a["image_id"] != data["images"][20]["id"]
                                                        for a in data["annotations"])
    assert sum(img["is_labeled"] for img in data["images"]) == FRAMES - 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    jsonschema.validate(summary, schema("run-summary"))
    assert summary["damaged"] == [20] and summary["frames"] == FRAMES - 1 and summary["broken_at"] is None


@pytest.mark.slow
def test_ffmpeg_s_own_lines_are_hidden_unless_verbose(tmp_path, images):
    path = damaged_avi(tmp_path, images)
    runs = {verbose: posetrack_cli("run", path, *DEMO_MODELS, "--backend", "torch", "--out", tmp_path / "out",
                                   "--no-video", *(["--verbose"] if verbose else [])) for verbose in (False, True)}
    assert all(r.returncode == 0 for r in runs.values())
    # the decoder's own complaints about frame 20, through OpenCV's logger ("[OPENCV:FFMPEG:16] ...") or FFmpeg's
    said = {v: "[OPENCV:FFMPEG:" in r.stdout + r.stderr or "[mjpeg @" in r.stderr for v, r in runs.items()}
    assert said == {False: False, True: True}
