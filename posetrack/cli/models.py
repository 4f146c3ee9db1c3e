"""``posetrack models``: the registry as a table, one model's record, fetching, and checking a fetched model."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  posetrack models                                   # every model: task, input, size, cached or not
  posetrack models info hrnet_w32_posetrack18_256x192
  posetrack models fetch hrnet_w32_posetrack18_256x192 rtmdet_nano_person
  posetrack models check hrnet_w32_posetrack18_256x192   # loads, exports with parity, runs a frame
cache: $POSETRACK_HOME/models (default ~/.cache/posetrack/models); POSETRACK_MIRROR=URL fetches by file name from a
mirror; POSETRACK_OFFLINE=1 never touches the network."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, describe, fetch and check the models posetrack knows",
                       description="The registry of models: the shipped demo models, MMPose's PoseTrack18 and COCO "
                                   "HRNets, and the RTMDet / YOLOX person detectors of MMDeploy's ONNX SDK. Named "
                                   "models are fetched once into the cache, checked against their sha256.",
                       epilog=EPILOG)
    p.add_argument("action", nargs="?", default="list", choices=("list", "info", "fetch", "check"),
                   help="list (default), info NAME, fetch NAME..., check NAME...")
    p.add_argument("names", nargs="*", metavar="NAME", help="model names (or files, for info and check)")
    p.add_argument("--task", choices=("pose", "detector"), help="list: only this task")
    p.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    from posetrack.errors import PosetrackError

    if args.action == "list":
        print(_table(args.task))
        return 0
    if not args.names:
        raise PosetrackError(f"models {args.action}: name at least one model (`posetrack models` lists them)")
    for name in args.names:
        {"info": _info, "fetch": _fetch, "check": _check}[args.action](name)
    return 0


def _size(record) -> str:
    from posetrack.models.hub import Remote

    source = record.source
    if isinstance(source, Remote):
        return f"~{source.size_mb:.0f} MB" if source.size_mb else "?"
    if source is None:
        return "-"
    return f"{source.stat().st_size / 1e6:.1f} MB" if source.is_file() else "?"


def _where(record) -> str:
    from posetrack.models import is_fetched, model_argument
    from posetrack.models.hub import Remote

    source = record.source
    if source is None:
        return "random"
    if not isinstance(source, Remote):
        return "shipped" if model_argument(record) == record.name else "your file"
    return "cached" if is_fetched(record) else "not cached"


def _table(task: str | None) -> str:
    from posetrack.models import get_model, list_models

    rows = [("name", "task", "input", "size", "here", "source's result")]
    for name in list_models(task):
        r = get_model(name)
        rows.append((name, r.task, r.input_size.hxw, _size(r), _where(r), r.reported))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    table = "\n".join("  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5] for row in rows)
    return table + "\n" + FLIP_NOTE


FLIP_NOTE = ("MMPose measured every pose figure above with flip test: `posetrack run --flip-test` runs it (twice the "
             "pose network's work); without it expect a little less.")


def _info(name: str) -> None:
    from posetrack.models import PoseRecord, calibrate_command, get_model
    from posetrack.models.hub import Remote
    from posetrack.models.records import weights_path

    r = get_model(name)
    source = r.source
    p = r.preprocess
    why = dict(getattr(r, "why", ()))
    lines = [f"{r.name} ({r.task})", f"  input        {r.input_size.hxw} (height x width){_because(why, 'input_size')}"]
    if isinstance(r, PoseRecord):
        lines += [f"  architecture HRNet config {r.config}, {r.skeleton.num_joints} heatmaps",
                  f"  joints       {r.skeleton.name} ({', '.join(r.skeleton.joints[:5])}, ...)",
                  f"  crops        box x {r.padding} padding, decoding {r.refine}",
                  "  flip test    off unless --flip-test (MMPose's figures were measured with it)"]
    else:
        batch = f", batch {r.batch} (static export)" if r.batch is not None else ""
        lines += [f"  output       {r.layout} layout{_because(why, 'layout')}",
                  f"  person       class {r.person_class}{_because(why, 'person_class')}, conf {r.conf_threshold:g}, "
                  f"NMS IoU {r.iou_threshold:g}{batch}",
                  f"  letterbox    {p.placement}, fill {p.fill}{_because(why, 'preprocess')}"]
    lines += [f"  pixels       {p.channels.upper()}, mean {_numbers(p.mean)}, std {_numbers(p.std)}"]
    if isinstance(source, Remote):
        checksum = source.sha256 or "none published (pinned on first download)"
        lines += [f"  file         {source.file}", f"  url          {source.url}", f"  sha256       {checksum}"]
        if source.member:
            lines += [f"  model file   {source.member} (sha256 {source.member_sha256 or 'pinned on first unpack'})"]
    lines += [f"  local        {weights_path(source) or 'random weights'} ({_where(r)})",
              f"  page         {r.page}", f"  reported     {r.reported or '-'}",
              f"  INT8         calibrated on {'synthetic frames' if r.synthetic_calibration else 'your frames: '}"
              f"{'' if r.synthetic_calibration else calibrate_command(r)}"]
    print("\n".join(lines))


def _because(why: dict, field: str) -> str:
    return f" ({why[field]})" if field in why else ""


def _numbers(values) -> str:
    """Statistics as people write them: ``[123.675, 116.28, 103.53]``, not float32 noise."""
    return "[" + ", ".join(f"{v:.6g}" for v in values) + "]"


def _fetch(name: str) -> None:
    from posetrack.models import get_model, model_file

    record = get_model(name)
    path = model_file(record)
    print(f"{record.name}: {path}")


def _check(name: str) -> None:
    """Load, export with parity, and run one synthetic frame: what a user with network runs once after a fetch."""
    from posetrack.assemble import check_model

    for line in check_model(name):
        print(line, flush=True)
