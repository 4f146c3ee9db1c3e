"""The synthetic world: determinism, exact ground truth, visibility, file round trip, preset promises."""

import hashlib
import itertools
import json

import cv2
import numpy as np
import pytest

from posetrack.io.posetrack_json import read_sequence
from posetrack.skeleton import POSETRACK17
from posetrack.synth import MIN_VISIBLE, SyntheticVideo, preset
from posetrack.synth import figure as fig
from posetrack.synth.files import clip_name, write_clip
from posetrack.synth.samples import frame_samples, person_samples
from posetrack.synth.stats import clip_stats


def _digest(video) -> tuple[str, list]:
    h = hashlib.sha256()
    truths = []
    for frame, truth in video:
        h.update(frame.image.tobytes())
        truths.append(truth)
    return h.hexdigest(), truths


def test_same_seed_same_clip_other_seed_other_clip(tmp_path):
    cfg = preset("hard", frames=25)  # every effect on: pan, zoom, shake, blur, noise, flicker
    a, truths_a = _digest(SyntheticVideo(cfg, seed=7))
    b, truths_b = _digest(SyntheticVideo(cfg, seed=7))
    c, _ = _digest(SyntheticVideo(cfg, seed=8))
    assert a == b != c
    for ta, tb in zip(truths_a, truths_b):
        np.testing.assert_array_equal(ta.keypoints, tb.keypoints)
    json_a = write_clip(preset("crossing", frames=12), 3, tmp_path / "a", "100003_mpii_test")[1].read_bytes()
    json_b = write_clip(preset("crossing", frames=12), 3, tmp_path / "b", "100003_mpii_test")[1].read_bytes()
    assert json_a == json_b


@pytest.fixture(scope="module")
def crowd_with_masks():
    return list(SyntheticVideo(preset("crowd", frames=60), seed=2, masks=True))


def _mask_at(truth, keypoints):
    xy = np.round(keypoints).astype(int)
    return truth.masks[xy[:, 1], xy[:, 0]]


def test_visible_joints_lie_on_their_own_figure(crowd_with_masks):
    hits = total = 0
    for _, truth in crowd_with_masks:
        for k in range(len(truth)):
            visible = truth.visibility[k] == 2
            labels = _mask_at(truth, truth.keypoints[k][visible])
            hits += int((labels == truth.track_ids[k] + 1).sum())
            total += int(visible.sum())
    assert total > 3000
    assert hits / total > 0.99  # the rest are joints on a sub-pixel rasterisation edge


def test_joints_hidden_by_others_show_a_nearer_person(crowd_with_masks):
    hidden_total = shows_other = 0
    for _, truth in crowd_with_masks:
        for k in range(len(truth)):
            hidden = truth.occluded_by_other[k]
            labels = _mask_at(truth, truth.keypoints[k][hidden])
            # masks are painted far to near, so the label on top belongs to the nearer person
            shows_other += int(((labels != truth.track_ids[k] + 1) & (labels > 0)).sum())
            hidden_total += int(hidden.sum())
    assert hidden_total > 300
    assert shows_other / hidden_total > 0.97
    assert all((t.visibility[t.occluded_by_other] == 1).all() for _, t in crowd_with_masks)


def test_visibility_codes_and_annotation_rule(crowd_with_masks):
    w, h = 640, 360
    for _, truth in crowd_with_masks:
        kp, vis = truth.keypoints, truth.visibility
        inside = (kp[..., 0] >= 0) & (kp[..., 0] <= w - 1) & (kp[..., 1] >= 0) & (kp[..., 1] <= h - 1)
        assert ((vis == 0) == ~inside).all()
        assert ((vis == 2).sum(1) >= MIN_VISIBLE).all()
        assert (truth.boxes[:, 2] > truth.boxes[:, 0]).all() and (truth.boxes[:, :2] >= 0).all()
        assert len(set(truth.track_ids.tolist())) == len(truth)
        visible = vis == 2  # visible joints lie inside their person's box
        x, y = kp[..., 0], kp[..., 1]
        b = truth.boxes[:, None]
        assert ((x >= b[..., 0] - 1) & (x <= b[..., 2] + 1) & (y >= b[..., 1] - 1) & (y <= b[..., 3] + 1))[visible].all()


@pytest.mark.parametrize("yaw,nose,left_eye,right_eye,left_ear,right_ear", [
    (0.0, True, True, True, True, True),  # facing the camera
    (np.pi / 2, True, False, True, False, True),  # facing image right: the right side faces the camera
    (-np.pi / 2, True, True, False, True, False),
    (np.pi, False, False, False, True, True),  # back view: no face, both ears
])
def test_face_features_face_the_camera_only_from_the_front(yaw, nose, left_eye, right_eye, left_ear, right_ear):
    """Which head points face the camera decides their visibility and whether the face is drawn; this is what
    makes facing direction, and so left versus right, learnable."""
    body = fig.Body.random(np.random.default_rng(0))
    pts = fig.joints_3d(body, fig.Posture(yaw=yaw))
    facing = (fig.outward_normals(body, pts) @ fig.yaw_matrix(yaw).T)[:, 2] >= -0.1
    names = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert [bool(facing[fig.P[n]]) for n in names] == [nose, left_eye, right_eye, left_ear, right_ear]


def test_figure_joints_are_consistent():
    body = fig.Body.random(np.random.default_rng(1))
    pts = fig.joints_3d(body, fig.Posture())
    assert abs(pts[fig.P["left_ankle"], 1] - 0.035) < 1e-9  # standing on the ground
    assert 0.9 < pts[fig.P["head_top"], 1] < 1.05  # about one body height tall
    assert pts[fig.P["left_shoulder"], 0] > 0 > pts[fig.P["right_shoulder"], 0]  # x is the person's left
    crouched = fig.joints_3d(body, fig.Posture(crouch=0.8))
    assert crouched[fig.P["head_top"], 1] < pts[fig.P["head_top"], 1] - 0.1
    assert min(crouched[fig.P["left_ankle"], 1], crouched[fig.P["right_ankle"], 1]) == pytest.approx(0.035)


def test_posetrack_json_round_trips(tmp_path):
    cfg = preset("crossing", frames=40)
    name = clip_name("crossing", 11)
    video, path = write_clip(cfg, 11, tmp_path, name)
    seq = read_sequence(path)
    truths = [t for _, t in SyntheticVideo(cfg, 11)]
    assert seq.name == name and (seq.width, seq.height) == cfg.size and len(seq.frames) == len(truths)
    assert sum(len(f) for f in seq.frames) > 100
    for frame, truth in zip(seq.frames, truths):
        np.testing.assert_array_equal(frame.track_ids, truth.track_ids)
        np.testing.assert_array_equal(frame.flags, truth.visibility)
        present = truth.visibility > 0
        np.testing.assert_allclose(frame.keypoints[present], truth.keypoints[present], atol=0.006)
        assert (frame.keypoints[~present] == 0).all()
        np.testing.assert_allclose(frame.boxes, truth.boxes, atol=0.011)
        if len(truth):
            np.testing.assert_allclose(frame.head_boxes, truth.head_boxes, atol=0.011)
    data = json.loads(path.read_text())
    assert data["categories"][0]["keypoints"] == list(POSETRACK17.joints)
    assert data["images"][5]["file_name"] == f"images/val/{name}/000005.jpg"
    assert data["images"][5]["id"] == int(f"1{name[:6]}0005")
    capture = cv2.VideoCapture(str(video))
    decoded = 0
    while capture.read()[0]:
        decoded += 1
    assert decoded == 40


def test_interrupted_clip_keeps_what_was_rendered(tmp_path):
    seen = itertools.count(1)

    def stop_after_five(_):
        if next(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_clip(preset("easy", frames=50), 0, tmp_path, "100000_mpii_test", progress=stop_after_five)
    assert len(read_sequence(tmp_path / "100000_mpii_test.json").frames) == 5
    capture = cv2.VideoCapture(str(tmp_path / "100000_mpii_test.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5


def _stats(name, seeds=(0, 1, 2), frames=250):
    runs = [clip_stats(t for _, t in SyntheticVideo(preset(name, frames=frames), s)) for s in seeds]
    return runs


@pytest.mark.slow
def test_presets_deliver_their_difficulty():
    easy, crossing, crowd = _stats("easy"), _stats("crossing"), _stats("crowd")
    # crossing: people walk through each other, >= 1.5 crossings per 100 frames, >= 8% occluded person-frames
    assert sum(r.crossings for r in crossing) >= 1.5 * 7.5
    assert sum(r.occluded_person_frames for r in crossing) >= 0.08 * sum(r.person_frames for r in crossing)
    # crowd: about 10 people in view, >= 8 crossings per 100 frames, >= 15% occluded person-frames
    assert np.mean([r.person_frames / r.frames for r in crowd]) >= 7
    assert sum(r.crossings for r in crowd) >= 8 * 7.5
    assert sum(r.occluded_person_frames for r in crowd) >= 0.15 * sum(r.person_frames for r in crowd)
    # easy: no planned crossings; fewer occlusions than the crossing preset
    assert sum(r.crossings for r in easy) < sum(r.crossings for r in crossing)
    assert max(r.occluded_joint_fraction for r in easy) < 0.035
    # people enter and leave: more identities than people in view at a time
    assert all(r.tracks > 4 for r in crossing)


def test_person_heights_span_the_preset_range():
    heights = []
    for _, truth in SyntheticVideo(preset("crowd", frames=100), seed=5):
        full = (truth.visibility > 0).all(1)
        heights += list(truth.boxes[full, 3] - truth.boxes[full, 1])
    assert min(heights) < 60 and max(heights) > 150


def test_training_streams():
    persons = list(itertools.islice(person_samples(seed=3), 300))
    visible = [int((p.visibility == 2).sum()) for p in persons]
    # every person the ground truth annotates, mostly hidden ones included
    assert all(p.keypoints.shape == (17, 2) for p in persons)
    assert min(visible) == MIN_VISIBLE and sum(v < 6 for v in visible) >= 5
    assert all(p.image.shape == (360, 640, 3) for p in persons)
    frames = list(itertools.islice(frame_samples(seed=3), 10))
    assert all(f.boxes.ndim == 2 and f.boxes.shape[1] == 4 for f in frames)


def test_person_samples_can_favour_people_hidden_behind_others():
    """unoccluded_keep=0 keeps only people with a joint hidden by someone else: every sample has an occluded joint,
    and the same clips give fewer samples than with the default, which keeps everyone."""
    from itertools import islice

    from posetrack.synth import PRESETS
    from posetrack.synth.samples import person_samples

    crowd = [PRESETS["crowd"]]
    focused = list(islice(person_samples(0, crowd, frames_per_clip=12, unoccluded_keep=0.0), 60))
    everyone = list(islice(person_samples(0, crowd, frames_per_clip=12), 60))
    assert all((s.visibility == 1).any() for s in focused)

    def frames(samples):  # how many frames the samples came from (a frame's persons share its image)
        return len({id(s.image) for s in samples})

    assert frames(focused) > frames(everyone)
