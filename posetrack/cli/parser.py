"""The ``posetrack`` argument parser: one sub-command per job, registered by the module of its command group.

Mistakes read as one line: a bad value says what is wrong with it (``posetrack run: error: argument --out: ...``);
an unknown option shows the command's own usage and the closest option it has ("did you mean --out?"). Building
the parser imports no network library, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from posetrack.cli import bench, compile, data, models, track, train
from posetrack.errors import did_you_mean


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that text holding line breaks (the examples of an epilog) keeps them, while a
    description written as one paragraph is still wrapped to the terminal."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, with the closest option or command for a typo, and whose
    help keeps the examples' lines."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if "invalid choice" in message and "argument COMMAND" in message:
            typed = message.split("'")[1] if "'" in message else ""
            message = f"no command {typed!r}" + did_you_mean(typed, self._commands())
        self.exit(2, f"{self.prog}: error: {message}\n")

    def unknown(self, extra: list[str]) -> NoReturn:
        """Say which arguments this command does not take, with its usage and the closest options it has."""
        options = [o for action in self._actions for o in action.option_strings]
        flags = [a for a in extra if a.startswith("-")]
        named = flags[0].split("=")[0] if flags else extra[0]
        renamed = RENAMED.get(named)
        if renamed in options:
            hint = f"; it is {renamed} now"
        else:
            hint = did_you_mean(named, options, cutoff=0.7) if flags else ""
        what = "option" if flags else "argument"
        self.exit(2, f"{self.format_usage()}{self.prog}: error: unrecognized {what} {named}{hint}\n")

    def _commands(self) -> list[str]:
        return [c for action in self._actions if isinstance(action, argparse._SubParsersAction)
                for c in action.choices]

    def command(self, name: str) -> Parser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                return action.choices[name]
        return self

    def parse_args(self, args=None, namespace=None):
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            self.command(getattr(parsed, "command", "") or "").unknown(extra)
        return parsed


RENAMED = {"--weights": "--pose-model", "--pose-weights": "--pose-model"}
"""Options of earlier versions → their names now (what a user's old command line is told)."""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("posetrack")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


def build_parser() -> Parser:
    """The parser (its command modules import only light modules while registering)."""
    parser = Parser(prog="posetrack",
                    description="Real-time multi-person pose tracking with HRNet: PyTorch models, ONNX / TensorRT "
                                "engines, PoseTrack evaluation.",
                    epilog="examples:\n  posetrack run video.mp4           # real models, fetched once\n"
                           "  posetrack demo                    # the offline synthetic demo\n"
                           "  posetrack models                  # what can be fetched\n"
                           "`posetrack COMMAND --help` explains a command.")
    parser.add_argument("--version", action="version", version=f"posetrack {version()} (Python {sys.version.split()[0]})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    track.register(sub)
    models.register(sub)
    compile.register(sub)
    bench.register(sub)
    data.register_synth(sub)
    data.register_eval(sub)
    train.register(sub)
    return parser
