"""Argument types, and the flags that set options, generated from the options themselves (``posetrack.options``):
each flag names its section and field once (``FLAGS``), and its help text, its default and its check come from
that field's ``setting``; ``options_from_args`` is the one translation back. Choice lists come from the options
module too (light: ``--help`` never imports torch).

Model input sizes are written as in checkpoint names, height x width (``256x192``); video frame sizes as width x
height (``640x360``); both parse (``types.parse_hxw`` / ``parse_wxh``) to a named ``Size(width, height)``.
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from posetrack.options import SECTIONS, OneEuroConfig, Options, Rule
from posetrack.types import Size, parse_hxw, parse_wxh


def input_hxw(text: str) -> Size:
    """A network input written height x width (``256x192``, as in checkpoint names), or one number for a square
    (``640``, as Ultralytics' ``imgsz``)."""
    size = parse_hxw(text)
    if size is None:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 256x192, got {text!r}")
    if size.height % 32 or size.width % 32 or not size.height or not size.width:
        raise argparse.ArgumentTypeError(f"network input sides must be positive multiples of 32, got {text!r}")
    return size


def frame_wxh(text: str) -> Size:
    """A video frame size written width x height (``640x360``, as video sizes are written)."""
    size = parse_wxh(text)
    if size is None:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x360, got {text!r}")
    if not (64 <= size.width <= 7680 and 64 <= size.height <= 4320):
        raise argparse.ArgumentTypeError(f"frame size {text!r} outside 64x64 .. 7680x4320")
    return size


def folder(text: str) -> Path:
    """An output folder: absent (created when written) or an existing folder, not a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder (it is created if missing)")
    return path


def positive(kind: type) -> Callable[[str], float | int]:
    """A parser of positive ``kind`` (int or float) values."""
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value
    return parse


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def name_list(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """A parser of comma-separated names, each one of ``choices``."""
    def parse(text: str) -> list[str]:
        names = [v for v in text.split(",") if v]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}; got {text!r}")
        return names
    return parse


def add_device_arg(p: argparse.ArgumentParser | argparse._ArgumentGroup, what: str,
                   default: str = "a CUDA GPU if there is one, else the CPU") -> None:
    """``--device cpu|cuda|cuda:N|N``; ``what`` says what runs there."""
    p.add_argument("--device", metavar="DEVICE", help=f"cpu, cuda, cuda:N or N: where {what} (default: {default})")


# ----------------------------------------------------------------------------------------- flags → options


@dataclass(frozen=True)
class Flag:
    """A flag that sets an option: ``--names`` → ``sections``' ``field`` (several: ``--precision`` sets both
    networks'), in the ``--help`` group ``group``. ``value``: what a store-true flag stores (False for ``--no-x``);
    ``help``: instead of the field's own (a negated flag's). ``parse``: for a field no text converts to, the flag's
    value → the field's (the flag then takes an optional value, ``const`` when it is left out)."""

    names: tuple[str, ...]
    sections: tuple[str, ...]
    field: str
    group: str
    metavar: str | None = None
    value: bool | None = None
    help: str | None = None
    parse: Callable[[str], Any] | None = None
    const: str | None = None

    @property
    def dest(self) -> str:
        return self.names[0].lstrip("-").replace("-", "_")


def _flag(names: str, where: str, group: str, metavar: str | None = None, **kw: Any) -> Flag:
    sections, _, name = where.rpartition(".")
    return Flag(tuple(names.split()), tuple(sections.split("+")), name, group, metavar, **kw)


def smoothing(text: str) -> OneEuroConfig:
    """``--smooth HZ``: One-Euro smoothing with cutoff ``HZ`` at rest (its other settings the defaults)."""
    hz = positive(float)(text)
    return OneEuroConfig(min_cutoff=float(hz))


SMOOTH_HELP = ("smooth the output keypoints over time (One-Euro filter, per track; identities unchanged); HZ: its "
               f"cutoff at rest (default {OneEuroConfig().min_cutoff}; lower: smoother, more lag). Its lag with the "
               "default: about 60 ms for a joint moving 20 px/s, 30 ms at 100 px/s, 16 ms at 300 px/s, never more "
               "than 7 px; for looks and motion analysis, not for scores (PoseTrack's metrics count the lag as "
               "misses)")

# (later flags win where two set one field: --detector-precision over --precision)
FLAGS = (
    _flag("--pose-model", "pose.model", "models", "NAME|FILE"),
    _flag("--pose-config", "pose.config", "models", "CONFIG"),
    _flag("--pose-input", "pose.input_size", "models", "HxW"),
    _flag("--pose-layout", "pose.layout", "models"),
    _flag("--poses", "pose.poses", "models", "FILE"),
    _flag("--flip-test", "pose.flip_test", "models", value=True),
    _flag("--detector", "detector.model", "models", "NAME|FILE"),
    _flag("--detector-preprocess", "detector.preprocess", "models", "NAME|JSON"),
    _flag("--detector-class", "detector.person_class", "models", "N"),
    _flag("--conf", "detector.conf", "models", "SCORE"),
    _flag("--iou", "detector.iou", "models", "IOU"),
    _flag("--imgsz", "detector.imgsz", "models", "HxW|N"),
    _flag("--detections", "detector.detections", "models", "FILE"),
    _flag("--detect-every", "keyframes.every", "keyframes", "K"),
    _flag("--redetect", "keyframes.redetect", "keyframes"),
    _flag("--backend", "runtime.backend", "runtime"),
    _flag("--precision", "pose+detector.precision", "runtime"),
    _flag("--detector-precision", "detector.precision", "runtime"),
    _flag("--device", "runtime.device", "runtime", "DEVICE"),
    _flag("--max-persons", "pose.max_persons", "runtime", "N"),
    _flag("--torch-compile", "runtime.torch_compile", "runtime", value=True),
    _flag("--sequential", "runtime.sequential", "runtime", value=True),
    _flag("--keypoint-threshold --keep-score", "output.keypoint_threshold", "outputs", "SCORE"),
    _flag("--no-video", "output.video", "outputs", value=False, help="do not write the annotated video"),
    _flag("--coco", "output.coco", "outputs", value=True),
    _flag("--show", "output.show", "outputs", value=True),
    _flag("--draw-boxes", "output.draw_boxes", "outputs", value=True),
    _flag("--trail", "output.trail", "outputs", "N"),
    _flag("--line-width", "output.line_width", "outputs", "PX"),
    _flag("--stream-json", "output.stream_json", "outputs", "PATH|-"),
    _flag("--mot", "output.mot", "outputs", "PATH"),
    _flag("--csv", "output.csv", "outputs", "PATH"),
    _flag("--smooth", "tracker.smoothing", "outputs", "HZ", parse=smoothing, const=str(OneEuroConfig().min_cutoff),
          help=SMOOTH_HELP),
    _flag("--start", "runtime.start", "frames", "FRAME|SECONDS"),
    _flag("--end", "runtime.end", "frames", "FRAME|SECONDS"),
    _flag("--stride", "runtime.stride", "frames", "N"),
    _flag("--buffer", "runtime.buffer", "live"),
    _flag("--reconnect", "runtime.reconnect", "live", "N"),
)

GROUPS = {"models": "models", "keyframes": "keyframes (real time: the detector on some frames only)",
          "runtime": "runtime", "outputs": "outputs",
          "frames": "which frames (outputs keep the source's frame numbers)",
          "live": "live sources (camera index, rtsp://, rtmp://, http(s)://, tcp://, udp://, srt://)"}
SIZE_FIELDS = {"input_size", "imgsz"}  # network inputs: height x width, sides multiples of 32


MODEL_FLAGS = ("--pose-model", "--pose-config", "--pose-input", "--pose-layout", "--detector", "--detector-preprocess",
               "--detector-class", "--imgsz")  # what names a model (posetrack export / calibrate / build)


def add_flags(p: argparse.ArgumentParser, groups: Sequence[str] = tuple(GROUPS),
              names: Sequence[str] | None = None) -> None:
    """The flags of ``groups`` (``GROUPS``; only those in ``names``, if given), each with its field's help, default
    and check; every default None, so that a ``--config`` file's settings stand unless a flag is given."""
    made: dict[str, argparse._ArgumentGroup] = {}
    for flag in FLAGS:
        if flag.group in groups and (names is None or flag.names[0] in names):
            if flag.group not in made:
                made[flag.group] = p.add_argument_group(GROUPS[flag.group])
            made[flag.group].add_argument(*flag.names, dest=flag.dest, **_argument(flag))


def _argument(flag: Flag) -> dict[str, Any]:
    """argparse's keywords for ``flag``: type or choices, metavar and help, from the options field it sets."""
    cls = SECTIONS[flag.sections[0]]
    spec = next(f for f in fields(cls) if f.name == flag.field)
    rule: Rule | None = spec.metadata.get("rule")
    help_text = flag.help or spec.metadata.get("help", "")
    if flag.value is not None:
        return {"action": "store_const", "const": flag.value, "default": None, "help": help_text}
    if flag.parse is not None:
        return {"nargs": "?", "const": flag.const, "type": flag.parse, "default": None, "metavar": flag.metavar,
                "help": help_text}
    kind = _base_type(cls, flag.field)
    kw: dict[str, Any] = {"default": None, "metavar": flag.metavar}
    if kind is bool:
        kw.update(choices=("on", "off"), type=None, metavar=None)
    elif rule is not None and rule.choices:
        kw.update(choices=rule.choices, metavar=None)
    else:
        kw["type"] = _parser(kind, rule, flag.field)
    shown = spec.metadata.get("show_default")
    default = spec.default if shown is None else shown
    if kind is bool and shown is None:
        default = "on" if default else "off"
    kw["help"] = f"{help_text} (default: {default})" if default is not None else help_text
    return kw


def _base_type(cls: type, name: str) -> type:
    """The field's type without ``| None`` (int, float, str, bool, Path, Size)."""
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return args[0] if isinstance(args[0], type) else str


def _parser(kind: type, rule: Rule | None, name: str) -> Callable[[str], Any]:
    """A flag's value from text: the field's type, then its rule (argparse shows the error in one line)."""
    def parse(text: str) -> Any:
        if name in SIZE_FIELDS:
            return input_hxw(text)
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if rule is not None and not rule.ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule.text}, got {text!r}")
        return value
    return parse


def add_run_args(p: argparse.ArgumentParser, default_out: Path) -> None:
    """Everything a tracking run takes (``run``, ``demo``)."""
    p.add_argument("--out", type=folder, default=default_out, help=f"output folder (default: {default_out}/)")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="options from a JSON or TOML file (sections detector, pose, keyframes, tracker, output, "
                        "runtime); flags given as well override it")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="also write the run summary (FPS, stage FPS, latency percentiles, detector frames, drops) as "
                        "JSON")
    add_flags(p)


def options_from_args(args: argparse.Namespace, base: Options | None = None) -> Options:
    """The options record of the parsed flags: ``base`` (default: the defaults), then ``--config FILE``, then every
    flag given (later flags of ``FLAGS`` win)."""
    options = base if base is not None else Options()
    if getattr(args, "config", None) is not None:
        options = Options.from_file(args.config, options)
    changes: dict[str, dict[str, Any]] = {}
    for flag in FLAGS:
        value = getattr(args, flag.dest, None)
        if value is None:
            continue
        if value in ("on", "off") and _base_type(SECTIONS[flag.sections[0]], flag.field) is bool:
            value = value == "on"
        if flag.parse is not None and isinstance(value, str):  # argparse leaves ``const`` as it is
            value = flag.parse(value)
        for section in flag.sections:
            changes.setdefault(section, {})[flag.field] = str(value) if flag.field == "model" else value
    return options.updated(changes, "options")
