#!/usr/bin/env bash
# On a machine with a CUDA GPU: runs the GPU-vs-CPU tests, the whole test suite,
# the pipeline with --device cuda on the sample (and on CORPUS when given), HDBSCAN on
# blobs (GPU vs CPU labels, time per stage, peak GPU memory), and the benchmarks, then
# prints a short table. Usage: scripts/gpu_check.sh [BUILD_DIR] [CORPUS]
# MODEL (default random:e5-small, which needs only multilingual-e5-small's tokenizer.json
# in the models folder; the real weights are too large to carry to a GPU machine) is
# the encoder of the runs; their CUDA runs pass --precision PRECISION (fp16 or fp32,
# default fp32) to the CUDA encoder. Last, bench/compare_encoder_gpu.py compares the CUDA
# encoder with sentence-transformers on ENCODER_COUNT sentences (default 500000; 0 skips
# it) of CORPUS (else tests/data/sample), under a time limit of ENCODER_TIMEOUT seconds
# (default 900); its failure is logged and the rest still runs. CPU_TESTS=0 skips the CPU
# test suite; each GPU HDBSCAN run is stopped after STEP_TIMEOUT seconds (default 240).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
CORPUS=${2:-}
MODEL=${MODEL:-random:e5-small}
PRECISION=${PRECISION:-fp32}
# Random weights have no prompts; the configs ask for e5's "query" one.
PROMPT=${PROMPT:-$([[ $MODEL == random:* ]] && echo none)}
prompt=(); [ -n "$PROMPT" ] && prompt=(--prompt "$PROMPT")
LOG=${LOG_DIR:-/tmp}/embclust-gpu-check
mkdir -p "$LOG"
declare -a rows

row() { rows+=("$(printf "%-44s %s" "$1" "$2")"); echo "$1: $2" >&2; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

"$B/tests/embclust_gpu_tests" >"$LOG/gpu_tests.txt" 2>&1
rc=$?
row "GPU tests (embclust_gpu_tests)" "$([ $rc = 0 ] && echo pass || echo FAIL) $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$LOG/gpu_tests.txt" | tr '\n' ' ')"

if [ "${CPU_TESTS:-1}" != 0 ]; then
  "$B/tests/embclust_tests" >"$LOG/tests.txt" 2>&1
  rc=$?
  row "all CPU tests (embclust_tests)" "$([ $rc = 0 ] && echo pass || echo FAIL) $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$LOG/tests.txt" | tr '\n' ' ')"
fi

t0=$(date +%s.%N)
"$B/embclust" run tests/data/sample -o "$LOG/sample.h5" --config configs/default.toml --model "$MODEL" --device cuda \
  --precision "$PRECISION" ${prompt[@]+"${prompt[@]}"} 2>"$LOG/sample.txt"
rc=$?
cp "$LOG/sample.h5" "$LOG/sample-first.h5" 2>/dev/null
row "run sample --device cuda" "rc=$rc $(grep -o 'using cuda:0[^;]*' "$LOG/sample.txt" | head -1)"

# A token budget far beyond the device (32 Mi tokens of activations, about 200 GB):
# the encoder must halve it until it fits and give the same vectors as the run above.
"$B/embclust" embed "$LOG/sample.h5" --model "$MODEL" --device cuda --precision "$PRECISION" \
  --batch-tokens 33554432 ${prompt[@]+"${prompt[@]}"} 2>"$LOG/sample-oom.txt"
rc=$?
same=$(python3 -c "import h5py,numpy as np,sys; a=h5py.File(sys.argv[1])['embeddings/vectors'][()]; print('max |diff| vs default budget %.2e' % np.abs(a-h5py.File(sys.argv[2])['embeddings/vectors'][()]).max())" \
  "$LOG/sample.h5" "$LOG/sample-first.h5" 2>/dev/null)
row "embed sample, 32 Mi-token budget (GPU out of memory)" "rc=$rc $(grep -o 'the GPU ran out of memory.*' "$LOG/sample-oom.txt") $same"

if [ -n "$CORPUS" ]; then
  for dev in cpu cuda; do
    prec=(); [ $dev = cuda ] && prec=(--precision "$PRECISION")
    t0=$(date +%s.%N)
    "$B/embclust" run "$CORPUS" -o "$LOG/corpus-$dev.h5" --config configs/korean.toml --model "$MODEL" --device $dev \
      ${prec[@]+"${prec[@]}"} ${prompt[@]+"${prompt[@]}"} 2>"$LOG/corpus-$dev.txt"
    rc=$?
    t1=$(date +%s.%N)
    row "run corpus --device $dev" "rc=$rc $(awk "BEGIN{printf \"%.2f\", $t1-$t0}") s total; $(grep -o 'embedded.*' "$LOG/corpus-$dev.txt")"
  done
fi

# HDBSCAN: CPU vs GPU labels at 100k x 384, GPU time per stage and peak GPU memory at
# 100k and 1M x 384, with and without --reduce pca:32 (HDBSCAN_SIZES to change).
python3 - "$LOG" ${HDBSCAN_SIZES:-100000 1000000} <<'PY'
import sys, h5py, numpy as np
log, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
rng = np.random.default_rng(0)
for n in sizes:
    centres = rng.uniform(-10, 10, (20, 384)).astype(np.float32)
    spread = rng.uniform(0.5, 2.5, 20).astype(np.float32)
    which = rng.integers(0, 20, n)
    x = centres[which] + spread[which, None] * rng.standard_normal((n, 384), dtype=np.float32)
    with h5py.File(f"{log}/blobs_{n}.h5", "w") as f:
        f["x"] = x
        f["truth"] = which.astype(np.int32)
PY
peak_mem() {  # runs "$@" while sampling the GPU's used memory; prints the peak in MiB
  local f="$LOG/mem.txt"; : >"$f"
  (while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >>"$f" 2>/dev/null; sleep 0.2; done) &
  local sampler=$!
  "$@"; local rc=$?
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
  echo "rc=$rc peak $(sort -n "$f" | tail -1) MiB"
}
for n in ${HDBSCAN_SIZES:-100000 1000000}; do
  for reduce in "" "--reduce pca:32"; do
    tag="hdbscan ${n} x 384${reduce:+ pca32}"
    out="$LOG/hdb_${n}${reduce:+_pca}.h5"; rm -f "$out"
    mem=$(peak_mem timeout "${STEP_TIMEOUT:-240}" "$B/embclust" cluster "$out" --input "$LOG/blobs_$n.h5:/x" --method hdbscan --min-cluster-size 25 \
          --min-samples 10 --device cuda --name gpu $reduce 2>"$LOG/hdb_${n}${reduce:+_pca}.txt")
    row "$tag --device cuda" "$mem; $(grep -o ': [0-9]* clusters, .*' "$LOG/hdb_${n}${reduce:+_pca}.txt" | head -1)"
    if [ "$n" -le 100000 ]; then
      "$B/embclust" cluster "$out" --input "$LOG/blobs_$n.h5:/x" --method hdbscan --min-cluster-size 25 \
        --min-samples 10 --device cpu --name cpu $reduce 2>"$LOG/hdb_${n}${reduce:+_pca}_cpu.txt"
      row "$tag --device cpu" "rc=$? $(grep -o ': [0-9]* clusters, .*' "$LOG/hdb_${n}${reduce:+_pca}_cpu.txt" | head -1)"
      row "$tag labels GPU = CPU" "$(python3 -c "import h5py,numpy as n; f=h5py.File('$out'); a=f['clusters/gpu/labels'][()]; b=f['clusters/cpu/labels'][()]; print('identical' if (a==b).all() else f'{(a!=b).sum()} differ')")"
    fi
  done
done

for b in "$B"/bench/bench_*; do
  [ -x "$b" ] || continue
  "$b" --benchmark_min_time=0.2 >"$LOG/$(basename "$b").txt" 2>&1
  row "$(basename "$b")" "rc=$? (see below)"
done

# The CUDA encoder against sentence-transformers (fp16, best batch size) on the same
# sentences and weights, and the cuBLAS rate its linear layers reach (see the script).
rm -f "$LOG"/compare_encoder_gpu.*
if [ "${ENCODER_COUNT:-500000}" != 0 ]; then
  timeout "${ENCODER_TIMEOUT:-900}" python3 bench/compare_encoder_gpu.py --embclust "$B/embclust" \
    --inputs "${CORPUS:-tests/data/sample}" --count "${ENCODER_COUNT:-500000}" \
    --json "$LOG/compare_encoder_gpu.json" >"$LOG/compare_encoder_gpu.md" 2>"$LOG/compare_encoder_gpu.txt"
  rc=$?
  row "compare_encoder_gpu.py (vs sentence-transformers)" "rc=$rc$([ $rc = 124 ] && echo ' (timed out)') (table below; log $LOG/compare_encoder_gpu.txt)"
fi

echo
for f in "$LOG"/bench_*.txt; do [ -f "$f" ] && grep -E '^(BM_|Run on|CPU Caches|Load)' "$f"; done
if [ -s "$LOG/compare_encoder_gpu.md" ]; then echo; cat "$LOG/compare_encoder_gpu.md"; fi
echo
echo "=== embclust GPU check ==="
printf '%s\n' "${rows[@]}"
