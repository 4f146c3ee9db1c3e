"""User-facing errors: the CLI prints these as one line, without a traceback."""


class PosetrackError(Exception):
    """A problem with the user's input (file, option, model) that the message fully explains."""


class CheckpointError(PosetrackError):
    """A weights file that cannot be read or does not fit the model."""
