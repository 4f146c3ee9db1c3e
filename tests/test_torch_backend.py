"""The PyTorch backend: buckets and chunks, precisions, BatchNorm folding, torch.compile, the module it leaves as it
was, float32 box decoding; warm-up; CUDA graphs and parity on a GPU where there is one."""


import numpy as np
import pytest
import torch

from posetrack.backends import TorchBackend
from posetrack.device.buckets import BUCKETS, reachable
from posetrack.errors import PosetrackError


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

def test_a_cpu_pipeline_has_nothing_to_warm_up():
    from posetrack.assemble import build_pipeline
    from posetrack.options import Options

    pipeline = build_pipeline(Options.demo(runtime__backend="torch", runtime__device="cpu"))
    assert pipeline.warmup_s == 0.0

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
