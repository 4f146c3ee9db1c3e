"""Many videos: real worker processes, a real local Ray instance, real signals; the shipped models."""

import json
import os
import signal
import subprocess
import sys
import time

import jsonschema
import pytest
from conftest import DEMO_MODELS, as_from_a_terminal, posetrack_cli, posetrack_command, schema, validate

from posetrack.batch import track_videos
from posetrack.batch.sources import collect
from posetrack.errors import PosetrackError
from posetrack.options import Options
from posetrack.synth import preset
from posetrack.synth.files import write_clip

OPTIONS = Options.demo(output__video=False, output__coco=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Six short synthetic clips (their ground truth beside them, which a batch must not take for videos)."""
    root = tmp_path_factory.mktemp("clips")
    for i in range(6):
        write_clip(preset("easy", frames=16, size=(320, 192)), i, root, f"30000{i}_mpii_test")
    return root


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    for i in range(3):
        write_clip(preset("easy", frames=250, size=(320, 192)), 10 + i, root, f"40000{i}_mpii_test")
    return root


def _ledger(out):
    lines = (out / "ledger.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "ledger"
    jsonschema.validate(json.loads(lines[0]), schema("journal"))
    entries = [json.loads(line) for line in lines[1:]]
    for entry in entries:
        jsonschema.validate(entry, schema("ledger"))
    return entries


def _cli(*args):
    return posetrack_command("run", *DEMO_MODELS, *args)


def test_sources_folders_globs_lists_and_clashing_stems(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "clip.mp4").write_bytes(b"x")
    (tmp_path / "a" / "other.avi").write_bytes(b"x")
    frames = tmp_path / "a" / "frames"
    frames.mkdir()
    (frames / "000.jpg").write_bytes(b"x")
    (tmp_path / "list.txt").write_text("# my videos\nb/clip.mp4\n\n")
    found = collect([str(tmp_path / "a")], tmp_path / "list.txt")
    assert [(s.path.name, s.stem) for s in found] == [("clip.mp4", "a_clip"), ("other.avi", "other"),
                                                      ("clip.mp4", "b_clip")]
    assert [s.stem for s in collect([str(tmp_path / "a")], recursive=True)] == ["clip", "frames", "other"]
    assert [s.stem for s in collect([str(tmp_path / "*" / "clip.mp4")])] == ["a_clip", "b_clip"]
    assert [s.stem for s in collect([str(frames)])] == ["frames"]  # an image folder is one sequence
    with pytest.raises(PosetrackError, match="matches nothing"):
        collect([str(tmp_path / "*.mkv")])
    with pytest.raises(PosetrackError, match="no such file"):
        collect([str(tmp_path / "missing.mp4")])


@pytest.mark.slow
def test_two_workers_equal_each_clip_alone_and_reruns_skip(clips, tmp_path):
    videos = sorted(clips.glob("*.mp4"))
    summary = track_videos([clips], tmp_path / "both", OPTIONS, workers=2, progress=False)
    assert [e.status for e in summary.entries] == ["done"] * 6 and summary.workers == 2
    for video in videos:
        alone = track_videos([video], tmp_path / "alone" / video.stem, OPTIONS, threads_per_worker=1, progress=False)
        assert alone.entries[0].status == "done"
        for name in (f"{video.stem}.json", f"{video.stem}.coco.json"):
            assert (tmp_path / "both" / name).read_bytes() == (tmp_path / "alone" / video.stem / name).read_bytes()
    start = time.perf_counter()
    again = track_videos([clips], tmp_path / "both", OPTIONS, workers=2, progress=False)
    assert again.entries == [] and len(again.skipped) == 6 and time.perf_counter() - start < 10
    (tmp_path / "both" / f"{videos[2].stem}.json").unlink()
    redo = track_videos([clips], tmp_path / "both", OPTIONS, workers=2, progress=False)
    assert [e.stem for e in redo.entries] == [videos[2].stem] and len(redo.skipped) == 5
    assert (tmp_path / "both" / f"{videos[2].stem}.json").exists()
    forced = track_videos([videos[0]], tmp_path / "both", OPTIONS, force=True, progress=False)
    assert [e.stem for e in forced.entries] == [videos[0].stem]
    summary_file = json.loads((tmp_path / "both" / "summary.json").read_text())
    validate(summary_file, "batch-summary")
    assert summary_file["done"] == 1 and summary_file["per_video"][0]["frames"] == 16


@pytest.mark.slow
def test_a_corrupt_video_is_reported_and_the_others_finish(clips, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for video in sorted(clips.glob("*.mp4"))[:2]:
        (mixed / video.name).write_bytes(video.read_bytes())
    (mixed / "broken.mp4").write_text("not a video at all")
    r = posetrack_cli("run", *DEMO_MODELS, mixed, "--out", tmp_path / "out", "--workers", "2", "--no-video")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("posetrack: error: broken:")
    assert "2 done, 1 failed" in r.stdout
    statuses = {e["stem"]: e["status"] for e in _ledger(tmp_path / "out") if e["status"] != "started"}
    assert statuses == {"broken": "failed", "300000_mpii_test": "done", "300001_mpii_test": "done"}


def _wait_for_work(out, timeout=180):
    """The (stem, pid) of a worker mid-video: its work folder holds a journal with frames in it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for journal in (out / ".work").glob("*/*.json.journal"):
            if journal.stat().st_size > 2000:
                stem, pid, _ = journal.parent.name.rsplit(".", 2)
                return stem, int(pid)
        time.sleep(0.1)
    raise AssertionError("no worker started a video")


@pytest.mark.slow
def test_a_killed_worker_process_has_its_video_retried(long_clips, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(_cli(long_clips, "--out", out, "--workers", "2", "--no-video"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    stem, pid = _wait_for_work(out)
    os.kill(pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert f"the worker tracking {stem} died; retrying" in stderr
    done = [e for e in _ledger(out) if e["status"] == "done"]
    assert sorted(e["stem"] for e in done) == [f"40000{i}_mpii_test" for i in range(3)]  # each once
    assert next(e for e in done if e["stem"] == stem)["attempt"] == 2
    for e in done:
        assert len(json.loads((out / f"{e['stem']}.json").read_text())["images"]) == 250
    assert not (out / ".work").exists() or not any((out / ".work").iterdir())


@pytest.mark.slow
def test_ctrl_c_of_the_driver_keeps_finished_videos_and_a_valid_ledger(long_clips, clips, tmp_path):
    out = tmp_path / "out"
    short = sorted(clips.glob("*.mp4"))[0]
    proc = subprocess.Popen(_cli(short, long_clips, "--out", out, "--workers", "2", "--no-video"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal())
    deadline = time.time() + 180
    while time.time() < deadline and not (out / f"{short.stem}.json").exists():
        time.sleep(0.1)
    _wait_for_work(out)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    entries = _ledger(out)  # every line parses
    done = {e["stem"] for e in entries if e["status"] == "done"}
    assert short.stem in done
    finished = {p.name.removesuffix(".json") for p in out.glob("*.json") if p.name != "summary.json"}
    assert finished == done  # no output without its ledger entry, none half-written
    for stem in done:
        json.loads((out / f"{stem}.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    validate(summary, "batch-summary")
    assert summary["done"] == len(done)
    rerun = posetrack_cli("run", *DEMO_MODELS, short, long_clips, "--out", out, "--workers", "2", "--no-video",
                          timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(done)} skipped" in rerun.stdout


@pytest.mark.slow
def test_ray_workers_equal_local_ones_and_a_killed_actor_is_retried(long_clips, clips, tmp_path):
    pytest.importorskip("ray")
    code = f"""
import json, os, signal, sys, threading, time
from pathlib import Path
from posetrack.batch import track_videos
from posetrack.options import Options
out = Path({str(tmp_path / "ray")!r})

def kill_one():
    while True:
        for journal in (out / ".work").glob("*/*.json.journal"):
            if journal.stat().st_size > 2000:
                os.kill(int(journal.parent.name.rsplit(".", 2)[1]), signal.SIGKILL)
                return
        time.sleep(0.1)

threading.Thread(target=kill_one, daemon=True).start()
s = track_videos([{str(long_clips)!r}, {str(sorted(clips.glob("*.mp4"))[0])!r}], out,
                 Options.demo(output__video=False, output__coco=True), executor="ray", workers=2, progress=False)
print(json.dumps([(e.stem, e.status, e.attempt) for e in s.entries]))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert [status for _, status, _ in rows] == ["done"] * 4
    assert sorted(attempt for _, _, attempt in rows) == [1, 1, 1, 2]  # the killed actor's video, once more
    assert "died; retrying" in r.stderr
    short = sorted(clips.glob("*.mp4"))[0]
    local = track_videos([short], tmp_path / "local", OPTIONS, threads_per_worker=1, progress=False)
    assert local.entries[0].status == "done"
    for name in (f"{short.stem}.json", f"{short.stem}.coco.json"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_ray_missing_is_one_line(clips, tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from posetrack.cli import main; "
            f"sys.exit(main(['run', {str(clips)!r}, '--out', {str(tmp_path / 'o')!r}, '--ray']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        "posetrack: error: --ray needs Ray, which is not installed: pip install 'posetrack[ray]'")
