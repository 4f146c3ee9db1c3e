"""``posetrack run`` and ``posetrack demo``: track a video; track and score a synthetic clip."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from posetrack.cli.args import add_run_args, options_from_args, positive
from posetrack.errors import Interrupted, PosetrackError

log = logging.getLogger("posetrack")


def register(sub: argparse._SubParsersAction) -> None:
    from posetrack.synth import PRESETS

    p = sub.add_parser("run", help="track the poses of everyone in a video (the main job)",
                       description="Detect persons, estimate their poses (HRNet, all persons of a frame in one batch) "
                                   "and track identities, with the stages overlapped. Writes OUT/<stem>.json "
                                   "(PoseTrack 2018, poseval-ready) and OUT/<stem>.mp4 (skeletons in per-track "
                                   "colours), and prints a summary. Several sources (files, folders of videos, globs, "
                                   "--list) are a batch: whole videos spread over --workers processes or a --ray "
                                   "cluster, with a ledger in OUT so that a rerun skips finished videos.",
                       epilog="examples:\n"
                              "  posetrack run video.mp4                     # real models, fetched once\n"
                              "  posetrack run video.mp4 --pose-model demo --detector demo   # offline demo models\n"
                              "  posetrack run frames/ --coco --no-video      # an image folder, COCO results too\n"
                              "  posetrack run rtsp://cam:8554/live --stream-json - --reconnect 5   # a live stream\n"
                              "  posetrack run 0 --show                       # a webcam, in a window\n"
                              "  posetrack run videos/ --workers 2 --out out/ # a batch; a rerun skips what is done")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="video file, image folder (one sequence), camera index, stream URL (rtsp://, http://, "
                        "...); or for a batch several of them, folders of videos, globs")
    add_run_args(p, default_out=Path("out"))
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
    many.add_argument("--verbose", action="store_true",
                      help="print what each worker does, and FFmpeg's and OpenCV's own log lines (hidden by default; "
                           "OpenCV prints them on stdout)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="render a synthetic clip, track it, and score the result against its ground truth",
                       description="Render a synthetic clip (crossing preset) with exact ground truth, run the "
                                   "pipeline on it with the shipped models, and evaluate with the PoseTrack metrics.",
                       epilog="examples:\n  posetrack demo\n  posetrack demo --precision int8 --compare\n"
                              "  posetrack demo --preset crowd --frames 300 --detect-every 3")
    p.add_argument("--frames", type=positive(int), default=150, help="clip length (default: 150)")
    p.add_argument("--seed", type=int, default=3, help="clip seed (default: 3)")
    p.add_argument("--preset", default="crossing", choices=list(PRESETS), help="synthetic preset (default: crossing)")
    p.add_argument("--compare", action="store_true", help="also run the sequential mode and report the speed-up")
    add_run_args(p, default_out=Path("out/demo"))
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("recover", help="build the outputs a killed run left unfinished (after SIGKILL, a crash, "
                                       "a power cut)",
                       description="`posetrack run` streams every finished frame to OUT/<stem>.json.journal (and "
                                   "<stem>.coco.json.journal) and builds the final files when it ends, also on "
                                   "Ctrl-C and SIGTERM. A run that could not end (killed with SIGKILL, out of memory, "
                                   "power cut) leaves the journals: this builds OUT/<stem>.json from them, covering "
                                   "every frame finished before the kill (the last 2 s may be lost to a power cut).",
                       epilog="example:\n  posetrack recover out/")
    p.add_argument("folders", nargs="+", type=Path, metavar="OUT", help="output folder of the run (or one journal)")
    p.set_defaults(func=cmd_recover)


def _options(args: argparse.Namespace, demo: bool = False):
    from posetrack.options import Options

    return options_from_args(args, Options.demo() if demo else None)


def _report_break(summary) -> int:
    if summary.broken_at is not None:
        print(f"posetrack: error: the source breaks off at frame {summary.broken_at} (truncated or corrupt); "
              f"results cover frames 0..{summary.broken_at - 1}", file=sys.stderr)
        return 2
    return 0


def _is_batch(args: argparse.Namespace) -> bool:
    from posetrack.batch.sources import is_image_folder
    from posetrack.io.sources import is_stream

    if len(args.sources) != 1 or args.list or args.workers > 1 or args.ray is not None:
        return True
    if is_stream(args.sources[0]):
        return False
    path = Path(args.sources[0])
    return (path.is_dir() and not is_image_folder(path)) or (not path.exists() and not args.sources[0].isdigit()
                                                             and any(c in args.sources[0] for c in "*?["))


def cmd_run(args: argparse.Namespace) -> int:
    if not args.sources and not args.list:
        raise PosetrackError("run: give a video, an image folder, a camera index, or videos to track (--list)")
    options = _options(args)
    if args.verbose and options.output.stream_json == "-":
        raise PosetrackError("--verbose with --stream-json -: OpenCV prints its log lines on stdout, which the JSON "
                             "lines need to themselves; give --stream-json a file")
    from posetrack.track_video import demo_models_warning

    warning = demo_models_warning(options, args.sources)
    if warning:
        log.warning("%s", warning)
    if _is_batch(args):
        return _run_batch(args, options)
    from posetrack.assemble import build_pipeline
    from posetrack.io.sources import open_source
    from posetrack.io.window import open_window
    from posetrack.track_video import run_video

    source = args.sources[0]
    reader = open_source(source, options.runtime)  # a bad source fails here, before the models load
    frame_rate = reader.fps / options.runtime.stride  # of the frames tracked: smoothing's time step
    options = options.updated({"tracker": {"fps": frame_rate}}, "the source")
    if options.output.show:
        open_window("posetrack").close()  # no display: said now, before the models load
    with summary_on_stop(args):
        summary = run_video(source, args.out, build_pipeline(options), options.output, reader=reader)
    _print_summary(summary, args)
    return _report_break(summary)


@contextmanager
def summary_on_stop(args: argparse.Namespace) -> Iterator[None]:
    """A run stopped by a signal (Ctrl-C: how a live run ends) still prints its summary and writes ``--json``,
    for the frames it tracked; the exit status stays the signal's."""
    try:
        yield
    except Interrupted as stop:
        from posetrack.track_video import RunSummary

        if isinstance(stop.summary, RunSummary):
            _print_summary(stop.summary, args)
            stop.kept = f"stopped after {stop.summary.frames} frames"
        raise


def _print_summary(summary, args: argparse.Namespace) -> None:
    """The summary lines (on stderr when stdout carries --stream-json lines), and its JSON with --json."""
    print("\n".join(summary.lines()), file=sys.stderr if getattr(args, "stream_json", None) == "-" else sys.stdout)
    if getattr(args, "json", None) is not None:
        import json

        from posetrack.io.files import atomic_path

        with atomic_path(args.json) as draft:
            draft.write_text(json.dumps(summary.to_dict(), indent=1, allow_nan=False) + "\n")


def _run_batch(args: argparse.Namespace, options) -> int:
    from posetrack.batch import track_videos

    if options.output.show:
        raise PosetrackError("--show shows one video; it does not combine with several sources")
    summary = track_videos(args.sources, args.out, options, "ray" if args.ray is not None else "local", args.workers,
                           ray_address=args.ray or None, threads_per_worker=args.threads_per_worker,
                           gpus_per_worker=args.gpus_per_worker, retries=args.retries, force=args.force,
                           recursive=args.recursive, list_file=args.list, verbose=args.verbose)
    print(summary.table())
    for e in summary.failed:
        print(f"posetrack: error: {e.stem}: {e.error}", file=sys.stderr)
    return 2 if summary.failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from posetrack.assemble import build_pipeline
    from posetrack.demo import render_clip, track_and_score

    options = _options(args, demo=True)
    pipeline = build_pipeline(options)  # a bad option fails here, before anything is written
    clip = render_clip(args.out / "gt", args.preset, args.frames, args.seed)
    print(f"rendered {clip} ({args.frames} frames, preset {args.preset}) with ground truth")
    with summary_on_stop(args):
        scored = track_and_score(clip, pipeline, args.out / "pred", options.output)
    _print_summary(scored.summary, args)
    print(scored.report.table())
    line = scored.line()
    if args.compare:
        flipped = replace(options, runtime=replace(options.runtime, sequential=not options.runtime.sequential),
                          output=replace(options.output, video=False, show=False))
        other = track_and_score(clip, build_pipeline(flipped), args.out / "other", flipped.output)
        seq, pip = (other, scored) if not options.runtime.sequential else (scored, other)
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
