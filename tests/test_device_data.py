"""The device-resident data path (``posetrack.device``) equals the OpenCV / NumPy path, on CPU tensors: crops,
decoding, buckets, the upload ring, the detector's letterbox, graph capture (with a CPU stand-in for CUDA graphs),
the pose step; and on a GPU where there is one."""


import numpy as np
import pytest
import torch

from posetrack import heatmaps as hm
from posetrack.backends import TorchBackend
from posetrack.device import crops, decode
from posetrack.device.buckets import BUCKETS, bucket, chunks, reachable
from posetrack.pose import TopDownConfig, TopDownEstimator, crop_transforms
from posetrack.pose import crop_batch as cv2_crop_batch
from posetrack.skeleton import COCO17, POSETRACK17
from posetrack.transforms import apply_affine, invert_affine


@pytest.fixture
def frame(rng):
    """A textured 360x640 frame: smooth shapes and noise, so bilinear differences show."""
    y, x = np.mgrid[0:360, 0:640]
    base = np.stack([128 + 100 * np.sin(x / 17.0), 128 + 100 * np.cos(y / 11.0), (x + y) % 256], -1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)

def test_crops_equal_warp_affine_and_normalisation(frame):
    config = TopDownConfig(input_size=(192, 256))
    boxes = np.array([[100, 50, 220, 330], [500, -40, 700, 200], [0, 0, 30, 30], [300.4, 120.7, 361.9, 250.2]])
    reference, to_crop = cv2_crop_batch(frame, boxes, config)
    ours = crops.crop_batch(crops.upload(frame, "cpu"), to_crop, config.input_size).numpy()
    diff = np.abs(ours - reference)
    # OpenCV interpolates with 1/32-pixel weights and rounds to uint8: about one grey level (1/57 normalised)
    assert diff.max() < 0.02 and diff.mean() < 0.005  # half a pixel off would be a mean of 0.06
    assert np.abs(ours[1, :, :5, :] - reference[1, :, :5, :]).max() < 0.05  # outside the frame: black, normalised

def test_keypoints_round_trip_through_the_crop(frame):
    config = TopDownConfig(input_size=(192, 256))
    boxes = np.array([[100, 50, 220, 330], [400, 100, 460, 220]], np.float32)
    _, to_crop = cv2_crop_batch(frame, boxes, config)
    points = np.array([[[150.0, 100.0], [200.5, 300.25]], [[410.0, 110.0], [455.0, 215.0]]])
    in_heatmap = apply_affine(points, to_crop) / 4.0
    back = decode.to_image(torch.as_tensor(in_heatmap), (4.0, 4.0), torch.as_tensor(invert_affine(to_crop)))
    np.testing.assert_allclose(back.numpy(), points, atol=1e-9)

def _blobs(rng, n=6, k=17, h=64, w=48):
    """Gaussian peaks at sub-pixel positions (some near the border, some negative channels) plus noise."""
    y, x = np.mgrid[0:h, 0:w]
    centres = rng.uniform([0.5, 0.5], [w - 1.5, h - 1.5], (n, k, 2))
    centres[0, :4] = [[0.2, 5.0], [w - 1.1, 30.0], [20.0, 0.4], [10.0, h - 1.2]]
    maps = np.exp(-((x - centres[..., :1, None]) ** 2 + (y - centres[..., 1:, None]) ** 2) / (2 * 2.0 ** 2))
    maps += rng.normal(0, 0.01, maps.shape)
    maps[1, :3] = -np.abs(maps[1, :3])  # nothing there
    return maps.astype(np.float32)

@pytest.mark.parametrize("refine", ["argmax", "dark"])
def test_decode_equals_numpy(rng, refine):
    maps = _blobs(rng)
    ref_coords, ref_scores = hm.decode(maps, refine)
    coords, scores = decode.decode(torch.from_numpy(maps), refine)
    assert np.abs(coords.numpy() - ref_coords).max() < 0.01
    np.testing.assert_array_equal(scores.numpy(), ref_scores)

def test_flip_back_equals_numpy(rng):
    maps = _blobs(rng)
    perm = COCO17.flip_permutation()
    for shift in (True, False):
        ours = decode.flip_back(torch.from_numpy(maps), torch.as_tensor(perm), shift).numpy()
        np.testing.assert_array_equal(ours, hm.flip_back(maps, perm, shift))

def test_buckets_and_chunks():
    assert [bucket(n) for n in (1, 2, 3, 5, 16, 17, 64)] == [1, 2, 4, 8, 16, 32, 64]
    with pytest.raises(ValueError, match="chunk it first"):
        bucket(65)
    assert [(s.start, s.stop) for s in chunks(100, 32)] == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert list(chunks(0, 32)) == []

def test_a_warm_up_covers_every_bucket_a_run_can_reach():
    assert reachable(1) == [1] and reachable(3) == [1, 2, 4] and reachable(50) == [1, 2, 4, 8, 16, 32, 64]
    assert reachable(100) == list(BUCKETS)  # 100 crops (50 people, flip test) run as 64 + 36: both buckets warm
    for n in range(1, 200):  # every batch a run can make, chunked as run_torch chunks it, lands in a warm bucket
        assert all(bucket(s.stop - s.start) in reachable(n) for m in range(1, n + 1) for s in chunks(m, 64))

@pytest.mark.parametrize("flip_test", [False, True])
def test_estimator_device_path_equals_the_host_path(tiny_model, frame, flip_test):
    boxes = np.array([[100, 50, 220, 330], [400, 100, 470, 260], [560, 200, 640, 360]], np.float32)
    config = TopDownConfig((96, 128), POSETRACK17, flip_test=flip_test, refine="dark")
    host = TopDownEstimator(TorchBackend(tiny_model), config=config).estimate(frame, boxes)
    from dataclasses import replace

    device = TopDownEstimator(TorchBackend(tiny_model), config=replace(config, device_path=True)).estimate(frame, boxes)
    diff = np.abs(device.keypoints - host.keypoints).max(-1)
    # the crops differ by OpenCV's rounding only, so nearly every peak is the same one
    assert np.median(diff) < 0.05 and (diff < 0.5).mean() > 0.9
    np.testing.assert_allclose(device.scores, host.scores, atol=0.02)

def replaying_capture(made):
    """A CPU stand-in for CUDA graph capture, with a graph's contract: the outputs are fixed tensors that a replay
    recomputes in place from whatever the static inputs hold now. ``made`` counts the captures."""
    def capture(fn, static_in):
        made.append(tuple(x.shape for x in static_in))
        static_out = tuple(t.clone() for t in fn(*static_in))

        def replay():
            for target, fresh in zip(static_out, fn(*static_in)):
                target.copy_(fresh)
        return replay, static_out
    return capture

def test_a_graph_cache_captures_once_per_shape_and_replays_new_inputs():
    from posetrack.device.graphs import GraphCache

    made = []
    cache = GraphCache(lambda x: (x * 2,), "cpu", capture=replaying_capture(made))
    first = cache(torch.ones(3))[0].clone()
    again, = cache(torch.full((3,), 5.0))  # same shape: a replay on the new values, no capture
    other, = cache(torch.ones(4))
    assert first.tolist() == [2.0] * 3 and again.tolist() == [10.0] * 3 and other.tolist() == [2.0] * 4
    assert made == [((3,),), ((4,),)] and cache.shapes == [((3,),), ((4,),)]

@pytest.mark.parametrize("flip_test", [False, True])
def test_the_pose_step_as_one_graph_equals_the_host_path(tiny_model, frame, flip_test):
    """Crops, network and decoding captured together (a CPU stand-in for the graph), a person bucket per graph:
    the keypoints of the host path, for any number of persons, and one capture per bucket and frame size."""
    from posetrack.device.graphs import GraphCache
    from posetrack.device.pose_step import PoseStep

    config = TopDownConfig((96, 128), POSETRACK17, flip_test=flip_test, refine="dark")
    backend = TorchBackend(tiny_model)
    host = TopDownEstimator(backend, config=config)
    step = PoseStep(lambda x: backend.forward(x)[0], "cpu", config.input_size, config.preprocess, config.refine,
                    POSETRACK17.flip_permutation() if flip_test else None, buckets=(1, 2, 4))
    made = []
    step.graphs = GraphCache(step._forward, "cpu", capture=replaying_capture(made))
    step.warm_up(frame.shape[:2], 4)
    assert [shapes[1][0] for shapes in made] == [1, 2, 4]  # persons per captured graph
    rng = np.random.default_rng(3)
    for n in (3, 1, 6):  # 6: a chunk of 4 and one of 2
        xy = rng.uniform([0, 0], [520, 200], (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform([60, 120], [120, 160], (n, 2))], 1).astype(np.float32)
        ref = host.estimate(frame, boxes)
        from_crop = invert_affine(crop_transforms(boxes, config))
        found = step(crops.upload(frame, "cpu"), from_crop)
        diff = np.abs(found[..., :2] - ref.keypoints).max(-1)
        assert found.shape == (n, 17, 3) and np.median(diff) < 0.05 and (diff < 0.5).mean() > 0.9
        np.testing.assert_allclose(found[..., 2], ref.scores, atol=0.02)
    assert len(made) == 3  # the run replayed what warm-up captured
    step.warm_up((200, 300), 2)  # a stream of another size: graphs of its own
    assert len(made) == 5 and made[-1][0] == (200, 300, 3)

def test_the_upload_ring_rewrites_a_buffer_only_after_its_copy_finished(rng):
    """Three pinned buffers in turn; the fourth frame reuses the first one's, after waiting for the first copy's
    event, and for no other; a frame of another size gets a buffer of its own."""
    from posetrack.device.frames import UploadRing

    class Event:
        def __init__(self):
            self.waited = 0

        def record(self, stream=None):
            pass

        def synchronize(self):
            self.waited += 1

    ring = UploadRing("cpu", slots=3, pinned=lambda shape: torch.empty(shape, dtype=torch.uint8), event=Event)
    images = [rng.integers(0, 255, (4, 6, 3), dtype=np.uint8) for _ in range(4)]
    sent = [ring.upload(image) for image in images]
    assert [handoff.event.waited for handoff in sent] == [1, 0, 0, 0]
    assert sent[3].value.data_ptr() == sent[0].value.data_ptr() and np.array_equal(sent[3].value.numpy(), images[3])
    bigger = ring.upload(rng.integers(0, 255, (5, 6, 3), dtype=np.uint8)).value
    assert bigger.shape == (5, 6, 3) and sent[1].event.waited == 1

@pytest.mark.parametrize("name", ["imagenet", "ultralytics", "rtmdet", "yolox"])
def test_detector_input_on_the_device_equals_prepare_frame(frame, name):
    from posetrack.detect import prepare_frame
    from posetrack.device.frames import letterbox_input
    from posetrack.models.preprocess import DETECTOR_PREPROCESS

    preprocess = DETECTOR_PREPROCESS[name]
    for size in ((448, 256), (320, 320)):
        ref, scale, pad = prepare_frame(frame, size, preprocess)
        ours, scale_t, pad_t = letterbox_input(crops.upload(frame, "cpu"), size, preprocess)
        assert scale_t == pytest.approx(scale) and pad_t == tuple(pad)
        unit = 1 / min(preprocess.std)  # one grey level
        diff = np.abs(ours.numpy() - ref)
        assert diff.max() < 1.01 * unit and diff.mean() < 0.3 * unit  # OpenCV rounds the resized image to uint8

def test_detector_device_path_finds_the_same_boxes(frame):
    from posetrack.detect import NetworkDetector
    from posetrack.models import DEMO_DETECTOR, create_model
    from posetrack.synth import SyntheticVideo, preset

    image = next(iter(SyntheticVideo(preset("crossing", frames=1), 3)))[0].image
    backend = TorchBackend(create_model(DEMO_DETECTOR), output_names=("output",))
    host = NetworkDetector(backend, DEMO_DETECTOR, device_path=False).detect(image)
    device = NetworkDetector(backend, DEMO_DETECTOR, device_path=True).detect(image)
    assert len(host) == len(device) > 0
    np.testing.assert_allclose(device.boxes, host.boxes, atol=0.5)

def test_a_frame_is_uploaded_once_for_every_stage(tiny_model, frame):
    from dataclasses import replace

    from posetrack.device.frames import frame_on_device
    from posetrack.types import Frame

    f = Frame(0, 0.0, frame)
    first = frame_on_device(f, torch.device("cpu"))
    assert frame_on_device(f, torch.device("cpu")) is first and f.on_device.keys() == ["cpu"]
    boxes = np.array([[100, 50, 220, 330], [400, 100, 470, 260]], np.float32)
    config = TopDownConfig((96, 128), POSETRACK17, device_path=True)
    estimator = TopDownEstimator(TorchBackend(tiny_model), config=replace(config))
    np.testing.assert_array_equal(estimator.estimate(f, boxes).keypoints, estimator.estimate(frame, boxes).keypoints)

@pytest.mark.gpu
def test_device_path_on_cuda_equals_the_host_path(tiny_model, frame):
    import copy

    boxes = np.array([[100, 50, 220, 330], [400, 100, 470, 260]], np.float32)
    config = TopDownConfig((96, 128), POSETRACK17)
    host = TopDownEstimator(TorchBackend(copy.deepcopy(tiny_model)), config=config).estimate(frame, boxes)
    gpu = TopDownEstimator(TorchBackend(copy.deepcopy(tiny_model), device="cuda"), config=config).estimate(frame, boxes)
    assert np.median(np.abs(gpu.keypoints - host.keypoints)) < 0.05

@pytest.mark.gpu
@pytest.mark.parametrize("flip_test", [False, True])
def test_the_pose_step_captured_on_cuda_equals_it_eager(tiny_model, frame, flip_test, no_tf32):
    """Crops, network and decoding in one CUDA graph per person bucket, captured at warm-up: the same keypoints
    as the same step run eagerly on the same (bucket) shapes, and nothing captured during the run."""
    import copy

    config = TopDownConfig((96, 128), POSETRACK17, flip_test=flip_test, refine="dark")
    boxes = np.array([[100, 50, 220, 330], [400, 100, 470, 260], [560, 200, 640, 360]], np.float32)
    eager = TopDownEstimator(TorchBackend(copy.deepcopy(tiny_model), device="cuda", pad_to_buckets=True),
                             config=config)
    graphs = TopDownEstimator(TorchBackend(copy.deepcopy(tiny_model), device="cuda", cuda_graphs=True),
                              config=config)
    assert graphs.warm_up(frame.shape[:2], 8) > 0 and len(graphs.step.graphs.shapes) == len(reachable(8))
    for n in (3, 1, 2):
        ref, out = eager.estimate(frame, boxes[:n]), graphs.estimate(frame, boxes[:n])
        np.testing.assert_allclose(out.keypoints, ref.keypoints, atol=1e-3)
        np.testing.assert_allclose(out.scores, ref.scores, atol=1e-4)
    assert len(graphs.step.graphs.shapes) == len(reachable(8))
