"""User-facing errors: the CLI prints these as one line, without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PosetrackError(Exception):
    """A problem with the user's input (file, option, model) that the message fully explains."""


class CheckpointError(PosetrackError):
    """A weights file that cannot be read or does not fit the model."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (Ctrl-C, SIGTERM, SIGHUP) after closing its outputs; the CLI exits with
    status 128 + ``signum``. ``kept``: a line saying what was done, if anything; ``summary``: the run's summary up
    to the stop (``track_video.RunSummary``), for the CLI to print and write as a finished run's."""

    def __init__(self, signum: int, kept: str = "", summary: object | None = None):
        super().__init__(signum)
        self.signum, self.kept, self.summary = signum, kept, summary


def did_you_mean(typed: str, choices: Iterable[str], cutoff: float = 0.6, n: int = 1) -> str:
    """``"; did you mean X?"`` for the choice closest to ``typed`` (up to ``n`` of them: ``"X or Y"``), else ``""``:
    the tail of a one-line error about a mistyped name."""
    close = difflib.get_close_matches(typed, list(choices), n=n, cutoff=cutoff)
    return f"; did you mean {' or '.join(close)}?" if close else ""
