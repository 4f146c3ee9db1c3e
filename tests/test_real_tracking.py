"""Real footage (``../shared/real``): ``posetrack run --poses`` (the tracker alone, on a real pose model's poses)
and end to end with the real YOLOX detector, each scored by ``posetrack eval --mot`` and checked against the scores
``benchmarks/real/run.py`` recorded in ``benchmarks/real/results.json``; MOTChallenge output and detections files
on synthetic clips. Skipped where the real data is absent."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO_MODELS, real_data

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks" / "real"))
from convert import convert

RESULTS = Path(__file__).parents[1] / "benchmarks" / "real" / "results.json"
COUNTS = ("mota", "idf1", "idsw", "fp", "fn")  # from counts of matches: exact
OVERLAPS = ("motp", "hota")  # mean IoUs: the camera's motion (OpenCV's flow) may differ in the last digits between
# processors (AVX2, AVX-512), and with it the tracks' boxes


def recorded(sequence: str, input_: str, tracker: str = "posetrack") -> dict:
    rows = json.loads(RESULTS.read_text())["rows"]
    return next(r for r in rows if (r["sequence"], r["input"], r["tracker"]) == (sequence, input_, tracker))


def scored(cli, sequence: str, mot: Path, tmp_path: Path) -> dict:
    real = real_data()
    layout = tmp_path / "gt" / sequence
    (layout / "gt").mkdir(parents=True, exist_ok=True)
    (layout / "gt" / "gt.txt").write_bytes((real / sequence / "gt.txt").read_bytes())
    (layout / "seqinfo.ini").write_bytes((real / sequence / "seqinfo.ini").read_bytes())
    r = cli("eval", "--mot", tmp_path / "gt", mot.parent, "--json", tmp_path / "scores.json")
    assert r.returncode == 0, r.stderr
    return json.loads((tmp_path / "scores.json").read_text())["sequences"][sequence]


def assert_recorded(scores: dict, expected: dict, networks: bool = False) -> None:
    """Equal to the recording: counts exactly, mean IoUs to 1e-3. With ``networks`` (a detector and a pose model in
    the run, whose float results differ in the last bits between processors and can tip a borderline box) counts
    within 2 and ratios within 0.01: the same run, not a different tracker."""
    for name in COUNTS:
        slack = (0.01 if name in ("mota", "idf1") else 2) if networks else 1e-9
        assert scores[name] == pytest.approx(expected[name], abs=slack), name
    for name in OVERLAPS:
        assert scores[name] == pytest.approx(expected[name], abs=1e-2 if networks else 1e-3), name


def test_given_real_poses_track_offline_to_the_recorded_scores(here, tmp_path):
    """TUD-Campus's public Faster R-CNN boxes with a real pose model's poses: no network is built or fetched (the
    tests' model cache is empty and offline), the MOTChallenge output scores what the benchmark recorded."""
    real = real_data()
    poses = convert(real / "TUD-Campus" / "poses-det.npz", tmp_path / "poses.json")
    mot = tmp_path / "mot" / "TUD-Campus.txt"
    r = here("run", real / "TUD-Campus" / "img1", "--poses", poses, "--no-video", "--out", tmp_path / "out", "--mot",
            mot)
    assert r.returncode == 0, r.stderr
    lines = mot.read_text().splitlines()
    frames = {int(line.split(",")[0]) for line in lines}
    assert min(frames) >= 1 and max(frames) <= 71 and all(line.endswith(",-1,-1,-1") for line in lines)
    assert_recorded(scored(here, "TUD-Campus", mot, tmp_path), recorded("TUD-Campus", "det"))


@pytest.mark.slow
def test_end_to_end_with_the_real_detector_to_the_recorded_scores(cli, tmp_path):
    """``posetrack run`` with the YOLOX-nano file (no sidecar) and the demo pose model on TUD-Campus scores what the
    benchmark recorded, and its identities are as good as its own box-only mode's within 2 IDF1 points (bad poses
    must not cost identities)."""
    real = real_data()
    detector = real / "models" / "yolox_nano_coco.onnx"
    box_only = tmp_path / "box-only.toml"
    box_only.write_text('[tracker]\nsimilarity = "iou"\n')
    scores = {}
    for name, extra in {"posetrack": [], "posetrack box-only": ["--config", box_only]}.items():
        mot = tmp_path / name.replace(" ", "-") / "TUD-Campus.txt"
        r = cli("run", real / "TUD-Campus" / "img1", "--detector", detector, "--pose-model", "demo", *extra,
                "--no-video", "--out", tmp_path / "out", "--mot", mot)
        assert r.returncode == 0, r.stderr
        scores[name] = scored(cli, "TUD-Campus", mot, tmp_path / name.replace(" ", "-"))
        assert_recorded(scores[name], recorded("TUD-Campus", "run", name), networks=True)
    assert scores["posetrack"]["idf1"] >= scores["posetrack box-only"]["idf1"] - 0.02


def test_mot_output_numbers_frames_and_ids_from_one(here, clip_factory, tmp_path):
    """``--mot FILE`` writes ``frame,id,x,y,w,h,score,-1,-1,-1`` with frames and ids from 1, one line per tracked
    person, the same people as the PoseTrack JSON."""
    video, _ = clip_factory("crossing", 12)
    r = here("run", video, *DEMO_MODELS, "--no-video", "--out", tmp_path / "out", "--mot", tmp_path / "a.txt")
    assert r.returncode == 0, r.stderr
    rows = np.loadtxt(tmp_path / "a.txt", delimiter=",", ndmin=2)
    assert rows.shape[1] == 10 and (rows[:, 7:] == -1).all() and (rows[:, 4:6] > 0).all()
    assert rows[:, 0].min() == 1 and rows[:, 0].max() <= 12 and rows[:, 1].min() >= 1
    result = json.loads((tmp_path / "out" / f"{video.stem}.json").read_text())
    assert len(rows) == len(result["annotations"])


def test_mot_and_csv_targets_are_a_file_or_a_folder_of_one_per_video():
    from posetrack.track_video import file_or_folder

    assert file_or_folder("out/run.txt", "clip", ".txt") == Path("out/run.txt")
    assert file_or_folder("out", "clip", ".txt") == Path("out/clip.txt")
    assert file_or_folder("out/tables", "clip", ".csv") == Path("out/tables/clip.csv")
    assert file_or_folder("out/run.TXT", "clip", ".txt") == Path("out/run.TXT")


def test_a_mot_det_file_is_read_as_detections(here, tmp_path):
    """``--detections`` recognises MOTChallenge ``det.txt`` by its content (1-based frames, x, y, w, h, score)."""
    real = real_data()
    r = here("run", real / "TUD-Campus" / "img1", "--detections", real / "TUD-Campus" / "det.txt", "--pose-model",
            "demo", "--end", "12", "--no-video", "--out", tmp_path / "out", "--mot", tmp_path / "mot.txt")
    assert r.returncode == 0, r.stderr
    boxes: dict[int, int] = {}
    for line in (real / "TUD-Campus" / "det.txt").read_text().splitlines():
        frame = int(line.split(",")[0])
        if frame <= 12:
            boxes[frame] = boxes.get(frame, 0) + 1
    out = np.loadtxt(tmp_path / "mot.txt", delimiter=",", ndmin=2)
    assert set(out[:, 0].astype(int)) <= set(boxes) and len(out) > 0.5 * sum(boxes.values())


def test_bad_poses_files_are_one_line(here, clip_factory, tmp_path):
    video, _ = clip_factory("easy", 4)
    cases = {"not-a-list.json": ('{"a": 1}', "expected COCO keypoint results"),
             "short.json": ('[{"image_id": 0, "keypoints": [1, 2, 3]}]', "entry 0: 3 keypoint values"),
             "no-id.json": ('[{"keypoints": []}]', "entry 0 is no keypoint result")}
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        r = here("run", video, "--poses", path, "--no-video", "--out", tmp_path / "out")
        lines = r.stderr.strip().splitlines()
        assert r.returncode != 0 and len(lines) == 1 and str(path) in lines[0] and message in lines[0], r.stderr
