"""Keypoint HOTA equals the official PoseTrack21 kit, and IDF1 equals motmetrics.

``data/hota/<scenario>/`` holds ground truth and predictions built by ``make_scenarios.py`` and the kit's own
numbers for them (``expected.json``, written by ``run_kit.py`` in the kit's throwaway environment).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import posetrack_cli

from posetrack.eval.clear import MotAccumulator
from posetrack.eval.hota import ALPHAS, FIELDS, evaluate_hota, points_inside
from posetrack.eval.poseval import read_pairs
from posetrack.eval.tracking import evaluate_pairs
from posetrack.io.posetrack_json import PoseTrackFrame, PoseTrackSequence

SCENARIOS = Path(__file__).parent / "data" / "hota"
NAMES = sorted(p.name for p in SCENARIOS.iterdir() if (p / "expected.json").exists())


def _hota(name, **kw):
    return evaluate_hota(read_pairs(SCENARIOS / name / "gt", SCENARIOS / name / "pred"), **kw)


def test_every_scenario_is_there():
    assert set(NAMES) >= {"perfect", "swap", "split", "return", "duplicates", "empty_frames", "ignore_regions",
                          "unlabeled", "missing", "mixed"}


@pytest.mark.parametrize("name", NAMES)
def test_equals_the_posetrack21_kit(name):
    expected = json.loads((SCENARIOS / name / "expected.json").read_text())
    m = _hota(name)
    for k in FIELDS:
        assert m.totals()[k] == pytest.approx(expected["total"][k], abs=1e-9), k
        np.testing.assert_allclose(m.per_alpha[k], expected["per_alpha"][k], atol=1e-9, err_msg=k)
        np.testing.assert_allclose(m.per_joint[k], expected["per_joint"][k], atol=1e-9, err_msg=k)
    for k in ("TP", "FN", "FP"):
        np.testing.assert_array_equal(m.counts[k], expected["per_alpha"][f"HOTA_{k}"])


def test_an_identity_swap_changes_association_not_detection():
    perfect, swap = _hota("perfect"), _hota("swap")
    assert swap.totals()["DetA"] == perfect.totals()["DetA"]
    assert swap.totals()["AssA"] < perfect.totals()["AssA"] - 0.2
    ids = [evaluate_pairs(read_pairs(SCENARIOS / n / "gt", SCENARIOS / n / "pred"), ("idf1",)).poseval
           for n in ("perfect", "swap")]
    assert ids[1].total("idf1") < ids[0].total("idf1") - 10
    assert ids[1].total("mota") < ids[0].total("mota")  # the switches


def _frame(ids, joints, heads=None):
    """People of one frame: joints (N, 15) positions as (x, y) in PoseTrack-17 order minus ears, filled to 17."""
    n = len(ids)
    kp = np.zeros((n, 17, 2))
    kp[:, [j for j in range(17) if j not in (3, 4)]] = joints
    flags = (kp > 0).all(-1).astype(np.int8)
    head = None if heads is None else np.array([[0, 0, h / 0.6, 0] for h in heads], float)
    return PoseTrackFrame(np.asarray(ids, np.int64), kp, flags, np.zeros((n, 4)), head_boxes=head)


def test_frames_without_ground_truth_count_the_kits_way_or_the_frames_own():
    """Two frames: one person matched exactly; then no ground-truth person and 1 predicted person. The kit counts
    all 2 x 15 predicted joints of the sequence as false positives in that frame; the fix counts its own 15."""
    person = np.tile([[50.0, 60.0]], (15, 1))
    gt = PoseTrackSequence("000001_mpii_test", 100, 100, [_frame([1], person[None], [10.0]), _frame([], np.zeros((0, 15, 2)))])
    pr = PoseTrackSequence("000001_mpii_test", 100, 100, [_frame([1], person[None]), _frame([1], person[None])])
    kit, fixed = evaluate_hota([(gt, pr)]), evaluate_hota([(gt, pr)], fix_empty_frames=True)
    assert (kit.counts["TP"] == 15).all() and (kit.counts["FP"] == 30).all()
    assert (fixed.counts["TP"] == 15).all() and (fixed.counts["FP"] == 15).all()
    assert fixed.totals()["DetA"] == pytest.approx(0.5) and kit.totals()["DetA"] == pytest.approx(1 / 3)


def test_points_on_an_ignore_region_edge_are_outside():
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    points = np.array([[5, 5], [0, 5], [10, 5], [5, 0], [5, 10], [11, 5], [0, 0], [9.999, 0.001]], float)
    assert points_inside(points, square).tolist() == [True, False, False, False, False, False, False, True]
    triangle = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert points_inside(np.array([[2.0, 2.0], [6.0, 6.0], [5.0, 5.0]]), triangle).tolist() == [True, False, False]


def test_idf1_equals_motmetrics_on_random_sequences():
    mm = pytest.importorskip("motmetrics")
    rng = np.random.default_rng(7)
    for _ in range(200):
        ref, ours = mm.MOTAccumulator(auto_id=True), MotAccumulator()
        for _ in range(int(rng.integers(1, 14))):
            o = rng.choice(6, rng.integers(0, 5), replace=False)
            h = rng.choice(7, rng.integers(0, 5), replace=False) + 100
            d = rng.uniform(0, 0.5, (len(o), len(h)))
            d[rng.random(d.shape) < 0.5] = np.nan
            ref.update(o, h, d)
            ours.update(o, h, d)
        r = mm.metrics.create().compute(ref, return_dataframe=False, metrics=[
            "idtp", "num_objects", "num_predictions", "idf1", "idp", "idr"])
        idtp = ours.identity_matches()
        assert (idtp, ours.objects, ours.predictions) == (r["idtp"], r["num_objects"], r["num_predictions"])
        if ours.objects + ours.predictions:
            assert 2 * idtp / (ours.objects + ours.predictions) == pytest.approx(r["idf1"])


def test_eval_command_prints_and_writes_every_metric(tmp_path):
    out = tmp_path / "m.json"
    r = posetrack_cli("eval", "--gt", SCENARIOS / "mixed" / "gt", "--pred", SCENARIOS / "mixed" / "pred", "--metrics",
                      "poseval,idf1,hota", "--json", out)
    assert r.returncode == 0, r.stderr
    assert "HOTA" in r.stdout and "IDF1" in r.stdout and "MOTA" in r.stdout
    data = json.loads(out.read_text())
    assert {"mAP", "MOTA", "MOTP", "precision", "recall", "idf1", "hota", "hota_alpha"} <= set(data)
    assert set(data["hota"]) == set(FIELDS) and set(data["idf1"]) == {"IDF1", "IDP", "IDR"}
    assert len(data["hota_alpha"]["HOTA"]) == len(ALPHAS) == 19
    expected = json.loads((SCENARIOS / "mixed" / "expected.json").read_text())
    assert data["hota"]["HOTA"] == pytest.approx(100 * expected["total"]["HOTA"], abs=1e-7)
    bad = posetrack_cli("eval", "--gt", SCENARIOS / "mixed" / "gt", "--pred", SCENARIOS / "mixed" / "pred", "--metrics",
                        "hota,mota")
    assert bad.returncode == 2 and "choose from" in bad.stderr
