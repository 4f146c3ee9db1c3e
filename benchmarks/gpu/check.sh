#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, no network and no TensorRT, in under 8 minutes.
#
#     OUT=gpu-report bash benchmarks/gpu/check.sh
#
# Installs posetrack offline into the machine's Python, then writes at most 6 files into $OUT:
#   env.txt      nvidia-smi and versions          tests.log   pytest -m gpu
#   bench.jsonl  benchmarks/gpu/bench.py rows     demo.log    posetrack demo --device cuda (--no-video), twice
#   summary.txt  each step's exit status and time
# Without a GPU every step still runs and says what it skipped.
set -u -o pipefail
OUT=${OUT:-$PWD/gpu-report}
PY=${PY:-python3}
mkdir -p "$OUT"
T0=$(date +%s)
step() {  # step NAME LIMIT_S LOG CMD...
  local name=$1 limit=$2 log=$3; shift 3
  local t=$(date +%s)
  timeout -k 10 "$limit" "$@" >>"$OUT/$log" 2>&1
  echo "$name rc=$? $(( $(date +%s) - t ))s (at $(( $(date +%s) - T0 ))s)" | tee -a "$OUT/summary.txt"
}
{ nvidia-smi || echo "no nvidia-smi"; $PY -c "import torch, sys; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"; } >"$OUT/env.txt" 2>&1
step install 120 env.txt $PY -m pip install --no-index --no-deps --no-build-isolation -e .
step gpu-tests 150 tests.log $PY -m pytest -q -m gpu -p no:cacheprovider tests
step bench 150 bench.jsonl $PY benchmarks/gpu/bench.py --config w32 --input 256x192 --batch 32
step demo 120 demo.log $PY -m posetrack.cli demo --device cuda --no-video --out "$OUT/demo-run"
step demo-torch-fp16 120 demo.log $PY -m posetrack.cli demo --device cuda --backend torch --precision fp16 --no-video --out "$OUT/demo-run"
rm -rf "$OUT/demo-run"
echo "done in $(( $(date +%s) - T0 ))s" | tee -a "$OUT/summary.txt"
