"""User-facing errors: the CLI prints these as one line, without a traceback."""


class PosetrackError(Exception):
    """A problem with the user's input (file, option, model) that the message fully explains."""


class CheckpointError(PosetrackError):
    """A weights file that cannot be read or does not fit the model."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (Ctrl-C, SIGTERM, SIGHUP) after closing its outputs; the CLI exits with
    status 128 + ``signum``. ``kept``: a line saying what was written, if anything."""

    def __init__(self, signum: int, kept: str = ""):
        super().__init__(signum)
        self.signum, self.kept = signum, kept
