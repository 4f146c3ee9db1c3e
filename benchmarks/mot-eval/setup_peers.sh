#!/usr/bin/env bash
# The reference tools' own throwaway environments (outside the project; nothing of theirs enters it):
#   $PEERS/mm  py-motmetrics 1.4.0, which calls np.asfarray (removed in numpy 2): numpy < 2
#   $PEERS/te  TrackEval (its repository, any checkout; it uses np.float / np.int, removed in numpy 1.24): numpy 1.23
# TRACKEVAL=/path/to/TrackEval (a clone or an exported tree) is put on the te environment's path.
set -euo pipefail
PEERS=${PEERS:-/tmp/peers-mot}
python -m venv "$PEERS/mm"
"$PEERS/mm/bin/pip" install -q motmetrics==1.4.0 "numpy<2" "pandas<2.3" scipy
python -m venv "$PEERS/te"
"$PEERS/te/bin/pip" install -q "numpy==1.23.5" "scipy<1.12"
"$PEERS/mm/bin/python" -c "import motmetrics, numpy; print('motmetrics', motmetrics.__version__, 'numpy', numpy.__version__)"
PYTHONPATH="${TRACKEVAL:?set TRACKEVAL to a TrackEval tree}" "$PEERS/te/bin/python" -c \
  "import trackeval, numpy; print('trackeval', trackeval.__file__, 'numpy', numpy.__version__)"
