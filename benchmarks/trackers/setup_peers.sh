#!/usr/bin/env bash
# The peers' own environments for compare.py (throwaway, outside the project; nothing of theirs enters it).
#   /tmp/peers       boxmot 25.0.0 (ByteTrack, OC-SORT, BoT-SORT without ReID) + supervision 0.26.1 (ByteTrack; its
#                    last release before the tracker was deprecated), on this machine's NumPy 2 / CPU torch
#                    (--system-site-packages, so no multi-GB CUDA torch is pulled)
#   /tmp/norfairenv  norfair 2.3.0, which pins numpy < 2 and rich < 15: its own environment
set -euo pipefail
python -m venv --system-site-packages /tmp/peers
/tmp/peers/bin/pip install -q --no-deps boxmot==25.0.0 supervision==0.26.1
/tmp/peers/bin/pip install -q "filterpy>=1.4.5,<2" "lapx>=0.5.5,<1" "pandas>=2,<3" defusedxml
python -m venv /tmp/norfairenv
/tmp/norfairenv/bin/pip install -q norfair==2.3.0 "numpy<2" opencv-python-headless==4.10.0.84
/tmp/peers/bin/python -W ignore -c "import boxmot, supervision; print('boxmot', boxmot.__version__, 'supervision', supervision.__version__)"
/tmp/norfairenv/bin/python -c "import norfair, numpy; print('norfair', norfair.__version__, 'numpy', numpy.__version__)"
