"""``posetrack train pose|detector``: train in PyTorch (synthetic world, COCO or PoseTrack files)."""

from __future__ import annotations

import argparse
from pathlib import Path

from posetrack.cli.args import add_device_arg, folder, input_hxw, positive


def register(sub: argparse._SubParsersAction) -> None:

    p = sub.add_parser("train", help="train the pose model (HRNet) or the person detector",
                       description="Train in PyTorch. Data: the synthetic world (default), a COCO keypoint file with "
                                   "its image folder, or a PoseTrack 2018 file with its frame root. Validation: OKS AP "
                                   "on held-out synthetic clips (seeds never used for training).",
                       epilog="examples:\n  posetrack train pose --out runs/pose\n"
                              "  posetrack train detector --out runs/det")
    p.add_argument("what", choices=["pose", "detector"], help="what to train")
    p.add_argument("--out", type=folder, required=True, help="run folder (checkpoints, history); resumed if present")
    p.add_argument("--config", default="demo", help="HRNet configuration: demo, w32 or w48 (default: demo)")
    p.add_argument("--input-size", type=input_hxw, metavar="HxW",
                   help="network input, height x width (default: the shipped model's input)")
    p.add_argument("--data", default="synthetic", metavar="SOURCE",
                   help="synthetic (default), coco:ANNOTATIONS.json:IMAGE_DIR or posetrack:ANNOTATIONS.json:FRAME_ROOT")
    p.add_argument("--steps", type=positive(int), default=3000, help="optimiser steps (default: 3000)")
    p.add_argument("--batch", type=positive(int), default=32, help="batch size (default: 32)")
    p.add_argument("--lr", type=positive(float), default=1e-3, help="peak Adam learning rate (default: 1e-3)")
    p.add_argument("--val-every", type=positive(int), default=500, help="steps between validations (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="data and initialisation seed (default: 0)")
    p.add_argument("--init", type=Path, metavar="WEIGHTS",
                   help="start from these weights (fine-tuning; any checkpoint format `run --pose-weights` reads) "
                        "instead of the official random initialisation; a run found in OUT is resumed instead")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT has a checkpoint")
    p.add_argument("--unoccluded-keep", type=positive(float), default=1.0, metavar="P",
                   help="pose, synthetic data: keep only this share of the people with no joint hidden behind someone "
                        "else, so occluded crops weigh more (default: 1, all)")
    add_device_arg(p, "training runs")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from posetrack.assemble import device_for
    from posetrack.errors import PosetrackError
    from posetrack.train.loop import TrainConfig
    from posetrack.train.recipes import TrainJob, train_detector_job, train_pose_job

    device = device_for(args.device)
    warmup = {"warmup": 200} if args.what == "detector" else {}
    loop = TrainConfig(steps=args.steps, lr=args.lr, val_every=args.val_every, seed=args.seed, device=device,
                       **warmup)
    if args.unoccluded_keep > 1:
        raise PosetrackError(f"--unoccluded-keep {args.unoccluded_keep:g}: a share, at most 1")
    job = TrainJob(args.out, loop, args.config, args.input_size, args.data, args.batch, args.init, not args.no_resume,
                   args.unoccluded_keep)
    history = (train_detector_job if args.what == "detector" else train_pose_job)(job)
    metric = "AP50" if args.what == "detector" else "AP"
    best = max((v[metric] for v in history.val), default=float("nan"))
    label = "box AP50" if args.what == "detector" else "OKS AP"
    print(f"done: {len(history.loss)} steps in {history.seconds / 60:.1f} min; best {label} {best:.4f}; "
          f"weights in {args.out / 'best.pth'}")
    return 0
