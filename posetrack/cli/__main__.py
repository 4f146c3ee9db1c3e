"""``python -m posetrack.cli``: the same as the ``posetrack`` command."""

import sys

from posetrack.cli import main

sys.exit(main())
