"""Tracking: OKS, IoU, assignment, flow propagation, track lifecycle, and the stress comparison on synthetic scenes."""

from dataclasses import replace

import numpy as np
import pytest

from posetrack.bench.stress import stress
from posetrack.skeleton import POSETRACK17
from posetrack.synth import preset
from posetrack.track import (
    OneEuroConfig,
    PoseTracker,
    TrackerConfig,
    assign,
    box_iou,
    oks,
    propagate,
)
from posetrack.track.flow import FlowConfig, flow_scale, to_gray, track_points
from posetrack.types import Poses

SIGMAS = POSETRACK17.sigmas


def test_oks_matches_the_coco_formula(rng):
    a = rng.uniform(0, 100, (3, 17, 2))
    b = a[[0, 2]] + rng.normal(0, 3, (2, 17, 2))
    areas = np.full((3, 2), 5000.0)
    sim, shared = oks(a, b, SIGMAS, areas)
    d2 = ((a[0] - b[0]) ** 2).sum(-1)
    expected = np.mean(np.exp(-d2 / (2 * 5000.0 * (2 * SIGMAS) ** 2)))
    assert sim.shape == (3, 2) and (shared == 17).all()
    assert sim[0, 0] == pytest.approx(expected)
    assert sim[0, 0] > sim[1, 0] and sim[2, 1] > sim[1, 1]
    same, _ = oks(a, a, SIGMAS, np.full((3, 3), 5000.0))
    np.testing.assert_allclose(np.diag(same), 1.0)


def test_oks_ignores_invalid_joints():
    a = np.zeros((1, 17, 2))
    b = np.zeros((1, 17, 2))
    b[0, :8] = 500.0  # far off, but marked invalid
    valid = np.ones((1, 1, 17), bool)
    valid[0, 0, :8] = False
    sim, shared = oks(a, b, SIGMAS, np.full((1, 1), 1000.0), valid)
    assert sim[0, 0] == pytest.approx(1.0) and shared[0, 0] == 9
    none, count = oks(a, b, SIGMAS, np.full((1, 1), 1000.0), np.zeros((1, 1, 17), bool))
    assert none[0, 0] == 0 and count[0, 0] == 0


def test_box_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0], [0, 0]])


def test_hungarian_beats_greedy_and_gate_holds():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    r, c = assign(sim, gate=0.05, method="hungarian")
    assert sorted(zip(r, c)) == [(0, 1), (1, 0)]  # total 1.65
    r, c = assign(sim, gate=0.05, method="greedy")
    assert sorted(zip(r, c)) == [(0, 0), (1, 1)]  # takes 0.9 first: total 1.0
    r, c = assign(sim, gate=0.5, method="greedy")
    assert sorted(zip(r, c)) == [(0, 0)]
    r, c = assign(np.array([[0.3]]), gate=0.5)
    assert len(r) == 0


def _textured(rng, shape=(240, 320)):
    import cv2

    noise = rng.integers(0, 256, (shape[0] // 4, shape[1] // 4), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, shape[::-1], interpolation=cv2.INTER_LINEAR), (5, 5), 1.0)


def test_flow_recovers_a_shift(rng):
    img = _textured(rng)
    moved = np.roll(img, (3, 5), axis=(0, 1))  # content moves right 5, down 3
    pts = rng.uniform(40, 200, (30, 2)).astype(np.float32)
    new, ok = track_points(img, moved, pts)
    assert ok.mean() > 0.9
    np.testing.assert_allclose(np.median(new[ok] - pts[ok], axis=0), [5, 3], atol=0.1)


def test_propagation_moves_untrusted_points_with_their_person(rng):
    img = _textured(rng)
    moved = np.roll(img, (0, 6), axis=(0, 1))
    kp = rng.uniform(40, 200, (2, 17, 2)).astype(np.float32)
    use = np.ones((2, 17), bool)
    use[1] = False  # person 1 is not tracked at all: it moves with the frame's (camera) motion
    use[0, :3] = False  # a few of person 0's points are not tracked: they move with person 0
    out, camera = propagate(img, moved, kp, use)
    np.testing.assert_allclose(camera, [6, 0], atol=0.2)
    np.testing.assert_allclose(out - kp, np.broadcast_to([6, 0], kp.shape), atol=0.3)


def test_flow_on_a_scaled_down_frame_moves_points_in_frame_pixels(rng):
    """A 1080p frame's flow runs at half size (``FlowConfig.max_side`` 960); points and motion stay in the frame's
    pixels, and a 640x360 frame is not scaled at all."""
    img = _textured(rng, (1080, 1920))
    moved = np.roll(img, (4, 10), axis=(0, 1))
    config = FlowConfig()
    scale = flow_scale(img.shape, config.max_side)
    small, small_moved = to_gray(img, config.max_side), to_gray(moved, config.max_side)
    assert scale == 0.5 and small.shape == (540, 960) and flow_scale((360, 640), config.max_side) == 1.0
    kp = rng.uniform(200, 900, (3, 17, 2)).astype(np.float32)
    out, camera = propagate(small, small_moved, kp, np.ones((3, 17), bool), config, scale)
    np.testing.assert_allclose(camera, [10, 4], atol=0.3)
    np.testing.assert_allclose(np.median(out - kp, axis=(0, 1)), [10, 4], atol=0.3)


def _poses(keypoints, scores=None):
    keypoints = np.asarray(keypoints, np.float32).reshape(-1, 17, 2)
    n = len(keypoints)
    scores = np.full((n, 17), 0.9, np.float32) if scores is None else scores
    boxes = np.concatenate([keypoints.min(1), keypoints.max(1)], 1) if n else np.zeros((0, 4), np.float32)
    return Poses(keypoints, scores, boxes, np.ones(n, np.float32), POSETRACK17)


def _person(rng, x, y):
    return np.stack([x + rng.uniform(-20, 20, 17), y + rng.uniform(-60, 60, 17)], 1)


def test_lifecycle_birth_stable_ids_reidentification_death(rng):
    a, b = _person(rng, 100, 200), _person(rng, 400, 200)
    tracker = PoseTracker(TrackerConfig(flow=None, max_age=3))
    first = tracker.update(_poses([a, b])).tracked
    assert first.track_ids.tolist() == [0, 1]
    second = tracker.update(_poses([b + 2, a + 2])).tracked  # order does not matter
    assert second.track_ids.tolist() == [1, 0]
    tracker.update(_poses([a + 4]))  # b unseen for 2 frames
    tracker.update(_poses([a + 6]))
    back = tracker.update(_poses([a + 8, b + 2])).tracked  # within max_age: re-identified
    assert back.track_ids.tolist() == [0, 1]
    for k in range(5):  # b gone for longer than max_age
        tracker.update(_poses([a + 10 + 2 * k]))
    again = tracker.update(_poses([a + 20, b + 2])).tracked
    assert again.track_ids.tolist() == [0, 2]  # a new identity; ids are never reused


def test_low_confidence_poses_fall_back_to_boxes(rng):
    a = _person(rng, 100, 200)
    tracker = PoseTracker(TrackerConfig(flow=None))
    tracker.update(_poses([a]))
    faint = np.full((1, 17), 0.1, np.float32)  # no confident joints: OKS is unusable, the box decides
    out = tracker.update(_poses([a + 3], faint)).tracked
    assert out.track_ids.tolist() == [0]


def test_smoothing_reduces_jitter_and_keeps_ids(rng):
    a = _person(rng, 300, 200)
    raw, smooth = PoseTracker(TrackerConfig(flow=None)), PoseTracker(TrackerConfig(flow=None, smoothing=OneEuroConfig()))
    jitter_raw, jitter_smooth = [], []
    for _ in range(40):
        poses = _poses([a + rng.normal(0, 2, a.shape)])
        r, s = raw.update(poses).tracked, smooth.update(poses).tracked
        assert r.track_ids.tolist() == s.track_ids.tolist() == [0]
        jitter_raw.append(r.keypoints[0])
        jitter_smooth.append(s.keypoints[0])
    assert np.std(jitter_smooth[10:], axis=0).mean() < 0.6 * np.std(jitter_raw[10:], axis=0).mean()


def test_empty_frames_are_fine():
    tracker = PoseTracker()
    out = tracker.update(_poses(np.zeros((0, 17, 2))), np.zeros((64, 64, 3), np.uint8)).tracked
    assert len(out.track_ids) == 0


@pytest.mark.parametrize(("scene", "switch_ratio"), [("crossing", 1.0), pytest.param("pan", 0.6, marks=pytest.mark.slow)])
def test_flow_oks_hungarian_beats_box_iou_greedy(scene, switch_ratio):
    """On crossing people and a fast camera pan, flow + pose + Hungarian tracks better than box-IoU greedy tracking
    without flow (higher MOTA, fewer identity switches: under ``switch_ratio`` times as many), from the same
    corrupted ground truth. The margin is wide where the camera moves (the flow measures it), narrow for crossings:
    the box IoU is of Kalman-predicted boxes in both, and a pose the previous frame did not see is not trusted
    (``similarity.pose_trust``), so re-identification after an occlusion is by box either way."""
    ours = [stress(preset(scene, frames=150), seed, TrackerConfig()) for seed in (0, 1)]
    boxes = [stress(preset(scene, frames=150), seed, TrackerConfig(similarity="iou", flow=None, assignment="greedy"))
             for seed in (0, 1)]
    assert sum(r.metrics.total("mota") for r in ours) > sum(r.metrics.total("mota") for r in boxes)
    assert sum(r.switches for r in ours) < switch_ratio * sum(r.switches for r in boxes)


def test_similarity_is_a_function_you_pass(rng):
    """The tracker matches by whatever similarity its config names or is given (norfair-style)."""
    a, b = _person(rng, 100, 200), _person(rng, 400, 200)
    seen = []

    def reversed_order(tracks, poses):  # prefers track i for pose N-1-i: ids come out swapped
        seen.append((len(tracks), len(poses)))
        return np.fliplr(np.eye(len(tracks), len(poses)))

    tracker = PoseTracker(TrackerConfig(flow=None, similarity=reversed_order))
    assert tracker.update(_poses([a, b])).tracked.track_ids.tolist() == [0, 1]
    assert tracker.update(_poses([a + 1, b + 1])).tracked.track_ids.tolist() == [1, 0]
    assert seen == [(0, 2), (2, 2)]
    iou = PoseTracker(TrackerConfig(flow=None, similarity="iou"))
    iou.update(_poses([a, b]))
    assert iou.update(_poses([b + 1, a + 1])).tracked.track_ids.tolist() == [1, 0]


def test_unknown_similarity_name_is_a_clear_error():
    from posetrack.errors import PosetrackError

    with pytest.raises(PosetrackError, match=r"tracker\.similarity = 'cosine': must be one of pose\+motion, oks"):
        PoseTracker(TrackerConfig(similarity="cosine"))


def test_named_oks_similarity_uses_the_config_thresholds(rng):
    from posetrack.track import Tracks, iou_similarity, oks_similarity
    from posetrack.track.similarity import motion_similarity

    a = _person(rng, 100, 200)
    poses = _poses([a + 3], scores=np.full((1, 17), 0.5, np.float32))
    tracks = Tracks.new(np.array([0]), _poses([a]), np.array([0]))
    tracker = PoseTracker(TrackerConfig(similarity="oks", flow=None, min_keypoint_score=0.6))  # no joint: IoU
    np.testing.assert_allclose(tracker.similarity(tracks, poses), iou_similarity(tracks, poses))
    np.testing.assert_allclose(PoseTracker(TrackerConfig(similarity="oks", flow=None)).similarity(tracks, poses),
                               oks_similarity(tracks, poses))
    assert not np.allclose(oks_similarity(tracks, poses), iou_similarity(tracks, poses))
    blend = PoseTracker(TrackerConfig(flow=None, motion_weight=0.25)).similarity(tracks, poses)
    np.testing.assert_allclose(blend, 0.75 * oks_similarity(tracks, poses) + 0.25 * motion_similarity(tracks, poses))


# ---- the motion cue, the two score passes, collapsed poses ------------------------------------------------------


def _frame(keypoints, boxes, box_scores=None):
    keypoints = np.asarray(keypoints, np.float32).reshape(-1, 17, 2)
    n = len(keypoints)
    scores = np.full(n, 0.9, np.float32) if box_scores is None else np.asarray(box_scores, np.float32)
    return Poses(keypoints, np.full((n, 17), 0.9, np.float32), np.asarray(boxes, np.float32).reshape(-1, 4), scores,
                 POSETRACK17)


def _crossing(rng, frames=24):
    """Two people walking towards each other at 8 px/frame and passing, A in front: while their boxes overlap, the
    pose model puts B's joints on A (B's estimated pose is A's, slightly jittered), as on the crowd clips."""
    shape = rng.uniform([-20, -60], [20, 60], (17, 2))
    for t in range(frames):
        xa, xb = 100 + 8 * t, 300 - 8 * t
        box_a, box_b = [xa - 25, 140, xa + 25, 260], [xb - 25, 140, xb + 25, 260]
        pose_a = np.array([xa, 200]) + shape
        overlap = abs(xa - xb) < 50
        pose_b = pose_a + rng.normal(0, 1.0, (17, 2)) if overlap else np.array([xb, 200]) + shape
        yield t, overlap, _frame([pose_a, pose_b], [box_a, box_b])


def test_collapsed_poses_keep_the_identities_of_the_boxes(rng):
    """A's pose on both boxes: the motion-predicted boxes keep A's identity on A's box through the crossing, B stays
    B on B's box with no scored joint (``occluded="box"``: the pose there is A's) or is left out (``"hidden"``: one
    pose, not two, on the person in front), and B comes back as B after it."""
    tracker = PoseTracker(TrackerConfig(flow=None))
    hiding = PoseTracker(TrackerConfig(flow=None, occluded="hidden"))
    before = PoseTracker(replace(TrackerConfig.oks_only(), flow=None))
    owner_before = []
    for _t, overlap, poses in _crossing(rng):
        update, hidden = tracker.update(poses), hiding.update(poses)
        assert update.kept.tolist() == [0, 1] and update.tracked.track_ids.tolist() == [0, 1]
        np.testing.assert_allclose(update.tracked.boxes, poses.boxes, atol=8)  # each id on its own box
        assert (update.tracked.scores[1] == 0).all() == overlap  # B's joints unscored while A's pose is on B's box
        if overlap:
            assert hidden.kept.tolist() == [0] and hidden.tracked.track_ids.tolist() == [0]  # B's copy left out
        else:
            assert hidden.kept.tolist() == [0, 1] and hidden.tracked.track_ids.tolist() == [0, 1]
        owner_before.append(before.update(poses).tracked.track_ids.tolist())
    # the pose-only tracker has no way to keep them apart: its ids change hands during the overlap
    assert any(ids != [0, 1] for ids in owner_before)


def test_a_tracked_person_walked_in_front_of_keeps_their_track(rng):
    """B is tracked; A comes into view in front of B (a lower box, first seen overlapping B, as someone stepping
    out from behind a pillar would) and walks on past, and while they overlap B's estimated pose is A's. B's track
    follows B's own (hidden) box, not A's, so A gets a new identity, only A's pose is output, and B is still B once
    A has passed (before, B's track took A's box and the identities swapped)."""
    shape = rng.uniform([-20, -60], [20, 60], (17, 2))
    box_b = np.array([275, 140, 325, 260], np.float32)
    pose_b = np.array([300, 200]) + shape
    tracker = PoseTracker(TrackerConfig(flow=None))
    assert tracker.update(_frame([pose_b], [box_b])).tracked.track_ids.tolist() == [0]
    assert tracker.update(_frame([pose_b], [box_b])).tracked.track_ids.tolist() == [0]
    overlapped = False
    for xa in range(270, 380, 10):
        box_a = np.array([xa - 25, 150, xa + 25, 270], np.float32)
        pose_a = np.array([xa, 210]) + shape
        overlap = abs(xa - 300) < 40
        overlapped |= overlap
        seen_b = pose_a + rng.normal(0, 1.0, (17, 2)) if overlap else pose_b
        update = tracker.update(_frame([seen_b, pose_a], [box_b, box_a]))
        assert update.tracked.track_ids.tolist() == [0, 1]  # B on B's box, A on A's
        assert (update.tracked.scores[0] == 0).all() == overlap  # while A's pose is on B's box, B's joints are unscored
    assert overlapped


def test_collapsed_pose_rule_keeps_the_front_person(rng):
    """Of two coinciding poses, the one whose box reaches lowest (nearest the camera) stays; a third pose elsewhere
    is not part of it."""
    from posetrack.track.tracker import collapsed_poses

    pose = np.array([200, 200]) + rng.uniform([-20, -60], [20, 60], (17, 2))
    front = np.concatenate([pose.min(0), pose.max(0)])
    behind = front + np.array([30, -20, 30, -15])
    poses = _frame([pose + 1, pose, pose + np.array([400, 0])], [behind, front, front + np.array([400, 0, 400, 0])])
    hidden, collapsed = collapsed_poses(poses, 0.9, 0.3)
    assert hidden.tolist() == [True, False, False] and collapsed.tolist() == [True, True, False]
    assert not collapsed_poses(poses, None, 0.3)[0].any()


def test_less_confident_poses_continue_tracks_but_never_start_them(rng):
    """ByteTrack's second pass: a half-hidden person scoring 0.5 keeps their track; a 0.5 pose nobody tracked is
    dropped; below low_score nothing is used."""
    a = _person(rng, 100, 200)
    box = np.concatenate([a.min(0), a.max(0)])
    tracker = PoseTracker(TrackerConfig(flow=None))
    assert tracker.update(_frame([a], [box], [0.9])).tracked.track_ids.tolist() == [0]
    b = _person(rng, 500, 200)
    update = tracker.update(_frame([a + 2, b], [box + 2, np.concatenate([b.min(0), b.max(0)])], [0.5, 0.5]))
    assert update.tracked.track_ids.tolist() == [0] and update.kept.tolist() == [0]
    update = tracker.update(_frame([a + 4], [box + 4], [0.2]))
    assert len(update.tracked) == 0 and update.kept.tolist() == []


def test_predicted_boxes_follow_velocity_and_camera():
    """A track's box moves with its velocity each frame; a camera motion (an affine map of the previous frame onto
    the current one) moves it as it moves the picture."""
    from posetrack.track import kalman

    mean, cov = kalman.initiate(np.array([[0, 0, 10, 20]], np.float32))
    mean[:, 4:6] = [2.0, 0.0]  # 2 px/frame to the right
    mean, _ = kalman.predict(mean, cov)
    np.testing.assert_allclose(kalman.state_to_xyxy(mean), [[2, 0, 12, 20]], atol=1e-5)
    up = np.array([[1, 0, 0], [0, 1, 3]], np.float64)  # the picture moved 3 px down
    np.testing.assert_allclose(kalman.state_to_xyxy(kalman.shifted(mean, up)), [[2, 3, 12, 23]], atol=1e-5)


def test_a_track_learns_its_true_velocity(rng):
    """6 px/frame in, 6 px/frame out (the velocity once came out halved: the frame gap was counted twice); the
    Kalman filter gets there within a second."""
    a = _person(rng, 100, 200)
    tracker = PoseTracker(TrackerConfig(flow=None))
    for t in range(25):
        tracker.update(_poses([a + np.array([6 * t, 0])]))
    np.testing.assert_allclose(tracker._tracks.velocity, [[6, 0]], atol=0.1)


def _dressed(image, box, bgr):
    x1, y1, x2, y2 = (int(v) for v in box)
    image[y1:y2, x1:x2] = bgr


def test_colours_reidentify_people_after_they_were_lost(rng):
    """A (red) and B (blue) vanish for three frames and reappear in the middle, each nearer the other's last place:
    position cannot say who is who, their clothes can."""
    shape = rng.uniform([-20, -60], [20, 60], (17, 2))

    def frame(xs, colours):
        image = np.full((360, 640, 3), 90, np.uint8)
        boxes = [[x - 25, 140, x + 25, 260] for x in xs]
        for box, bgr in zip(boxes, colours):
            _dressed(image, box, bgr)
        return _frame([np.array([x, 200]) + shape for x in xs], boxes), image

    red, blue = (30, 30, 220), (220, 60, 30)
    results = {}
    for weight in (0.45, 0.0):
        tracker = PoseTracker(TrackerConfig(flow=None, appearance_weight=weight, max_age=6))
        first = tracker.update(*frame([100, 300], [red, blue])).tracked
        for _ in range(3):
            tracker.update(*frame([], []))
        results[weight] = (first.track_ids.tolist(), tracker.update(*frame([230, 170], [red, blue])).tracked.track_ids.tolist())
    assert results[0.45] == ([0, 1], [0, 1])  # red is A again, blue is B
    assert results[0.0][1] != [0, 1]  # by position alone they are swapped or new


def test_colour_signatures():
    from posetrack.track.appearance import appearance_similarity, colour_signatures

    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :100] = (30, 30, 220)
    image[:, 100:] = (220, 60, 30)
    sig = colour_signatures(image, np.array([[10, 10, 90, 90], [110, 10, 190, 90], [20, 20, 80, 80], [0, 0, 1, 1]]))
    np.testing.assert_allclose(sig[:3].sum(1), 1.0, rtol=1e-6)
    assert sig[3].sum() == 0  # too small to read: no signature
    sim = appearance_similarity(sig, sig)
    assert sim[0, 2] == pytest.approx(1.0) and sim[0, 1] < 0.05 and sim[3, 0] == 0


def test_one_update_returns_everything_and_a_stale_prediction_is_refused(rng):
    """norfair's shape: ``update`` gives the tracked poses, where each person should be next, and who went missing;
    a ``predict`` made before the last update is refused instead of silently used."""
    a, b = _person(rng, 100, 200), _person(rng, 400, 200)
    tracker = PoseTracker(TrackerConfig(flow=None))
    first = tracker.update(_poses([a, b]))
    assert first.proposals.ids.tolist() == [0, 1] and len(first.missing) == 0
    early = tracker.predict(None)
    second = tracker.update(_poses([a + 2]), prediction=early)  # b missed in this frame
    assert second.tracked.track_ids.tolist() == [0] and second.missing.ids.tolist() == [1]
    assert second.proposals.ids.tolist() == [0]
    with pytest.raises(ValueError, match="before the last update"):
        tracker.update(_poses([a + 4]), prediction=early)


def test_recovery_is_a_function_you_pass(rng):
    """The tracks that found no pose are offered to ``recover``; what it returns continues them (and what it does
    not find stays missing)."""
    a, b = _person(rng, 100, 200), _person(rng, 400, 200)
    tracker = PoseTracker(TrackerConfig(flow=None))
    tracker.update(_poses([a, b]))
    offered = []

    def recover(missing, tracked):
        offered.append((missing.ids.tolist(), tracked.track_ids.tolist()))
        return missing.ids, _poses([b + 3])

    update = tracker.update(_poses([a + 2]), recover=recover)
    assert offered == [([1], [0])]
    assert update.tracked.track_ids.tolist() == [0, 1] and len(update.missing) == 0
    np.testing.assert_allclose(update.tracked.keypoints[1], b + 3)
    assert update.proposals.ids.tolist() == [0, 1]  # b is followed on, from where it was found
    nothing = tracker.update(_poses([a + 4]), recover=lambda missing, tracked: (missing.ids[:0], _poses([])))
    assert nothing.missing.ids.tolist() == [1]


def test_a_recovered_pose_is_not_trusted_to_tell_people_apart(rng):
    """A pose found only at a track's predicted box (no detector agreeing) continues the track, but in the next frame
    that track is compared by its box alone; a detected pose is compared by its joints as well."""
    from posetrack.track import iou_similarity

    a, b = _person(rng, 100, 200), _person(rng, 400, 200)
    tracker = PoseTracker(TrackerConfig(flow=None))
    tracker.update(_poses([a, b]))
    tracker.update(_poses([a + 2]), recover=lambda missing, tracked: (missing.ids, _poses([b + 2])))
    tracks = tracker.predict(None).tracks
    assert tracks.ids.tolist() == [0, 1] and tracks.detected.tolist() == [True, False]
    later = _poses([a + 4, b + 4])
    blended, boxes = tracker.similarity(tracks, later), iou_similarity(tracks, later)
    np.testing.assert_allclose(blended[1], boxes[1])  # the recovered track: its box alone
    assert not np.allclose(blended[0], boxes[0])  # the detected one: its pose too


def test_recovered_poses_are_smoothed_like_the_others(rng):
    """A pose found by ``recover`` goes through the track's filter too (it once skipped it, so the filter restarted
    from a stale state the next frame and smoothing shook the joints more than it steadied them)."""
    a, b = _person(rng, 100, 200), _person(rng, 400, 200)
    tracker = PoseTracker(TrackerConfig(flow=None, smoothing=OneEuroConfig()))
    tracker.update(_poses([a, b]))
    update = tracker.update(_poses([a]), recover=lambda missing, tracked: (missing.ids, _poses([b + 10])))
    recovered = update.tracked.keypoints[update.tracked.track_ids.tolist().index(1)]
    assert np.all(recovered - b > 0.5) and np.all(recovered - b < 9.5)  # between the last pose and the new one
