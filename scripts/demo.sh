#!/usr/bin/env bash
# Sets up, builds, and runs the main job on the shipped sample corpus:
# out/sample.h5 (segments, embeddings, clusters) and out/sample.png (the plot).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p out
build/embclust run tests/data/sample -o out/sample.h5 --config configs/default.toml
build/embclust info out/sample.h5
python3 scripts/plot_clusters.py out/sample.h5 -o out/sample.png
echo "demo: wrote out/sample.h5 and out/sample.png"
