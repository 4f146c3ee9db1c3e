"""``posetrack`` command line: ``parser`` builds it, one module per command group holds the commands
(``track``: run, demo; ``compile``: export, calibrate, build; ``bench``; ``data``: synth, eval; ``train``).

User mistakes (missing files, bad weights, bad options) end in one ``posetrack: error: ...`` line on stderr and
exit status 2; Ctrl-C ends with status 130.
"""

from __future__ import annotations

import sys

from posetrack.errors import PosetrackError


def main(argv: list[str] | None = None) -> int:
    try:
        from posetrack.cli.parser import build_parser

        args = build_parser().parse_args(argv)
        return args.func(args)
    except PosetrackError as exc:
        print(f"posetrack: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("posetrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
