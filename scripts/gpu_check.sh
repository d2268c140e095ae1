#!/usr/bin/env bash
# On a machine with a CUDA GPU: runs the GPU-vs-CPU tests, the whole test suite,
# the pipeline with --device cuda on the sample (and on CORPUS when given), and the
# benchmarks, then prints a short table. Usage: scripts/gpu_check.sh [BUILD_DIR] [CORPUS]
# MODEL (default random:e5-small, which needs only multilingual-e5-small's tokenizer.json
# in the models folder; the real weights are too large to carry to a GPU machine) is
# the encoder of the runs, which use the CUDA encoder ops (EMBCLUST_CUDA_ENCODER, default fp32).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
CORPUS=${2:-}
MODEL=${MODEL:-random:e5-small}
export EMBCLUST_CUDA_ENCODER=${EMBCLUST_CUDA_ENCODER:-fp32}
LOG=${LOG_DIR:-/tmp}/embclust-gpu-check
mkdir -p "$LOG"
declare -a rows

row() { rows+=("$(printf '%-44s %s' "$1" "$2")"); }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

"$B/tests/embclust_gpu_tests" >"$LOG/gpu_tests.txt" 2>&1
rc=$?
row "GPU tests (embclust_gpu_tests)" "$([ $rc = 0 ] && echo pass || echo FAIL) $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$LOG/gpu_tests.txt" | tr '\n' ' ')"

"$B/tests/embclust_tests" >"$LOG/tests.txt" 2>&1
rc=$?
row "all CPU tests (embclust_tests)" "$([ $rc = 0 ] && echo pass || echo FAIL) $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$LOG/tests.txt" | tr '\n' ' ')"

t0=$(date +%s.%N)
"$B/embclust" run tests/data/sample -o "$LOG/sample.h5" --config configs/default.toml --model "$MODEL" --device cuda 2>"$LOG/sample.txt"
rc=$?
row "run sample --device cuda" "rc=$rc $(grep -o 'using cuda:0[^;]*' "$LOG/sample.txt" | head -1)"

if [ -n "$CORPUS" ]; then
  for dev in cpu cuda; do
    t0=$(date +%s.%N)
    "$B/embclust" run "$CORPUS" -o "$LOG/corpus-$dev.h5" --config configs/korean.toml --model "$MODEL" --device $dev 2>"$LOG/corpus-$dev.txt"
    rc=$?
    t1=$(date +%s.%N)
    row "run corpus --device $dev" "rc=$rc $(awk "BEGIN{printf \"%.2f\", $t1-$t0}") s total; $(grep -o 'embedded.*' "$LOG/corpus-$dev.txt")"
  done
fi

for b in "$B"/bench/bench_*; do
  [ -x "$b" ] || continue
  "$b" --benchmark_min_time=0.2 >"$LOG/$(basename "$b").txt" 2>&1
  row "$(basename "$b")" "rc=$? (see below)"
done

echo
for f in "$LOG"/bench_*.txt; do [ -f "$f" ] && grep -E '^(BM_|Run on|CPU Caches|Load)' "$f"; done
echo
echo "=== embclust GPU check ==="
printf '%s\n' "${rows[@]}"
