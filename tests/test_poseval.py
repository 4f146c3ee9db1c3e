"""The PoseTrack evaluator equals poseval: the worked example to 1e-4, motmetrics' bookkeeping, and the quirks."""

from pathlib import Path

import numpy as np
import pytest

from posetrack.errors import PosetrackError
from posetrack.eval.clear import MotAccumulator
from posetrack.eval.poseval import (
    JOINTS,
    PRINTED,
    evaluate,
    evaluate_folders,
)
from posetrack.io.posetrack_json import (
    PoseTrackFrame,
    PoseTrackSequence,
    write_sequence,
)
from posetrack.skeleton import POSETRACK17

EXAMPLE = Path(__file__).parent / "data" / "posetrack-example"

# poseval's own output for the worked example (commit 4258a15, motmetrics 1.4.0):
# joint: (AP, MOTA, MOTP, precision, recall, objects, misses, false positives, switches, detections, sumD)
POSEVAL = {
    "right_ankle": (100.0, 95.65217391304348, 87.44077658520266, 100.0, 100.0, 46, 0, 0, 2, 46, 5.77724277080678),
    "right_knee": (100.0, 95.65217391304348, 87.31177032728472, 100.0, 100.0, 46, 0, 0, 2, 46, 5.836585649449027),
    "right_hip": (100.0, 95.65217391304348, 87.0311664399313, 100.0, 100.0, 46, 0, 0, 2, 46, 5.965663437631603),
    "left_hip": (100.0, 95.65217391304348, 87.76212940749272, 100.0, 100.0, 46, 0, 0, 2, 46, 5.629420472553344),
    "left_knee": (100.0, 95.65217391304348, 89.09829516875202, 100.0, 100.0, 46, 0, 0, 2, 46, 5.01478422237407),
    "left_ankle": (100.0, 95.65217391304348, 86.72275723499988, 100.0, 100.0, 46, 0, 0, 2, 46, 6.107531671900054),
    "right_wrist": (100.0, 95.65217391304348, 86.96278054254381, 100.0, 100.0, 46, 0, 0, 2, 46, 5.99712095042985),
    "right_elbow": (100.0, 95.65217391304348, 86.19092994514884, 100.0, 100.0, 46, 0, 0, 2, 46, 6.35217222523154),
    "right_shoulder": (100.0, 91.30434782608697, 86.31274542794691, 97.82608695652173, 97.82608695652173, 46, 1, 1, 2,
                       45, 6.159264557423894),
    "left_shoulder": (100.0, 95.65217391304348, 83.18829576850271, 100.0, 100.0, 46, 0, 0, 2, 46, 7.733383946488757),
    "left_elbow": (100.0, 95.65217391304348, 87.99863025382976, 100.0, 100.0, 46, 0, 0, 2, 46, 5.520630083238312),
    "left_wrist": (100.0, 95.65217391304348, 87.97772308068441, 100.0, 100.0, 46, 0, 0, 2, 46, 5.530247382885172),
    "neck": (100.0, 91.30434782608697, 86.18634652743127, 97.82608695652173, 97.82608695652173, 46, 1, 1, 2, 45,
             6.216144062655928),
    "nose": (100.0, 91.30434782608697, 87.67598474726441, 97.82608695652173, 97.82608695652173, 46, 1, 1, 2, 45,
             5.5458068637310145),
    "head_top": (100.0, 95.65217391304348, 86.75895607458175, 100.0, 100.0, 46, 0, 0, 2, 46, 6.090880205692395),
}


def test_worked_example_equals_poseval():
    m = evaluate_folders(EXAMPLE / "gt", EXAMPLE / "pred")
    for j, name in enumerate(PRINTED):
        ap, mota, motp, pre, rec, obj, miss, fp, sw, det, sum_d = POSEVAL[name]
        got = (m.ap[j], m.mota[j], m.motp[j], m.precision[j], m.recall[j])
        np.testing.assert_allclose(got, (ap, mota, motp, pre, rec), atol=1e-4, err_msg=name)
        c = {k: v[j] for k, v in m.counts.items()}
        assert (c["objects"], c["misses"], c["false_positives"], c["switches"], c["detections"]) == (obj, miss, fp, sw, det)
        assert c["sum_d"] == pytest.approx(sum_d, abs=1e-9)
    summary = m.summary()
    assert summary["mAP"]["total"] == pytest.approx(100.0, abs=1e-4)
    assert summary["MOTA"]["total"] == pytest.approx(94.78260869565219, abs=1e-4)
    assert summary["MOTP"]["total"] == pytest.approx(86.97461916877313, abs=1e-4)
    assert summary["precision"]["total"] == pytest.approx(99.56521739130434, abs=1e-4)
    assert summary["recall"]["total"] == pytest.approx(99.56521739130434, abs=1e-4)
    assert set(summary["MOTA"]) == {"head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "total"}
    assert "& 92.8 & 93.5 & 95.7 & 95.7 & 95.7 & 95.7 & 95.7 & 94.8 & 87.0 & 99.6 & 99.6 \\\\" in m.table()


def test_accumulator_equals_motmetrics_on_random_sequences():
    mm = pytest.importorskip("motmetrics")
    rng = np.random.default_rng(0)
    for _ in range(150):
        ref, ours = mm.MOTAccumulator(auto_id=True), MotAccumulator()
        for _ in range(10):
            o = rng.choice(6, rng.integers(0, 5), replace=False)
            h = rng.choice(7, rng.integers(0, 5), replace=False) + 100
            d = rng.uniform(0, 0.5, (len(o), len(h)))
            d[rng.random(d.shape) < 0.5] = np.nan
            d = np.round(d, 1) if rng.random() < 0.3 else d  # ties
            ref.update(o, h, d)
            ours.update(o, h, d)
        r = mm.metrics.create().compute(ref, return_dataframe=False, metrics=[
            "num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"])
        assert (ours.misses, ours.switches, ours.false_positives, ours.objects, ours.detections) == (
            r["num_misses"], r["num_switches"], r["num_false_positives"], r["num_objects"], r["num_detections"])
        assert ours.sum_d == pytest.approx(ref.events["D"].sum(), abs=1e-9)


# ---- hand-made sequences -------------------------------------------------------------------------

HEAD = np.array([[0.0, 0.0, 30.0, 40.0]])  # diagonal 50 → PCKh@0.5 radius 0.5 * 0.6 * 50 = 15 px
RADIUS = 15.0


def pose(cx: float, cy: float) -> np.ndarray:
    """A (17, 2) pose: joints spread 40 px apart, so a shift by > 15 px fails every joint."""
    return np.stack([cx + 40.0 * (np.arange(17) % 4), cy + 40.0 * (np.arange(17) // 4)], 1)


def gt_frame(*centres, ids=None) -> PoseTrackFrame:
    n = len(centres)
    kp = np.array([pose(*c) for c in centres]).reshape(n, 17, 2)
    flags = np.ones((n, 17), np.int8)
    flags[:, 3:5] = 0  # ears are not annotated
    return PoseTrackFrame(np.array(ids if ids is not None else range(n), np.int64), kp, flags,
                          np.zeros((n, 4)), head_boxes=np.repeat(HEAD, n, 0))


def pr_frame(*people) -> PoseTrackFrame:
    """people: (track id, centre, score)."""
    n = len(people)
    kp = np.array([pose(*c) for _, c, _ in people]).reshape(n, 17, 2)
    return PoseTrackFrame(np.array([p[0] for p in people], np.int64), kp, np.ones((n, 17), np.int8),
                          np.zeros((n, 4)), scores=np.array([[p[2]] * 17 for p in people]).reshape(n, 17))


def seq(frames) -> PoseTrackSequence:
    return PoseTrackSequence("900001_mpii_test", 1000, 1000, list(frames))


def run(gt_frames, pr_frames):
    return evaluate([(seq(gt_frames), seq(pr_frames))])


def test_false_positive_ranks_and_costs_precision():
    gt = [gt_frame((100, 100)) for _ in range(3)]
    pr = [pr_frame((1, (100, 100), 0.9)),
          pr_frame((1, (100, 100), 0.8), (2, (600, 600), 0.95)),  # a confident false positive
          PoseTrackFrame.empty()]  # the last frame: missed, but it still counts for AP
    m = run(gt, pr)
    # ranked: FP 0.95, TP 0.9, TP 0.8 over 3 ground-truth joints → recall 1/3, 2/3 at precision 2/3
    np.testing.assert_allclose(m.ap, 100 * 4 / 9)
    # tracking sees frames 0 and 1 only: 2 matches, 1 false positive
    np.testing.assert_allclose(m.mota, 50.0)
    np.testing.assert_allclose(m.precision, 100 * 2 / 3)
    np.testing.assert_allclose(m.recall, 100.0)
    assert (m.counts["objects"] == 2).all()


def test_pckh_threshold_is_inclusive():
    shift = RADIUS  # exactly on the threshold: matches
    gt = [gt_frame((100, 100)) for _ in range(3)]
    on = run(gt, [pr_frame((0, (100 + shift, 100), 0.5)) for _ in range(3)])
    off = run(gt, [pr_frame((0, (100 + shift + 0.01, 100), 0.5)) for _ in range(3)])
    np.testing.assert_allclose(on.ap, 100.0)
    np.testing.assert_allclose(off.ap, 0.0)
    np.testing.assert_allclose(off.mota, -100.0)  # every joint: one miss and one false positive
    # MOTP: ΣD counts every matched distance twice (raw pair + match event): 1 - 2 * 0.5 = 0
    np.testing.assert_allclose(on.motp, 0.0, atol=1e-9)


def test_frame_without_predictions_counts_one_miss_and_one_fp_per_joint():
    gt = [gt_frame((100, 100), (400, 100), ids=[0, 1]) for _ in range(4)]
    pr = [pr_frame((0, (100, 100), 0.9), (1, (400, 100), 0.9)) for _ in range(4)]
    pr[1] = PoseTrackFrame.empty()  # two people, no prediction: poseval counts 1 miss + 1 FP, not 2 misses
    m = run(gt, pr)
    assert (m.counts["misses"] == 1).all() and (m.counts["false_positives"] == 1).all()
    assert (m.counts["objects"] == 2 + 1 + 2).all()  # frames 0, 2 (frame 3 is left out), placeholder in frame 1


def test_identity_switch_is_counted():
    gt = [gt_frame((100, 100), (400, 100), ids=[0, 1]) for _ in range(5)]
    pr = [pr_frame((0, (100, 100), 0.9), (1, (400, 100), 0.9)) for _ in range(2)]
    pr += [pr_frame((1, (100, 100), 0.9), (0, (400, 100), 0.9)) for _ in range(3)]
    m = run(gt, pr)
    assert (m.counts["switches"] == 2).all()
    np.testing.assert_allclose(m.mota, 100 * (1 - 2 / 8))
    np.testing.assert_allclose(m.ap, 100.0)


def test_unlabeled_frames_are_dropped_with_their_predictions():
    gt = [gt_frame((100, 100)), PoseTrackFrame.empty(is_labeled=False), gt_frame((100, 100)), gt_frame((100, 100))]
    pr = [pr_frame((0, (100, 100), 0.9)), pr_frame((5, (700, 700), 0.99)),  # FP in an unlabeled frame: ignored
          pr_frame((0, (100, 100), 0.9)), pr_frame((0, (100, 100), 0.9))]
    m = run(gt, pr)
    np.testing.assert_allclose(m.ap, 100.0)
    assert (m.counts["false_positives"] == 0).all()


def test_ignore_regions_delete_keypoints_on_both_sides():
    region = np.array([[550.0, 550.0], [900.0, 550.0], [900.0, 900.0], [550.0, 900.0]])
    gt = [gt_frame((100, 100)) for _ in range(3)]
    for frame in gt:
        frame.ignore_regions = [region]
    pr = [pr_frame((0, (100, 100), 0.9), (1, (600, 600), 0.99)) for _ in range(3)]  # the FP lies inside the region
    m = run(gt, pr)
    np.testing.assert_allclose(m.ap, 100.0)
    assert (m.counts["false_positives"] == 0).all()
    without = run([gt_frame((100, 100)) for _ in range(3)], pr)
    assert (without.ap < 100).all() and (without.counts["false_positives"] == 2).all()


def test_missing_scores_rank_last():
    gt = [gt_frame((100, 100)) for _ in range(3)]
    pr = [pr_frame((0, (100, 100), 0.9), (1, (600, 600), 0.5)) for _ in range(3)]
    for frame in pr:
        frame.scores[0] = np.nan  # the true pose has no scores → -9999, ranked below the false positive
    m = run(gt, pr)
    # ranked: 3 FPs (0.5) then 3 TPs (-9999): precision at full recall is 1/2
    np.testing.assert_allclose(m.ap, 50.0)


def test_never_predicted_joint_has_ap_zero_and_counts():
    gt = [gt_frame((100, 100)) for _ in range(3)]
    pr = [pr_frame((0, (100, 100), 0.9)) for _ in range(3)]
    for frame in pr:
        frame.flags[0, POSETRACK17.index("nose")] = 0
    m = run(gt, pr)
    assert m.ap[JOINTS.index("nose")] == 0.0
    assert m.total("ap") == pytest.approx(100 * 14 / 15)



@pytest.mark.parametrize("problem,expected", [
    ("frames", "prediction frames but"),
    ("ids", "repeats a track id"),
    ("one_frame", "at least 2"),
])
def test_bad_input_is_named(problem, expected):
    gt = [gt_frame((100, 100)) for _ in range(3)]
    pr = [pr_frame((0, (100, 100), 0.9)) for _ in range(3)]
    if problem == "frames":
        pr = pr[:2]
    elif problem == "ids":
        pr[1] = pr_frame((0, (100, 100), 0.9), (0, (300, 300), 0.9))
    else:
        gt = [gt[0]] + [PoseTrackFrame.empty() for _ in range(2)]
    with pytest.raises(PosetrackError, match=expected):
        run(gt, pr)


def test_files_round_trip_through_the_evaluator(tmp_path):
    gt = [gt_frame((100, 100), (400, 100), ids=[3, 7]) for _ in range(4)]
    pr = [pr_frame((0, (101, 99), 0.9), (1, (398, 102), 0.8)) for _ in range(4)]
    write_sequence(seq(gt), tmp_path / "gt" / "900001_mpii_test.json")
    write_sequence(seq(pr), tmp_path / "pred" / "900001_mpii_test.json")
    from_files = evaluate_folders(tmp_path / "gt", tmp_path / "pred")
    direct = run(gt, pr)
    np.testing.assert_allclose(from_files.motp, direct.motp, atol=1e-9)
    np.testing.assert_allclose(from_files.ap, 100.0)
    with pytest.raises(PosetrackError, match="prediction file missing"):
        evaluate_folders(tmp_path / "gt", tmp_path / "nothing")
