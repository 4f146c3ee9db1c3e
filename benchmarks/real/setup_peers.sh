#!/usr/bin/env bash
# The box trackers' own throwaway environment (outside the project; nothing of theirs enters it): boxmot 25.0.0
# (ByteTrack, OC-SORT, BoT-SORT without ReID) and supervision 0.29.1 (ByteTrack), on PyTorch's CPU build.
set -euo pipefail
PEERS=${PEERS:-/tmp/peers-real}
python -m venv "$PEERS/env"
"$PEERS/env/bin/pip" install -q torch==2.13.0
"$PEERS/env/bin/pip" install -q --no-deps boxmot==25.0.0 supervision==0.29.1
"$PEERS/env/bin/pip" install -q "filterpy>=1.4.5,<2" "lapx>=0.5.5,<1" "pandas>=2,<3" defusedxml \
    opencv-python-headless scipy numpy pyyaml loguru gdown ftfy regex rich "pydeprecate>=0.9,<0.10"
"$PEERS/env/bin/python" -W ignore -c "import boxmot, supervision; print('boxmot', boxmot.__version__, 'supervision', supervision.__version__)"
