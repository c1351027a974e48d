#!/usr/bin/env bash
# Installs what onnx-reinit needs from Debian (only what is missing), then configures and builds it
# in ./build. With --tests it also installs the test consumers (Debian's python3-onnx; Node.js and
# npm for onnxruntime-node, which the build installs from npm into build/tests/ort), chromium,
# which renders the HTML reports headless, and clang-format 14, which checks the sources' format.
# With --sanitizers it also installs clang 14 and its sanitizer and libFuzzer runtimes, for the
# sanitizer and fuzzer builds of scripts/ci-sanitizers.sh (the build in ./build stays GCC's).
# Usage: scripts/setup.sh [--tests] [--sanitizers]
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0 with_sanitizers=0
for argument in "$@"; do
  case "$argument" in
    --tests) with_tests=1 ;;
    --sanitizers) with_sanitizers=1 ;;
    *) echo "usage: scripts/setup.sh [--tests] [--sanitizers]" >&2; exit 2 ;;
  esac
done

packages=(cmake g++ make pkg-config libonnx-dev libprotobuf-dev protobuf-compiler libabsl-dev libcli11-dev libeigen3-dev libhwy-dev libre2-dev
          python3-dev pybind11-dev)
if ((with_tests)); then
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev python3-onnx python3-pytest python3-numpy dpkg-dev chromium clang-format-14)
  command -v npm >/dev/null || packages+=(nodejs npm)
fi
# llvm-14 brings llvm-symbolizer, which turns sanitizer reports' addresses into file:line.
((with_sanitizers)) && packages+=(clang-14 libclang-rt-14-dev llvm-14)
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
