"""The torch data path (crops, decoding, buckets) equals the OpenCV/NumPy path, on CPU tensors."""

import re

import numpy as np
import pytest
import torch

from posetrack import heatmaps as hm
from posetrack.device import crops, decode
from posetrack.device.buckets import BUCKETS, bucket, chunks, reachable
from posetrack.pose import TopDownConfig
from posetrack.pose import crop_batch as cv2_crop_batch
from posetrack.skeleton import COCO17
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


def test_a_cpu_pipeline_has_nothing_to_warm_up():
    from posetrack.assemble import build_pipeline
    from posetrack.options import Options

    pipeline = build_pipeline(Options.demo(runtime__backend="torch", runtime__device="cpu"))
    assert pipeline.warmup_s == 0.0


# ---- the estimator on the device path, the torch backend's buckets and precisions, the backend choice ---------

from posetrack.backends import TorchBackend  # noqa: E402
from posetrack.backends.select import Machine, parse_device, resolve_backend  # noqa: E402
from posetrack.errors import PosetrackError  # noqa: E402
from posetrack.pose import TopDownEstimator, crop_transforms  # noqa: E402
from posetrack.skeleton import POSETRACK17  # noqa: E402


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


def test_torch_backend_pads_to_buckets_and_chunks_big_batches(tiny_model, rng):
    x = rng.normal(0, 1, (70, 3, 128, 96)).astype(np.float32)
    plain = TorchBackend(tiny_model).run({"input": x})["heatmaps"]
    padded = TorchBackend(tiny_model, pad_to_buckets=True, buckets=(1, 4, 16)).run({"input": x})["heatmaps"]
    assert padded.shape == plain.shape == (70, 17, 32, 24)  # 4 chunks of 16 and one of 6 padded to 16
    np.testing.assert_allclose(padded, plain, atol=1e-4)


def test_torch_backend_bf16_on_cpu_and_refusals(tiny_model, rng):
    import copy

    x = rng.normal(0, 1, (2, 3, 128, 96)).astype(np.float32)
    ref = TorchBackend(copy.deepcopy(tiny_model)).run({"input": x})["heatmaps"]
    half = TorchBackend(copy.deepcopy(tiny_model), precision="bf16").run({"input": x})["heatmaps"]
    assert half.dtype == np.float32  # float32 I/O whatever runs inside
    assert np.abs(half - ref).max() < 0.1 * np.abs(ref).max() + 0.05
    with pytest.raises(PosetrackError, match="needs a CUDA device"):
        TorchBackend(copy.deepcopy(tiny_model), precision="fp16")
    with pytest.raises(PosetrackError, match="CUDA graphs need"):
        TorchBackend(copy.deepcopy(tiny_model), cuda_graphs=True)


def test_detector_boxes_are_decoded_in_float32_whatever_the_network_runs_in():
    """Cell index + offset reaches 256 cells across a 2048-px input, where bfloat16 steps by a whole cell (8 px):
    the box centres of a bf16 network must still land within a pixel of the fp32 network's."""
    from posetrack.models.detector import PersonDetector, YoloLayout

    torch.manual_seed(0)
    net = YoloLayout(PersonDetector(widths=(8, 8, 16, 16, 16), head=16)).eval()
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 64, 2048)).astype(np.float32)
    ref = TorchBackend(net).run({"input": x})["heatmaps"]
    low = TorchBackend(net, precision="bf16").run({"input": x})["heatmaps"]
    far = ref[0, 0] > 1500  # centres in the right quarter of the input
    assert far.sum() > 50
    assert np.abs(low[0, :2] - ref[0, :2])[:, far].max() < 1.0


M = Machine


@pytest.mark.parametrize("requested, precision, device, machine, expected", [
    ("auto", "fp32", None, M(0), ("ort", "cpu", "no CUDA GPU")),
    ("auto", "fp32", None, M(1), ("torch", "cuda:0", "TensorRT not installed")),
    ("auto", "fp32", None, M(1, True, True), ("trt", "cuda:0", "TensorRT installed")),
    ("auto", "fp32", "cpu", M(1, True, True), ("ort", "cpu", "--device cpu")),
    ("auto", "fp32", "cuda:1", M(2, False, True), ("torch", "cuda:1", "TensorRT not installed")),
    ("auto", "fp32", "1", M(2), ("torch", "cuda:1", "TensorRT not installed")),  # Ultralytics' bare index
    ("auto", "int8", None, M(1, False, True), ("ort", "cuda:0", "TensorRT not installed; PyTorch runs no int8 on cuda")),
    ("auto", "bf16", None, M(1, True, True), ("torch", "cuda:0", "TensorRT runs no bf16 on cuda")),
    ("auto", "bf16", "cpu", M(0), ("torch", "cpu", "ONNX Runtime runs no bf16 on cpu")),
    ("auto", "int8", None, M(0), ("ort", "cpu", "no CUDA GPU")),
    ("torch", "fp32", "cpu", M(1), ("torch", "cpu", "as asked")),
    ("ort", "fp32", None, M(1, False, True), ("ort", "cuda:0", "as asked")),
    ("ort", "fp32", None, M(1), ("ort", "cpu", "as asked")),  # no CUDA provider: its CPU, since no device was named
])
def test_backend_choice(requested, precision, device, machine, expected):
    c = resolve_backend(requested, precision, device, machine)
    assert (c.kind, c.device, c.reason) == expected


def test_an_onnx_only_model_on_a_gpu_without_its_runtime_falls_back_to_the_cpu():
    c = resolve_backend("auto", "fp32", None, M(1), allowed=("trt", "ort"))
    assert (c.kind, c.device) == ("ort", "cpu") and "no GPU runtime" in c.reason
    c = resolve_backend("torch", "fp32", "cpu", M(0), allowed=("trt", "ort"))  # --backend torch, an ONNX detector
    assert (c.kind, c.device, c.reason) == ("ort", "cpu", "an ONNX network, which PyTorch cannot run")


@pytest.mark.parametrize("requested, precision, device, machine, fragment", [
    ("auto", "fp32", "cuda", M(0), "--device cuda: no such CUDA device"),
    ("auto", "fp32", "cuda:2", M(2), "no such CUDA device"),
    ("auto", "fp32", "tpu", M(0), "use cpu, cuda, cuda:N or N"),
    ("trt", "fp32", None, M(0), "--backend trt: cannot run on cpu"),
    ("torch", "int8", "cpu", M(0), "--backend torch runs fp32, bf16 on cpu; --backend ort runs it here"),
    ("auto", "int8", None, M(1), "--precision int8 on cuda:0: needs TensorRT or ONNX Runtime's CUDA provider"),
    ("cuda", "fp32", None, M(0), "unknown backend 'cuda'"),
    ("auto", "int4", None, M(0), "unknown precision 'int4'"),
])
def test_backend_choice_refusals(requested, precision, device, machine, fragment):
    with pytest.raises(PosetrackError, match=re.escape(fragment)):
        resolve_backend(requested, precision, device, machine)


@pytest.mark.parametrize("device, gpus, expected", [
    (None, 0, "cpu"), (None, 2, "cuda:0"), ("cpu", 2, "cpu"), ("cuda", 1, "cuda:0"), ("cuda:1", 2, "cuda:1"),
    ("0", 1, "cuda:0"),
])
def test_device_names(device, gpus, expected):
    assert parse_device(device, gpus) == expected


@pytest.mark.parametrize("device, fragment", [
    ("cuda:x", "use cpu, cuda"), ("cuda:", "no such CUDA device"), ("gpu", "use cpu"),
    ("cuda:-1", "use cpu, cuda"), ("cuda", "no such CUDA device"),
])
def test_device_refusals(device, fragment):
    with pytest.raises(PosetrackError, match=fragment):
        parse_device(device, 0)


def test_torch_backend_leaves_the_callers_module_as_it_was(tiny_model, rng):
    """A bench makes a bf16 backend and then an fp32 one of the same module: the fp32 one must not run rounded
    weights, so a backend converts a copy, and reuses the module itself when nothing changes."""
    import copy

    module = copy.deepcopy(tiny_model)
    before = [p.detach().clone() for p in module.parameters()]
    half = TorchBackend(module, precision="bf16")
    assert half.module is not module and next(half.module.parameters()).dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 and torch.equal(p, b) for p, b in zip(module.parameters(), before))
    assert TorchBackend(module, fold_batchnorm=False).module is module


def _with_running_statistics(module, seed=0):
    """A copy of ``module`` whose BatchNorms hold statistics far from the identity a fresh one has."""
    import copy

    module = copy.deepcopy(module)
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return module.eval()


def test_batchnorm_is_folded_into_the_convolutions(tiny_model, rng):
    module = _with_running_statistics(tiny_model)
    x = rng.normal(0, 1, (3, 3, 128, 96)).astype(np.float32)
    folded = TorchBackend(module)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.module.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules())  # the caller's keeps its own
    ref = TorchBackend(module, fold_batchnorm=False).run({"input": x})["heatmaps"]
    np.testing.assert_allclose(folded.run({"input": x})["heatmaps"], ref, atol=1e-4 * np.abs(ref).max())


def test_a_forward_that_does_not_trace_is_folded_inside_its_children():
    """Control flow on a value stops an FX trace of the whole module; its children still fold, and the BatchNorm
    that follows no convolution stays."""
    from posetrack.backends.torch_backend import batchnorm_folded

    class Branching(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
            self.after = torch.nn.BatchNorm2d(4)

        def forward(self, x):
            y = self.body(x)
            return self.after(y) if float(y.mean()) > 0 else -y

    module = _with_running_statistics(Branching())
    folded = batchnorm_folded(module)
    assert [type(m).__name__ for m in folded.modules() if isinstance(m, torch.nn.BatchNorm2d)] == ["BatchNorm2d"]
    x = torch.randn(2, 3, 16, 16)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), module(x), atol=1e-5, rtol=1e-5)


def test_torch_compile_equals_eager(rng):
    """``compile=True`` runs the Inductor-compiled network (a small one: compiling HRNet on two cores takes
    minutes), padded to buckets so shapes stay static, and gives the eager numbers."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1)).eval()
    x = rng.normal(0, 1, (3, 3, 32, 24)).astype(np.float32)
    eager = TorchBackend(net).run({"input": x})["heatmaps"]
    compiled = TorchBackend(net, compile=True, pad_to_buckets=True, buckets=(4,))
    assert compiled.network is not compiled.module and compiled.name == "torch:cpu compiled"
    np.testing.assert_allclose(compiled.run({"input": x})["heatmaps"], eager, atol=1e-5)


# ---- on a GPU (skipped here: no CUDA) -------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-3), ("fp16", 2e-2), ("bf16", 6e-2)])
def test_cuda_parity_with_the_cpu_reference(tiny_model, rng, precision, tolerance, no_tf32):
    import copy

    x = rng.normal(0, 1, (8, 3, 128, 96)).astype(np.float32)
    ref = TorchBackend(copy.deepcopy(tiny_model)).run({"input": x})["heatmaps"]
    out = TorchBackend(copy.deepcopy(tiny_model), device="cuda", precision=precision,
                       channels_last=True).run({"input": x})["heatmaps"]
    assert np.abs(out - ref).max() < tolerance * max(1.0, np.abs(ref).max())


@pytest.mark.gpu
def test_cuda_graph_replay_equals_eager(tiny_model, rng, no_tf32):
    import copy

    x = rng.normal(0, 1, (37, 3, 128, 96)).astype(np.float32)  # a 64 bucket, padded
    # eager on the bucket's shape too: cuDNN may pick other algorithms for 37 than for 64, which is no graph's doing
    padded = np.concatenate([x, np.zeros((64 - 37, *x.shape[1:]), np.float32)])
    eager = TorchBackend(copy.deepcopy(tiny_model), device="cuda").run({"input": padded})["heatmaps"][:37]
    graphs = TorchBackend(copy.deepcopy(tiny_model), device="cuda", cuda_graphs=True)
    for _ in range(2):  # capture, then replay
        np.testing.assert_allclose(graphs.run({"input": x})["heatmaps"], eager, atol=1e-4)


@pytest.mark.gpu
def test_warm_up_captures_every_reachable_bucket_before_the_run(tiny_model, rng):
    import copy

    backend = TorchBackend(copy.deepcopy(tiny_model), device="cuda", cuda_graphs=True)
    backend.warm_up((3, 128, 96), 20)
    assert backend.captured_batches == reachable(20)
    for n in (1, 3, 7, 20):  # the run replays what was captured; it captures nothing itself
        backend.run({"input": rng.normal(0, 1, (n, 3, 128, 96)).astype(np.float32)})
    assert backend.captured_batches == reachable(20)


@pytest.mark.gpu
def test_a_capture_survives_cuda_work_on_another_thread(tiny_model):
    """``thread_local`` capture: uploads and kernels of another stage's thread during a capture do not invalidate
    it (in the default global mode they would)."""
    import copy
    import threading

    backend = TorchBackend(copy.deepcopy(tiny_model), device="cuda", cuda_graphs=True)
    stop, busy = threading.Event(), []

    def other_stage():
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            while not stop.is_set():
                busy.append(float((torch.ones(256, 256, device="cuda") * 2).sum().item()))

    worker = threading.Thread(target=other_stage)
    worker.start()
    try:
        backend.warm_up((3, 128, 96), 64)
    finally:
        stop.set()
        worker.join()
    assert backend.captured_batches == list(BUCKETS) and busy


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


def test_each_network_stage_runs_inside_its_own_stream(tiny_model):
    """The stream hand-off logic with fake streams: detect work inside the detect stream, pose work (and the
    re-detection) inside the pose stream, each from its own stage thread."""
    import threading
    from contextlib import contextmanager

    from posetrack.detect import GroundTruthDetections
    from posetrack.device.streams import Handoff, stage_streams
    from posetrack.pipeline import Pipeline
    from posetrack.synth import SyntheticVideo, preset
    from posetrack.track import PoseTracker

    seen = []

    class FakeStream:
        def __init__(self):
            self.waited = []

        def wait_event(self, event):
            self.waited.append(event)

    streams = []

    @contextmanager
    def enter(stream):
        seen.append((streams.index(stream), threading.current_thread().name))
        yield

    def make():
        streams.append(FakeStream())
        return streams[-1]

    context = stage_streams(torch.device("cpu"), make_stream=make, enter=enter)
    assert stage_streams(torch.device("cpu")) is None  # on a CPU: no streams at all
    video = list(SyntheticVideo(preset("easy", frames=6, size=(320, 192)), 1))
    estimator = TopDownEstimator(TorchBackend(tiny_model), config=TopDownConfig((96, 128), POSETRACK17))
    pipeline = Pipeline(GroundTruthDetections([t.boxes for _, t in video]), estimator, PoseTracker(),
                        stage_context=context)
    assert len(list(pipeline.run(f for f, _ in video))) == 6
    assert {(s, t) for s, t in seen} <= {(0, "posetrack-detect"), (1, "posetrack-pose"), (1, "posetrack-track")}
    assert sum(s == 0 for s, _ in seen) == 6 and sum(s == 1 for s, _ in seen) >= 6

    class FakeEvent:
        def record(self, stream):
            self.on = stream

    made = Handoff.made_on("tensor", streams[0], FakeEvent())
    assert made.event.on is streams[0] and made.take(streams[1]) == "tensor"
    assert streams[1].waited == [made.event]


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
