#!/usr/bin/env bash
# Sets up, builds, and runs every test (GPU tests skip, and are counted as skipped,
# where there is no CUDA device).
set -euo pipefail
cd "$(dirname "$0")/.."
# The encoder tests compare with both models; with this set they fail, not skip, when one is missing.
scripts/setup.sh all-MiniLM-L6-v2
export EMBCLUST_REQUIRE_MODELS=1
scripts/build.sh "$@"
ctest --test-dir build --output-on-failure --timeout 600
