#!/usr/bin/env bash
# Sets up, builds, and runs every test (GPU tests skip, and are counted as skipped,
# where there is no CUDA device).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh "$@"
ctest --test-dir build --output-on-failure --timeout 600
