#!/usr/bin/env bash
# The sanitizer and fuzzer part of CI (.ci/run calls it after the README's test command):
# 1. the test suite and the fuzz regression replays built with clang 14, ASan + UBSan and the
#    fuzzers' coverage instrumentation (build-asan/), run with ctest;
# 2. the tests of the threaded code (worker pool, parallel fill, streamed write, stats, spectral,
#    re-initialization) built with TSan (build-tsan/) and run;
# 3. each fuzzer for FUZZ_SECONDS (default 60) from its seed corpus, as a smoke test.
# Installs what it needs (scripts/setup.sh --sanitizers). Usage: scripts/ci-sanitizers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${FUZZ_SECONDS:-60}
jobs=$(nproc)

scripts/setup.sh --tests --sanitizers

step() { echo "=== ci-sanitizers: $* ($(date -u +%T))"; }
configure() {  # BUILD_DIR CMAKE_OPTIONS...: the Python module is left out (python3 is not sanitized)
  local dir=$1
  shift
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DONNX_REINIT_BUILD_TESTS=ON -DONNX_REINIT_BUILD_BENCHMARKS=OFF -DONNX_REINIT_BUILD_PYTHON=OFF "$@"
}
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

step "ASan + UBSan build"
configure build-asan -DONNX_REINIT_FUZZERS=ON
cmake --build build-asan -j"$jobs"
step "ASan + UBSan tests and fuzz regression replays"
# Excluded: the consumers (Python's ONNX checker, Node's ONNX Runtime), other programs that read
# the outputs and are not built with the sanitizers; the tool they drive is tested by cli_test.
ctest --test-dir build-asan -j"$jobs" --output-on-failure -E '^consumers\.'

threaded_tests=(parallel_test fill_test streamed_fill_test stats_test spectral_test reinit_test
                rewrite_test)
step "TSan build of ${threaded_tests[*]}"
configure build-tsan -DONNX_REINIT_SANITIZE=thread
cmake --build build-tsan -j"$jobs" --target "${threaded_tests[@]}"
for test in "${threaded_tests[@]}"; do
  step "TSan: $test"
  build-tsan/tests/"$test" --gtest_brief=1
done

for harness in reinit_file reinit_memory external_data options; do
  step "fuzzing $harness for ${fuzz_seconds} s"
  fuzz/run_fuzzer.sh build-asan "$harness" -max_total_time="$fuzz_seconds"
done
step "done"
