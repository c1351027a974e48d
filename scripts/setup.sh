#!/usr/bin/env bash
# Installs what onnx-reinit needs from Debian (only what is missing), then configures and builds it
# in ./build. With --tests it also installs the test consumers (Debian's python3-onnx; Node.js and
# npm for onnxruntime-node, which the build installs from npm into build/tests/ort).
# Usage: scripts/setup.sh [--tests]
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[[ "${1:-}" == "--tests" ]] && with_tests=1

packages=(cmake g++ make pkg-config libonnx-dev libprotobuf-dev protobuf-compiler libabsl-dev libcli11-dev libeigen3-dev libhwy-dev)
if ((with_tests)); then
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev python3-onnx)
  command -v npm >/dev/null || packages+=(nodejs npm)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
  -DONNX_REINIT_BUILD_TESTS=$((with_tests ? 1 : 0)) -DONNX_REINIT_ORT_TESTS=$((with_tests ? 1 : 0))
cmake --build build -j"$(nproc)"
