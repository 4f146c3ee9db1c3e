"""``posetrack run`` and ``posetrack demo``: track a video; track and score a synthetic clip."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from posetrack.cli.args import add_device_arg, add_pose_args, folder, pose_record, positive
from posetrack.errors import PosetrackError


def register(sub: argparse._SubParsersAction) -> None:
    from posetrack.synth import PRESETS

    p = sub.add_parser("run", help="track the poses of everyone in a video (the main job)",
                       description="Detect persons, estimate their poses (HRNet, all persons of a frame in one batch) "
                                   "and track identities, with the stages overlapped. Writes OUT/<stem>.json "
                                   "(PoseTrack 2018, poseval-ready) and OUT/<stem>.mp4 (skeletons in per-track "
                                   "colours), and prints a summary. Several sources (files, folders of videos, globs, "
                                   "--list) are a batch: whole videos spread over --workers processes or a --ray "
                                   "cluster, with a ledger in OUT so that a rerun skips finished videos.")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="video file, image folder (one sequence), camera index; or for a batch several of them, "
                        "folders of videos, globs")
    _add_run_args(p, default_out=Path("out"))
    many = p.add_argument_group("many videos")
    many.add_argument("--list", type=Path, metavar="FILE", help="also the videos named in FILE (one path per line)")
    many.add_argument("--recursive", action="store_true", help="look for videos in subfolders of folders too")
    many.add_argument("--workers", type=positive(int), default=1, help="videos tracked at once (default: 1)")
    many.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                      help="run the workers as Ray actors: a local Ray instance, or the cluster at ADDRESS "
                           "(auto, ray://host:10001); needs pip install 'posetrack[ray]'")
    many.add_argument("--threads-per-worker", type=positive(int), metavar="N",
                      help="CPU threads of each worker (default: the cores shared out evenly)")
    many.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G",
                      help="GPUs each Ray worker reserves, fractions allowed (0.5: two per GPU; default: 0)")
    many.add_argument("--retries", type=int, default=1, help="times a video is retried when its worker dies (1)")
    many.add_argument("--force", action="store_true", help="track every video again, even those already done")
    many.add_argument("--verbose", action="store_true", help="print what each worker does")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="render a synthetic clip, track it, and score the result against its ground truth",
                       description="Render a synthetic clip (crossing preset) with exact ground truth, run the "
                                   "pipeline on it with the shipped models, and evaluate with the PoseTrack metrics.")
    p.add_argument("--frames", type=positive(int), default=150, help="clip length (default: 150)")
    p.add_argument("--seed", type=int, default=3, help="clip seed (default: 3)")
    p.add_argument("--preset", default="crossing", choices=list(PRESETS), help="synthetic preset (default: crossing)")
    p.add_argument("--compare", action="store_true", help="also run the sequential mode and report the speed-up")
    _add_run_args(p, default_out=Path("out/demo"))
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("recover", help="build the outputs a killed run left unfinished (after SIGKILL, a crash, "
                                       "a power cut)",
                       description="`posetrack run` streams every finished frame to OUT/<stem>.json.journal (and "
                                   "<stem>.coco.json.journal) and builds the final files when it ends, also on "
                                   "Ctrl-C and SIGTERM. A run that could not end (killed with SIGKILL, out of memory, "
                                   "power cut) leaves the journals: this builds OUT/<stem>.json from them, covering "
                                   "every frame finished before the kill (the last 2 s may be lost to a power cut).")
    p.add_argument("folders", nargs="+", type=Path, metavar="OUT", help="output folder of the run (or one journal)")
    p.set_defaults(func=cmd_recover)


def _add_run_args(p: argparse.ArgumentParser, default_out: Path) -> None:
    from posetrack.backends.select import BACKENDS
    from posetrack.compile.precision import PRECISIONS

    p.add_argument("--out", type=folder, default=str(default_out), help=f"output folder (default: {default_out}/)")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="inference backend (default: auto = TensorRT where it can run, else PyTorch on a CUDA GPU, "
                        "else ONNX Runtime)")
    p.add_argument("--precision", default="fp32", choices=(*PRECISIONS, "bf16"),
                   help="fp32 (default), fp16, int8 (calibrated Q/DQ models; calibrates on first use), or bf16 "
                        "(--backend torch)")
    add_device_arg(p, "the networks run; on a GPU without TensorRT, --backend auto runs PyTorch there with CUDA "
                      "graphs, crops and decoding included")
    add_pose_args(p)
    p.add_argument("--detector", type=Path, help="person detector ONNX in YOLO layout [N, 4 + classes, candidates]")
    p.add_argument("--detections", type=Path, help="precomputed boxes: COCO detection results, image_id = frame index")
    p.add_argument("--max-persons", type=positive(int), default=50, help="poses per frame at most (default: 50)")
    p.add_argument("--keep-score", type=float, default=0.3, help="keypoints below this score are not written (0.3)")
    p.add_argument("--flip-test", action="store_true", help="average with mirrored crops (slower, more accurate)")
    p.add_argument("--torch-compile", action="store_true",
                   help="torch.compile the pose network (--backend torch; compiling takes a minute, then faster)")
    p.add_argument("--no-video", action="store_true", help="do not write the annotated video")
    p.add_argument("--coco", action="store_true", help="also write OUT/<stem>.coco.json (COCO keypoint results)")
    p.add_argument("--sequential", action="store_true", help="run the stages one after another (for comparison)")
    p.add_argument("--show", action="store_true", help="display the annotated frames (needs a display; q stops)")


def _options(args: argparse.Namespace):
    from posetrack.assemble import RunOptions

    return RunOptions(pose_record(args), args.detector, args.detections, args.backend, args.precision, args.flip_test,
                      args.max_persons, device=args.device, torch_compile=args.torch_compile)


def _report_break(summary) -> int:
    if summary.broken_at is not None:
        print(f"posetrack: error: the source breaks off at frame {summary.broken_at} (truncated or corrupt); "
              f"results cover frames 0..{summary.frames - 1}", file=sys.stderr)
        return 2
    return 0


def _is_batch(args: argparse.Namespace) -> bool:
    from posetrack.batch.sources import is_image_folder

    if len(args.sources) != 1 or args.list or args.workers > 1 or args.ray is not None:
        return True
    path = Path(args.sources[0])
    return (path.is_dir() and not is_image_folder(path)) or (not path.exists() and not args.sources[0].isdigit()
                                                             and any(c in args.sources[0] for c in "*?["))


def cmd_run(args: argparse.Namespace) -> int:
    if not args.sources and not args.list:
        raise PosetrackError("run: give a video, an image folder, a camera index, or videos to track (--list)")
    if _is_batch(args):
        return _run_batch(args)
    from posetrack.assemble import build_pipeline
    from posetrack.io.video import VideoReader
    from posetrack.sinks import open_window
    from posetrack.track_video import default_sinks, source_stem, track_video

    args.source = args.sources[0]
    reader = VideoReader(args.source)  # bad sources and a missing display fail here, before models load
    if args.show:
        open_window("posetrack")
    pipeline = build_pipeline(_options(args), args.sequential)
    stem = source_stem(args.source)
    sinks = default_sinks(args.out, stem, reader, video=not args.no_video, coco=args.coco, show=args.show,
                          keep_score=args.keep_score)
    summary = track_video(reader, pipeline, sinks, desc=f"tracking {stem}")
    print("\n".join(summary.lines()))
    return _report_break(summary)


def _run_batch(args: argparse.Namespace) -> int:
    from posetrack.batch import BatchOptions, track_videos

    if args.show:
        raise PosetrackError("--show shows one video; it does not combine with several sources")
    options = BatchOptions(_options(args), not args.no_video, args.coco, args.keep_score, args.sequential)
    summary = track_videos(args.sources, args.out, options, "ray" if args.ray is not None else "local", args.workers,
                           ray_address=args.ray or None, threads_per_worker=args.threads_per_worker,
                           gpus_per_worker=args.gpus_per_worker, retries=args.retries, force=args.force,
                           recursive=args.recursive, list_file=args.list, verbose=args.verbose)
    print(summary.table())
    for e in summary.failed:
        print(f"posetrack: error: {e.stem}: {e.error}", file=sys.stderr)
    return 2 if summary.failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from posetrack.assemble import build_pipeline
    from posetrack.demo import render_clip, track_and_score

    options = _options(args)
    pipeline = build_pipeline(options, args.sequential)  # a bad option fails here, before anything is written
    clip = render_clip(args.out / "gt", args.preset, args.frames, args.seed)
    print(f"rendered {clip} ({args.frames} frames, preset {args.preset}) with ground truth")
    scored = track_and_score(clip, pipeline, args.out / "pred",
                             video=not args.no_video, keep_score=args.keep_score, show=args.show)
    print("\n".join(scored.summary.lines()))
    print(scored.report.table())
    line = scored.line()
    if args.compare:
        other = track_and_score(clip, build_pipeline(options, not args.sequential), args.out / "other", video=False,
                                keep_score=args.keep_score)
        seq, pip = (other, scored) if not args.sequential else (scored, other)
        line += f"  |  pipelined {pip.fps:.1f} FPS vs sequential {seq.fps:.1f} FPS ({pip.fps / seq.fps:.2f}x)"
    print(line)
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from posetrack.sinks import recover

    found = False
    for target in args.folders:
        outputs, videos = recover(target)
        for path in outputs:
            print(f"recovered {path}")
        for path in videos:
            print(f"posetrack: warning: {path}: the annotated video was cut off by the kill and cannot be played "
                  "(MP4 writes its index last); delete it or rerun to get the video", file=sys.stderr)
        found |= bool(outputs or videos)
    if not found:
        print("nothing to recover (no *.journal files: every run there ended and wrote its outputs)")
    return 0
