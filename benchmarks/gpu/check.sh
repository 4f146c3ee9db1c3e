#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, no network and no TensorRT, in at most 7 minutes (the step
# limits below add up to 395 s).
#
#     OUT=gpu-report bash benchmarks/gpu/check.sh
#
# Installs posetrack offline into the machine's Python, then writes into $OUT (8 files):
#   env.txt       nvidia-smi and versions          tests.log     pytest -m gpu (30 s a test at most)
#   bench.jsonl   benchmarks/gpu/bench.py rows     demo.json     posetrack demo --device "$DEVICE" --no-video summary
#   run1080.json  a 1920x1080 clip, 16 people, 600 frames, W32 fp16: the run summary (per-stage FPS, warm-up)
#   util.csv      GPU utilisation every 100 ms during that run, steady.txt marks its steady state
#   results.jsonl the aims as clean JSON lines (benchmarks/gpu/results.py)     summary.txt  each step's status
# Every step has its own time limit, so one slow step cannot sink the others; results.jsonl is written from
# whatever finished. Without a GPU every step still runs and says what it skipped or why it failed.
set -u -o pipefail
OUT=${OUT:-$PWD/gpu-report}
PY=${PY:-python3}
FRAMES=${FRAMES:-600}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu FRAMES=120: a dry run of the script itself on a machine without a GPU
WORK=$(mktemp -d)
mkdir -p "$OUT"
T0=$(date +%s)
step() {  # step NAME LIMIT_S LOG CMD...
  local name=$1 limit=$2 log=$3; shift 3
  local t=$(date +%s)
  echo "== $name: $*" >>"$OUT/$log"
  timeout -k 5 "$limit" "$@" >>"$OUT/$log" 2>&1
  echo "$name rc=$? $(( $(date +%s) - t ))s (at $(( $(date +%s) - T0 ))s)" | tee -a "$OUT/summary.txt"
}
steady_marks() {  # the util.csv line counts when the 1080p run's frame 60 and frame FRAMES-60 came out
  local lines=$1
  for mark in 60 $(( FRAMES - 60 )); do
    until [ -f "$lines" ] && [ "$(wc -l <"$lines")" -ge "$mark" ]; do sleep 0.05; done
    if [ -f "$OUT/util.csv" ]; then wc -l <"$OUT/util.csv"; else echo 0; fi
  done >"$OUT/steady.txt"
}
{ nvidia-smi || echo "no nvidia-smi"; $PY -c "import torch, sys; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.is_available())"; } >"$OUT/env.txt" 2>&1
step install 60 env.txt $PY -m pip install --no-index --no-deps --no-build-isolation -e .
# only the modules holding GPU tests: others import test oracles the GPU machine lacks (jsonschema, motmetrics)
step gpu-tests 75 tests.log $PY -m pytest -q -rs -m gpu -p no:cacheprovider --timeout 30 --continue-on-collection-errors $(grep -l "mark.gpu" tests/test_*.py)
step bench 60 bench.jsonl $PY benchmarks/gpu/bench.py --config w32 --input 256x192 --batch 32 --repeats 30
step demo 60 tests.log $PY -m posetrack.cli demo --device "$DEVICE" --no-video --out "$WORK/demo-run" --json "$OUT/demo.json"
# 1080p, 16 people, HRNet-W32 256x192 (random weights: speed, not accuracy), fp16 on the GPU
step clip1080 40 tests.log $PY -m posetrack.cli synth "$WORK/clip" --preset crowd --people 16 --size 1920x1080 --frames "$FRAMES" --name 900001_mpii_test
step w32-weights 20 tests.log $PY -c "import torch; from posetrack.models.hrnet import hrnet; torch.save(hrnet('w32').state_dict(), '$WORK/w32.pth')"
{ nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 >"$OUT/util.csv" 2>/dev/null & echo $! >"$WORK/smi.pid"; } || true
steady_marks "$WORK/lines.jsonl" & MARKS=$!
step run1080 60 tests.log $PY -m posetrack.cli run "$WORK/clip/900001_mpii_test.mp4" --device "$DEVICE" --precision fp16 --detector demo --pose-model "$WORK/w32.pth" --pose-config w32 --no-video --out "$WORK/run1080" --json "$OUT/run1080.json" --stream-json "$WORK/lines.jsonl"
kill "$(cat "$WORK/smi.pid")" "$MARKS" 2>/dev/null
timeout 20 $PY benchmarks/gpu/results.py "$OUT" >"$OUT/results.jsonl" 2>>"$OUT/tests.log"
echo "results rc=$? (at $(( $(date +%s) - T0 ))s)" | tee -a "$OUT/summary.txt"
rm -rf "$WORK"
echo "done in $(( $(date +%s) - T0 ))s" | tee -a "$OUT/summary.txt"
