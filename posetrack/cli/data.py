"""``posetrack synth`` and ``posetrack eval``: synthetic clips with ground truth, and scoring predictions."""

from __future__ import annotations

import argparse
from pathlib import Path

from posetrack.cli.args import frame_wxh, name_list, positive
from posetrack.errors import PosetrackError


def register_synth(sub: argparse._SubParsersAction) -> None:
    from posetrack.synth import PRESETS

    p = sub.add_parser("synth", help="render a synthetic multi-person clip with exact PoseTrack ground truth",
                       description="Render a procedural clip (people walking, crossing, occluding, entering and "
                                   "leaving) to OUT_DIR/<name>.mp4 with ground truth OUT_DIR/<name>.json in "
                                   "PoseTrack 2018 format, as the official poseval reads it. Same seed, same output.",
                       epilog="examples:\n  posetrack synth data/ --preset crowd --seed 7\n"
                              "  posetrack synth data/ --preset hard --frames 300")
    p.add_argument("out_dir", type=Path, help="output folder")
    p.add_argument("--preset", default="crossing", choices=list(PRESETS),
                   help="difficulty preset (default: crossing)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--people", type=positive(int), help="persons in view at a time (default: the preset's)")
    p.add_argument("--frames", type=positive(int), default=150, help="clip length in frames (default: 150)")
    p.add_argument("--size", type=frame_wxh, default=(640, 360), metavar="WxH", help="frame size (default: 640x360)")
    p.add_argument("--fps", type=positive(float), default=25.0, help="frame rate (default: 25)")
    p.add_argument("--name", help="sequence name, digits + '_mpii_test' (default: from preset and seed)")
    p.set_defaults(func=cmd_synth)


def register_eval(sub: argparse._SubParsersAction) -> None:
    from posetrack.eval.tracking import METRICS

    p = sub.add_parser("eval", help="PoseTrack mAP and MOTA (as poseval), IDF1, keypoint HOTA; box MOT metrics of "
                                    "MOTChallenge files (--mot)",
                       description="Evaluate PoseTrack predictions against ground truth. poseval: per-joint AP "
                                   "(PCKh@0.5) and CLEAR-MOT, exactly as the official poseval; idf1: IDF1/IDP/IDR on "
                                   "the same per-joint accumulators, as motmetrics computes them; hota: keypoint HOTA "
                                   "(DetA x AssA) exactly as the official PoseTrack21 kit. Each ground-truth JSON is "
                                   "paired with the prediction JSON of the same name. With --mot GT PRED: boxes of "
                                   "MOTChallenge text files (frame,id,x,y,w,h,conf,...): MOTA, MOTP, IDF1, IDSW, FP, "
                                   "FN, MT/PT/ML, fragmentations as py-motmetrics computes them and box HOTA as "
                                   "TrackEval does, for two files or MOTChallenge folders (GT/<seq>/gt/gt.txt with "
                                   "GT/<seq>/seqinfo.ini, predictions PRED/<seq>.txt).",
                       epilog="examples:\n  posetrack eval --gt data/ --pred out/\n"
                              "  posetrack eval --gt data/ --pred out/ --json metrics.json\n"
                              "  posetrack eval --mot MOT15/train/ out/mot/ --json mot.json\n"
                              "  posetrack eval --mot TUD-Campus/gt.txt out/TUD-Campus.mot.txt")
    p.add_argument("--gt", type=Path, help="ground-truth folder (or one .json)")
    p.add_argument("--pred", type=Path, help="prediction folder (or one .json)")
    p.add_argument("--mot", type=Path, nargs=2, metavar=("GT", "PRED"),
                   help="score MOTChallenge box files or folders instead (metrics as fractions in --json)")
    p.add_argument("--metrics", type=name_list(METRICS), default=("poseval",), metavar="LIST",
                   help="comma-separated: poseval (mAP, MOTA, MOTP, precision, recall), idf1, hota "
                        "(default: poseval)")
    p.add_argument("--hota-fix-empty-frames", action="store_true",
                   help="HOTA without the PoseTrack21 kit's bug (a frame without ground truth or without "
                        "predictions counts the joints of the whole sequence as false positives or misses); "
                        "the default reproduces the kit")
    p.add_argument("--json", type=Path, help="also write the metrics to this JSON file (PoseTrack: percent; --mot: "
                                             "fractions and counts, per sequence and in total)")
    p.set_defaults(func=cmd_eval)


def cmd_synth(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from posetrack.io.posetrack_json import MAX_FRAMES
    from posetrack.synth import PRESETS
    from posetrack.synth.files import clip_name, write_clip

    if args.frames > MAX_FRAMES:
        raise PosetrackError(f"--frames {args.frames}: a PoseTrack sequence holds at most {MAX_FRAMES} frames")
    overrides = {"frames": args.frames, "size": args.size, "fps": args.fps}
    if args.people:
        overrides["people"] = args.people
    config = replace(PRESETS[args.preset], **overrides)
    name = args.name or clip_name(args.preset, args.seed)
    with tqdm(total=args.frames, desc=f"rendering {name}", unit="frame", disable=None) as bar:
        video, truth = write_clip(config, args.seed, args.out_dir, name, progress=bar.update)
    print(f"wrote {video} and {truth}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from posetrack.io.files import atomic_path

    if args.mot:
        from posetrack.eval.mot import evaluate_mot, read_mot_sequences

        if args.gt or args.pred:
            raise PosetrackError("eval: --mot GT PRED scores box files; it does not combine with --gt / --pred")
        mot = evaluate_mot(read_mot_sequences(*args.mot))
        print("box tracking (CLEAR MOT and IDF1 as py-motmetrics, HOTA as TrackEval; percent):")
        print(mot.table())
        result: object = mot.to_json()
    else:
        from posetrack.eval.tracking import evaluate_tracking

        if not (args.gt and args.pred):
            raise PosetrackError("eval: give --gt and --pred (PoseTrack JSON), or --mot GT PRED (MOTChallenge boxes)")
        report = evaluate_tracking(args.gt, args.pred, tuple(args.metrics), args.hota_fix_empty_frames)
        print(report.table())
        result = report.summary()
    if args.json:
        with atomic_path(args.json) as draft:
            draft.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0
