#!/usr/bin/env bash
# The demo's FPS of two checkouts in alternating rounds (robust to this VM's drift), metrics printed beside it.
#   bash benchmarks/alternating-demo.sh OLD_CHECKOUT NEW_CHECKOUT [ROUNDS] [extra demo flags, e.g. --no-video]
# Each side runs from its own source tree (PYTHONPATH) with its own engines cache; the first round pays exports.
set -euo pipefail
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd) rounds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
for round in $(seq "$rounds"); do
  for side in old new; do
    tree=${!side}
    # run from the tree itself: Python puts the working folder before PYTHONPATH on sys.path
    line=$(cd "$tree" && POSETRACK_ENGINES="${TMPDIR:-/tmp}/alternating-engines-$side" PYTHONPATH="$tree" \
           python -m posetrack.cli demo --out "${TMPDIR:-/tmp}/alternating-$side" "$@" 2>&1 |
           grep -E "FPS end to end|mAP" | tr '\n' ' ')
    echo "round $round $side: $line"
  done
done
