"""``posetrack`` command line: ``parser`` builds it, one module per command group holds the commands
(``track``: run, demo, recover; ``compile``: export, calibrate, build; ``bench``; ``data``: synth, eval; ``train``).

User mistakes (missing files, bad weights, bad options) end in one ``posetrack: error: ...`` line on stderr and
exit status 2; warnings (a skipped image, a clipped box) are ``posetrack: warning: ...`` lines. Ctrl-C, SIGTERM
and SIGHUP end a command with status 128 + the signal (130, 143, 129) after its outputs are closed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from posetrack.errors import Interrupted, PosetrackError

VERBOSE_CODEC_LOGS = ("32", "INFO")  # AV_LOG_INFO, and OpenCV's INFO: what --verbose shows
QUIET_CODEC_LOGS = ("-8", "ERROR")  # AV_LOG_QUIET, and OpenCV's errors: FFmpeg's own lines ("Stream ends
# prematurely", codec warnings) would break the progress bar and surround the one-line errors; posetrack says what
# matters itself. A value the user set stands.


def main(argv: list[str] | None = None) -> int:
    # OpenCV reads FFmpeg's log level when it is imported, which building the parser does: so before that
    if "--verbose" in (sys.argv[1:] if argv is None else argv):
        os.environ["OPENCV_FFMPEG_LOGLEVEL"], os.environ["OPENCV_LOG_LEVEL"] = VERBOSE_CODEC_LOGS
    else:
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", QUIET_CODEC_LOGS[0])
        os.environ.setdefault("OPENCV_LOG_LEVEL", QUIET_CODEC_LOGS[1])
    previous = _stop_on_signals()
    handler = _warnings_to_stderr()
    try:
        from posetrack.cli.parser import build_parser

        args = build_parser().parse_args(argv)
        return args.func(args)
    except PosetrackError as exc:
        print(f"posetrack: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        kept = f"; {exc.kept}" if isinstance(exc, Interrupted) and exc.kept else ""
        print(f"posetrack: interrupted by {signal.Signals(signum).name}{kept}", file=sys.stderr)
        return 128 + signum
    finally:
        logging.getLogger("posetrack").removeHandler(handler)
        for s, h in previous.items():
            signal.signal(s, h)


def _stop_on_signals() -> dict:
    """SIGTERM and SIGHUP raise ``Interrupted`` like Ctrl-C raises KeyboardInterrupt, so every command unwinds
    through its ``finally`` blocks (the run loop defers them to a frame boundary itself). One ignored when the
    command starts (``nohup``'s SIGHUP) stays ignored, as Python leaves an ignored Ctrl-C."""

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    signums = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    return {s: signal.signal(s, interrupt) for s in signums if signal.getsignal(s) is not signal.SIG_IGN}


class _Line(logging.Formatter):
    """``posetrack: warning: ...`` for warnings and errors, ``posetrack: ...`` for what a run says it chose."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno <= logging.INFO:
            return f"posetrack: {record.getMessage()}"
        return f"posetrack: {record.levelname.lower()}: {record.getMessage()}"


def _warnings_to_stderr() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Line())
    logger = logging.getLogger("posetrack")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


if __name__ == "__main__":
    sys.exit(main())
