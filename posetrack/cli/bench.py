"""``posetrack bench``: the speed-and-accuracy report, or one of the single-table studies."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from posetrack.cli.args import add_device_arg, folder, int_list, name_list, positive


def register(sub: argparse._SubParsersAction) -> None:
    from posetrack.bench import MODELS
    from posetrack.options import BACKENDS, PRECISIONS

    p = sub.add_parser("bench", help="measure speed and accuracy side by side; write a report to benchmarks/",
                       description="Measure after warm-up with repeated runs: latency (median/p90/p99) and throughput "
                                   "per model, backend, precision and batch (and CUDA graphs on a GPU), against the "
                                   "convolution ceiling of the device each row ran on; accuracy per precision; the "
                                   "pipelined vs sequential runtime; tracker cost vs people. Writes "
                                   "<date>-<host>.md, .json and PNG plots.",
                       epilog="examples:\n  posetrack bench --quick\n  posetrack bench --live\n"
                              "  posetrack bench --device cuda --models demo,w32 --precisions fp16,bf16")
    p.add_argument("--quick", action="store_true", help="the < 5 minute subset (demo models, batches 1 and 8)")
    p.add_argument("--out", type=folder, default="benchmarks", help="report folder (default: benchmarks/)")
    p.add_argument("--models", type=name_list(MODELS), help="comma-separated: demo, detector, w32, w48 "
                   "(w32/w48: official architecture, random weights) (default: demo,detector,w32)")
    p.add_argument("--backends", type=name_list(tuple(b for b in BACKENDS if b != "auto")),
                   help="comma-separated: torch, ort, trt (default: all; trt where TensorRT can run)")
    p.add_argument("--precisions", type=name_list(PRECISIONS),
                   help="comma-separated: fp32, fp16, bf16, int8 (default: fp32,fp16,int8; bf16 too on a GPU)")
    p.add_argument("--batches", type=int_list, help="comma-separated batch sizes (default: 1,4,8,16)")
    p.add_argument("--repeats", type=positive(int), help="timed runs per measurement, at least (default: 10, quick 5)")
    p.add_argument("--min-seconds", type=positive(float), metavar="S",
                   help="fast calls repeat until S seconds are spent per measurement (default: 1, quick 0.5)")
    add_device_arg(p, "the engine rows and the pipeline run", default="cpu, so reports stay comparable")
    p.add_argument("--synth", action="store_true", help="instead: the synthetic world's rendering speed per preset")
    p.add_argument("--tracker-quality", action="store_true",
                   help="instead: MOTA and identity switches of tracker variants on corrupted ground truth")
    p.add_argument("--live", action="store_true",
                   help="instead: a paced camera on 127.0.0.1 at 25, 30 and 60 fps, read as `posetrack run URL` "
                        "reads one: latency percentiles, drops and FPS per --detect-every K (1, 5) and precision "
                        "(fp32, int8) (about 2 minutes; --quick: 30 fps, K 1, fp32)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from posetrack.assemble import device_for
    from posetrack.bench.measure import environment
    from posetrack.bench.report import report_stem, save_rows, write_report, write_rows_report
    from posetrack.bench.suite import BenchOptions, Report, run_benchmarks, synth_speeds, tracker_quality

    today = date.today().isoformat()
    paths: Sequence[Path]
    if args.synth:
        paths = write_rows_report("Synthetic world rendering speed (one core, in memory, no encoding)",
                                  synth_speeds(args.repeats or 10), args.out, f"{today}-cpu-synth")
    elif args.tracker_quality:
        paths = write_rows_report("Tracking from corrupted ground truth (2% keypoint noise, 10% dropped persons): "
                                  "MOTA and switches", tracker_quality(args.repeats or 10), args.out,
                                  f"{today}-cpu-tracker-quality")
    elif args.live:
        from posetrack.bench.live import live_rows

        rows = live_rows((30,), (1,), ("fp32",), seconds=5) if args.quick else live_rows()
        paths = write_rows_report("Live: a paced MJPEG camera on 127.0.0.1, newest-frame buffering, demo models; "
                                  "latency from reading a frame to its result", rows, args.out,
                                  f"{today}-cpu-live{'-quick' if args.quick else ''}")
    else:
        options = BenchOptions.quick() if args.quick else BenchOptions()
        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                 for k, v in (("models", args.models), ("backends", args.backends), ("precisions", args.precisions),
                              ("batches", args.batches), ("repeats", args.repeats),
                              ("min_seconds", args.min_seconds)) if v is not None}
        given["device"] = device_for(args.device or "cpu")
        options = replace(options, **given)
        report = Report(options, environment())
        suffix = "-quick" if args.quick else ""
        partial = args.out / f"{report_stem(report, suffix)}-partial.json"  # every row as it is measured: what a
        args.out.mkdir(parents=True, exist_ok=True)  # kill (even SIGKILL) leaves
        try:
            run_benchmarks(options, report=report, checkpoint=lambda r: save_rows(r, partial))
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the report of what was measured, then stop as interrupted
            for path in write_report(report, args.out, suffix + "-interrupted"):
                print(f"wrote {path} (what was measured before the stop)")
            partial.unlink(missing_ok=True)
            raise
        paths = write_report(report, args.out, suffix)
        partial.unlink(missing_ok=True)
    for path in paths:
        print(f"wrote {path}")
    return 0
