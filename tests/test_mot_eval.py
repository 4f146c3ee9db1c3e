"""``posetrack eval --mot``: CLEAR MOT and IDF1 equal to py-motmetrics 1.4.0, box HOTA equal to TrackEval, to 1e-6,
per sequence and over all of them, on hand-made edge cases and on the real sequences with perturbed predictions
(``mot_cases``; the tools' own numbers recorded by ``benchmarks/mot-eval/reference.py`` in their own environments);
MOTChallenge files read and written as MOT users expect."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REAL, real_data
from mot_cases import edge_cases, real_cases, write_case

from posetrack.errors import PosetrackError
from posetrack.eval.mot import evaluate_mot, read_mot_sequences
from posetrack.io.mot import is_mot_file, mot_line, read_mot

REFERENCE = json.loads((Path(__file__).parent / "data" / "mot" / "reference.json").read_text())
# py-motmetrics' names → ours; its motp is a distance (1 - IoU), ours MOTChallenge's mean IoU
MOTMETRICS = {"num_objects": "num_objects", "num_predictions": "num_predictions", "num_detections": "tp",
              "num_false_positives": "fp", "num_misses": "fn", "num_switches": "idsw", "mostly_tracked": "mt",
              "partially_tracked": "pt", "mostly_lost": "ml", "num_fragmentations": "frag",
              "num_unique_objects": "num_unique_objects", "mota": "mota", "idf1": "idf1", "idp": "idp", "idr": "idr",
              "recall": "recall", "precision": "precision"}
TRACKEVAL = {"HOTA": "hota", "DetA": "deta", "AssA": "assa", "LocA": "loca", "DetRe": "detre", "DetPr": "detpr",
             "AssRe": "assre", "AssPr": "asspr"}


def _scored(cases, tmp_path):
    for name, (gt, pred, length) in cases.items():
        write_case(tmp_path / "gt", tmp_path / "pred", name, gt, pred, length)
    return evaluate_mot(read_mot_sequences(tmp_path / "gt", tmp_path / "pred"))


def _check(report, reference):
    rows = {**report.sequences, "OVERALL": report.total, "COMBINED_SEQ": report.total}
    mm = reference["motmetrics"]
    for name, theirs in mm.items():
        ours = rows[name]
        for their_key, our_key in MOTMETRICS.items():
            assert ours[our_key] == pytest.approx(theirs[their_key], abs=1e-6, nan_ok=True), (name, our_key)
        motp = 1 - theirs["motp"]
        if name == "OVERALL" and np.isnan(motp):  # motmetrics' weighted mean takes a sequence's NaN (no match)
            matched = [r for n, r in mm.items() if n != "OVERALL" and r["num_detections"]]
            motp = sum((1 - r["motp"]) * r["num_detections"] for r in matched) / sum(r["num_detections"]
                                                                                    for r in matched)
        assert ours["motp"] == pytest.approx(motp, abs=1e-6, nan_ok=True), (name, "motp")
    for name, theirs in reference["trackeval"].items():
        for their_key, our_key in TRACKEVAL.items():
            assert rows[name][our_key] == pytest.approx(theirs[their_key], abs=1e-6), (name, our_key)


def test_edge_cases_equal_motmetrics_and_trackeval(tmp_path):
    report = _scored(edge_cases(), tmp_path)
    assert set(report.sequences) == set(edge_cases())
    _check(report, REFERENCE["edge"])
    assert report.sequences["perfect"]["mota"] == report.sequences["perfect"]["hota"] == 1.0
    assert report.sequences["switch"]["idsw"] == 2 and report.sequences["fragments"]["frag"] == 2
    assert report.sequences["ignored-rows"]["fp"] == 12  # on ignored ground truth: false positives, not matches


def test_the_real_sequences_equal_motmetrics_and_trackeval(tmp_path):
    _check(_scored(real_cases(real_data()), tmp_path), REFERENCE["real"])


def test_eval_mot_on_the_command_line_writes_lower_case_fractions(cli, tmp_path):
    for name, (gt, pred, length) in list(edge_cases().items())[:3]:
        write_case(tmp_path / "gt", tmp_path / "pred", name, gt, pred, length)
    r = cli("eval", "--mot", tmp_path / "gt", tmp_path / "pred", "--json", tmp_path / "m.json")
    assert r.returncode == 0, r.stderr
    assert "MOTA" in r.stdout and "IDF1" in r.stdout and "HOTA" in r.stdout and "total" in r.stdout
    data = json.loads((tmp_path / "m.json").read_text())
    assert set(data) == {"sequences", "total"} and set(data["sequences"]) == {"perfect", "switch", "fragments"}
    assert {"mota", "motp", "idf1", "idsw", "fp", "fn", "mt", "ml", "hota"} <= set(data["total"])
    assert 0 < data["total"]["mota"] < 1 and data["sequences"]["perfect"]["idf1"] == 1.0
    single = cli("eval", "--mot", tmp_path / "gt" / "switch" / "gt" / "gt.txt", tmp_path / "pred" / "switch.txt")
    assert single.returncode == 0 and "switch" in single.stdout


def test_bad_mot_input_is_one_line(cli, tmp_path):
    (tmp_path / "a.txt").write_text("1,1,10,10,20,40,1,-1,-1,-1\n1,1,50,10,20,40,1,-1,-1,-1\n")
    (tmp_path / "b.txt").write_text("1,3,10,10,20,40\nnot a line\n")
    for args, fragment in [(("a.txt", "a.txt"), "a.txt: identity 1 appears twice in frame 1"),
                           (("b.txt", "b.txt"), "b.txt:2: not a MOTChallenge line"),
                           (("missing.txt", "b.txt"), "missing.txt: no such file or folder")]:
        r = cli("eval", "--mot", *(tmp_path / a for a in args))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.strip().splitlines()[-1].startswith("posetrack: error: ") and fragment in r.stderr
    with pytest.raises(PosetrackError, match="no predictions for sequence"):
        write_case(tmp_path / "g", tmp_path / "p", "seq", [(1, 1, 0.0, 0.0, 5.0, 5.0, 1.0)], [], 3)
        (tmp_path / "p" / "seq.txt").unlink()
        read_mot_sequences(tmp_path / "g", tmp_path / "p")


def test_mot_files_are_recognised_read_and_written(tmp_path):
    line = mot_line(7, 3, np.array([10.0, 20.0, 40.5, 120.25]), 0.91234)
    assert line == "7,3,10.00,20.00,30.50,100.25,0.9123,-1,-1,-1"
    (tmp_path / "x.txt").write_text(line + "\n")
    boxes = read_mot(tmp_path / "x.txt")
    assert boxes.frames.tolist() == [7] and boxes.ids.tolist() == [3]
    np.testing.assert_allclose(boxes.xyxy(), [[10, 20, 40.5, 120.25]])
    (tmp_path / "dets.json").write_text('[{"image_id": 0, "bbox": [1, 2, 3, 4], "score": 0.5, "category_id": 1}]')
    assert is_mot_file(tmp_path / "x.txt") and not is_mot_file(tmp_path / "dets.json")
    if (REAL / "README.md").is_file():
        assert is_mot_file(REAL / "TUD-Campus" / "det.txt")
