"""The GPU bench: HRNet through the torch backend on CUDA at fp32 / fp16 / bf16, eager and with CUDA graphs, timed
with CUDA events around the network call only (input already on the device, output left there), and the device
data path (crops + decode, and the whole pose step captured as one graph) for a crowded
1080p frame. One JSON row per measurement on stdout.

    python benchmarks/gpu/bench.py --config w32 --input 256x192 --batch 32 > rows.jsonl

Without CUDA it says so and exits 0 (nothing to measure).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace

import numpy as np
import torch

from posetrack.backends import TorchBackend
from posetrack.device import crops, decode
from posetrack.models.hrnet import hrnet
from posetrack.pose import TopDownConfig, TopDownEstimator, crop_transforms
from posetrack.transforms import invert_affine


def timed(fn, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` calls, by CUDA events on the current stream (after 5 warm-up calls)."""
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        out.append(start.elapsed_time(end))
    return out


def walled(fn, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` calls by the wall clock, for calls that wait for their own results."""
    for _ in range(5):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(1e3 * (time.perf_counter() - start))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="w32")
    p.add_argument("--input", default="256x192", help="height x width")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--compile", action="store_true", help="also fp16 + CUDA graphs over torch.compile (compiles first)")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": "no CUDA device"}))
        return
    h, w = (int(v) for v in args.input.split("x"))
    props = torch.cuda.get_device_properties(0)
    env = {"gpu": props.name, "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version()}
    print(json.dumps({"environment": env}))
    x = torch.randn(args.batch, 3, h, w, device="cuda")
    # (precision, CUDA graphs, torch.compile, BatchNorm folded): the last row shows what folding is worth
    variants = [(p, g, False, True) for p in ("fp32", "fp16", "bf16") for g in (False, True)] + [
        ("fp16", True, False, False)]
    for precision, graphs, compiled, folded in variants + ([("fp16", True, True, True)] if args.compile else []):
        torch.manual_seed(0)
        backend = TorchBackend(hrnet(args.config).eval(), device="cuda", precision=precision, channels_last=True,
                               cuda_graphs=graphs, compile=compiled, fold_batchnorm=folded)
        ms = timed(lambda backend=backend: backend.run_torch({"input": x}), args.repeats)
        median = statistics.median(ms)
        print(json.dumps({"section": "network", "model": f"{args.config} {args.input}", "precision": precision,
                          "cuda_graphs": graphs, "compiled": compiled, "batchnorm_folded": folded,
                          "batch": args.batch, "median_ms": round(median, 3),
                          "crops_per_s": round(args.batch / median * 1e3, 1), "span": "network call only"}),
              flush=True)
    frame = torch.randint(0, 255, (1080, 1920, 3), dtype=torch.uint8, device="cuda")
    rng = np.random.default_rng(0)
    xy = rng.uniform([0, 0], [1800, 900], (16, 2))
    boxes = np.concatenate([xy, xy + rng.uniform([60, 150], [120, 300], (16, 2))], 1)
    config = TopDownConfig(input_size=(w, h))
    to_crop = crop_transforms(boxes, config)
    for flip_test in (False, True):  # the whole pose step of a frame: crops → network → keypoints on the host
        torch.manual_seed(0)
        estimator = TopDownEstimator(TorchBackend(hrnet(args.config).eval(), device="cuda", precision="fp16",
                                                  channels_last=True, cuda_graphs=True),
                                     config=replace(config, flip_test=flip_test))
        warm = estimator.warm_up((1080, 1920), 16)
        ms = walled(lambda step=estimator.step: step(frame, invert_affine(to_crop)), args.repeats)
        print(json.dumps({"section": "pose step", "model": f"{args.config} {args.input}", "precision": "fp16",
                          "cuda_graphs": "whole step", "persons": 16, "frame": "1920x1080", "flip_test": flip_test,
                          "warmup_s": round(warm, 2), "median_ms": round(statistics.median(ms), 3),
                          "frames_per_s": round(1e3 / statistics.median(ms), 1),
                          "span": "crop matrices up, crops + network + decode, keypoints back (wall clock)"}),
              flush=True)
    ms = timed(lambda: crops.crop_batch(frame, to_crop, config.input_size), args.repeats)
    print(json.dumps({"section": "device crops", "persons": 16, "frame": "1920x1080",
                      "median_ms": round(statistics.median(ms), 3)}))
    maps = torch.rand(16, 17, h // 4, w // 4, device="cuda")
    for refine in ("argmax", "dark"):
        ms = timed(lambda refine=refine: decode.decode(maps, refine), args.repeats)
        print(json.dumps({"section": "device decode", "refine": refine, "persons": 16,
                          "median_ms": round(statistics.median(ms), 3)}))


if __name__ == "__main__":
    main()
