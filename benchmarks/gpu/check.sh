#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, no network and no TensorRT, in under 8 minutes.
#
#     OUT=gpu-report bash benchmarks/gpu/check.sh
#
# Installs posetrack offline into the machine's Python, then writes at most 8 files into $OUT:
#   env.txt      nvidia-smi and versions            tests.log    pytest -m gpu
#   bench.jsonl  benchmarks/gpu/bench.py rows       demo.log     posetrack demo --device cuda (--no-video), twice
#   suite.md     posetrack bench --device cuda      suite.json   the same, every number
#   run1080.log  a 1920x1080 clip, 16 people, W32   summary.txt  each step's exit status and time
# Every step has its own time limit, so one slow step cannot sink the others. Without a GPU every step still runs
# and says what it skipped.
set -u -o pipefail
OUT=${OUT:-$PWD/gpu-report}
PY=${PY:-python3}
WORK=$(mktemp -d)
mkdir -p "$OUT"
T0=$(date +%s)
step() {  # step NAME LIMIT_S LOG CMD...
  local name=$1 limit=$2 log=$3; shift 3
  local t=$(date +%s)
  echo "== $name: $*" >>"$OUT/$log"
  timeout -k 10 "$limit" "$@" >>"$OUT/$log" 2>&1
  echo "$name rc=$? $(( $(date +%s) - t ))s (at $(( $(date +%s) - T0 ))s)" | tee -a "$OUT/summary.txt"
}
{ nvidia-smi || echo "no nvidia-smi"; $PY -c "import torch, sys; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.is_available())"; } >"$OUT/env.txt" 2>&1
step install 120 env.txt $PY -m pip install --no-index --no-deps --no-build-isolation -e .
step gpu-tests 150 tests.log $PY -m pytest -q -m gpu -p no:cacheprovider tests
step bench 120 bench.jsonl $PY benchmarks/gpu/bench.py --config w32 --input 256x192 --batch 32
step demo 90 demo.log $PY -m posetrack.cli demo --device cuda --no-video --out "$WORK/demo-run"
step demo-torch-fp16 90 demo.log $PY -m posetrack.cli demo --device cuda --backend torch --precision fp16 --no-video --out "$WORK/demo-run"
# 1080p, 16 people, HRNet-W32 256x192 (random weights: speed, not accuracy), fp16 on the GPU
step clip1080 60 run1080.log $PY -m posetrack.cli synth "$WORK/clip" --preset crowd --people 16 --size 1920x1080 --frames 200 --name 900001_mpii_test
step w32-weights 30 run1080.log $PY -c "import torch; from posetrack.models.hrnet import hrnet; torch.save(hrnet('w32').state_dict(), '$WORK/w32.pth')"
step run1080 90 run1080.log $PY -m posetrack.cli run "$WORK/clip/900001_mpii_test.mp4" --device cuda --precision fp16 --pose-weights "$WORK/w32.pth" --pose-config w32 --no-video --out "$WORK/run1080"
# the bench suite on the GPU: --quick's short clips and rounds, both shipped models and W32 (the rows above are W32's
# network alone; these add accuracy per precision and the pipeline section on CUDA)
step suite 150 suite.log $PY -m posetrack.cli bench --device cuda --quick --models demo,detector,w32 --backends torch --precisions fp32,fp16,bf16 --batches 1,32 --out "$WORK/suite"
cp "$WORK"/suite/*.md "$OUT/suite.md" 2>/dev/null; cp "$WORK"/suite/*.json "$OUT/suite.json" 2>/dev/null
cat "$OUT/suite.log" >>"$OUT/tests.log" 2>/dev/null; rm -f "$OUT/suite.log"
rm -rf "$WORK"
echo "done in $(( $(date +%s) - T0 ))s" | tee -a "$OUT/summary.txt"
