"""Benchmark primitives: measurements come from real runs, FLOP counts match the published ones."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from posetrack.bench.measure import (
    DEVICE_RESIDENT,
    WALL,
    Ceiling,
    argmax_agreement,
    conv_ceiling,
    count_gflop,
    measure_speedup,
    timed_call,
)
from posetrack.bench.suite import BenchOptions, BenchSuite, engine_row
from posetrack.models.hrnet import hrnet


class Slowed:
    """A backend that sleeps before delegating: the report must see the extra time."""

    def __init__(self, inner, seconds):
        self.inner, self.seconds = inner, seconds
        self.name, self.input_names, self.output_names = "slowed", inner.input_names, inner.output_names

    def run(self, inputs):
        time.sleep(self.seconds)
        return self.inner.run(inputs)


def test_a_slowed_backend_measures_slower(tiny_onnx):
    from posetrack.backends import OrtBackend

    fast = OrtBackend(tiny_onnx.path, ["CPUExecutionProvider"])
    ceiling = Ceiling("cpu", "x", 1.0, 100.0, 50.0)
    options = BenchOptions(repeats=5, min_seconds=0.3)
    a = engine_row("tiny", "fp32", fast, (3, 128, 96), 1, options, 0.1, ceiling)
    b = engine_row("tiny", "fp32", Slowed(fast, 0.03), (3, 128, 96), 1, options, 0.1, ceiling)
    assert b.median_ms >= a.median_ms + 25
    # fast calls fill the time budget, slow ones still get their minimum number of calls
    assert a.calls > 3 * b.calls and 5 <= b.calls <= 0.3 / 0.03 + 1
    assert a.ceiling_fraction == pytest.approx(a.gflops_per_s / 100.0)


def test_warm_up_goes_on_until_a_call_takes_as_long_as_the_one_before():
    """A batch size's first calls build kernels (one such call once read as a 2.6 s row): warm-up ends only when
    two calls in a row take about as long, after at least the calls asked for."""
    from posetrack.bench.measure import warm_up

    times = iter([2.6, 1.2, 0.031, 0.030, 0.030])
    assert warm_up(lambda: next(times), 2) == 4
    steady = iter([0.03] * 5)
    assert warm_up(lambda: next(steady), 3) == 3


def test_cpu_rows_are_timed_by_the_host_clock_around_run(tiny_onnx):
    from posetrack.backends import OrtBackend

    slow = Slowed(OrtBackend(tiny_onnx.path, ["CPUExecutionProvider"]), 0.02)
    call, timer = timed_call(slow, np.zeros((1, 3, 128, 96), np.float32), "cpu")
    assert timer == WALL and 0.02 <= call() < 1.0


def _variants(**options):
    return {kind: BenchSuite(BenchOptions(**options), progress=False)._variants(kind) for kind in ("torch", "ort")}


def test_bench_variants_per_device():
    """What each backend is measured at: what the capability table says it runs of the precisions asked for (on the
    CPU PyTorch fp32, bf16 only when asked for); on a GPU, PyTorch at fp32/fp16/bf16, eager and with CUDA graphs;
    INT8 never on PyTorch, bf16 only there."""
    cpu = _variants()
    assert cpu == {"torch": [("fp32", None)], "ort": [("fp32", None), ("fp16", None), ("int8", None)]}
    assert _variants(precisions=("fp32", "bf16"))["torch"] == [("fp32", None), ("bf16", None)]
    gpu = _variants(device="cuda:0")
    assert gpu["torch"] == [(p, g) for p in ("fp32", "fp16", "bf16") for g in (False, True)]
    assert gpu["ort"] == [("fp32", None), ("fp16", None), ("int8", None)]
    assert BenchOptions(device="cuda:0").precision_list() == ("fp32", "fp16", "bf16", "int8")


@pytest.mark.gpu
def test_gpu_rows_are_timed_by_cuda_events_on_device_resident_tensors(tiny_model):
    from posetrack.backends import TorchBackend

    backend = TorchBackend(tiny_model, device="cuda")
    call, timer = timed_call(backend, np.zeros((4, 3, 128, 96), np.float32), "cuda:0")
    assert timer == DEVICE_RESIDENT and 0 < call() < 1.0
    ceiling = conv_ceiling(repeats=2, device="cuda:0")
    assert ceiling.device == "cuda:0" and ceiling.ort_gflops_per_s is None and ceiling.gflops_per_s > 100


def test_speedup_is_measured_in_alternating_rounds(tiny_onnx):
    from posetrack.backends import OrtBackend

    fast = OrtBackend(tiny_onnx.path, ["CPUExecutionProvider"])
    slow = Slowed(fast, 0.02)
    r = measure_speedup(slow, fast, (3, 128, 96), 1, rounds=3, min_seconds=0.3)
    assert r.rounds == 3 and r.reference_ms >= 20 > r.other_ms
    assert r.speedup > 3 and measure_speedup(fast, slow, (3, 128, 96), 1, rounds=3, min_seconds=0.3).speedup < 1 / 3


def test_flop_counts():
    assert count_gflop(hrnet("w32").eval(), (3, 256, 192)) == pytest.approx(15.3, abs=0.05)  # the published figure
    assert count_gflop(hrnet("w32").eval(), (3, 128, 96)) == pytest.approx(15.29 / 4, rel=0.01)


def test_argmax_agreement():
    a = np.zeros((2, 3, 4, 4), np.float32)
    a[:, :, 1, 2] = 1
    b = a.copy()
    b[0, 0, 3, 3] = 2  # one of six joints moves its peak two cells away (from row 1, column 2) ...
    b[1, 2, 2, 1] = 3  # ... another one cell diagonally
    assert argmax_agreement(a, b) == pytest.approx(4 / 6)
    assert argmax_agreement(a, b, cells=1) == pytest.approx(5 / 6)
    assert argmax_agreement(a, b, cells=2) == 1.0


def test_peak_margin():
    from posetrack.bench.measure import peak_margin

    a = np.zeros((1, 2, 3, 3), np.float32)
    a[0, 0, 0, 0], a[0, 0, 1, 1] = 1.0, 0.25
    a[0, 1, 2, 2], a[0, 1, 0, 1] = 0.5, 0.5
    assert peak_margin(a) == pytest.approx((0.75 + 0.0) / 2)


def test_gpu_check_results_are_one_clean_line_per_aim(tmp_path):
    """benchmarks/gpu/results.py reads what check.sh wrote (bench rows among log lines, run summaries, utilisation
    samples with the steady-state marks) and says for each aim what was measured and whether it held; a missing
    measurement is null with the reason, never a number."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_results", Path(__file__).parents[1] / "benchmarks/gpu/results.py")
    results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(results)
    row = {"section": "network", "precision": "fp16", "cuda_graphs": True, "compiled": False, "batchnorm_folded": True,
           "batch": 32, "crops_per_s": 12345.6}
    unfolded = {**row, "batchnorm_folded": False, "crops_per_s": 99999.0}
    (tmp_path / "bench.jsonl").write_text("== bench: python bench.py\n" + json.dumps(unfolded) + "\n" + json.dumps(row))
    run = {"fps": 180.0, "frames": 600, "warmup_s": 4.2, "backend": "torch:cuda:0 fp16",
           "stage_fps": {"decode": 250.0, "detect": 500.0, "pose": 400.0, "track": 200.0}}
    (tmp_path / "run1080.json").write_text(json.dumps(run))
    (tmp_path / "util.csv").write_text("\n".join(["0", "5", "90", "80", "85", "20", "0"]))
    (tmp_path / "steady.txt").write_text("2\n5\n")
    lines = {line["metric"]: line for line in results.results(tmp_path)}
    json.dumps(list(lines.values()), allow_nan=False)
    assert lines["w32_256x192_fp16_b32_cuda_graphs_crops_per_s"]["value"] == 12345.6
    assert lines["w32_256x192_fp16_b32_cuda_graphs_crops_per_s"]["held"] is True
    assert lines["run_1080p_16_people_fps"]["value"] == 180.0 and lines["run_1080p_16_people_fps"]["held"] is False
    assert lines["gpu_busy_steady_pct"]["value"] == 85.0  # the median of samples 2..4, warm-up and tail left out
    assert lines["demo_cuda_fps"]["value"] is None and "demo.json" in lines["demo_cuda_fps"]["why"]
    assert lines["run_1080p_stage_ms"]["value"] == {"decode": 4.0, "detect": 2.0, "pose": 2.5, "track": 5.0}
