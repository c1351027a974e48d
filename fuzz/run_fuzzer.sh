#!/usr/bin/env bash
# Runs one harness of a fuzzer build with its dictionary, its seed corpus and the bounds that keep
# memory and time in check; further arguments go to libFuzzer (e.g. -max_total_time=3600, or
# -fork=1 -ignore_crashes=1 to go on after a crash).
# New inputs collect in BUILD/fuzz/NAME_corpus/, crashes in BUILD/fuzz/NAME_artifacts/.
# Usage: fuzz/run_fuzzer.sh BUILD NAME [libFuzzer flags...]
set -euo pipefail
build=$1 name=$2
shift 2
dir=$build/fuzz
mkdir -p "$dir/${name}_corpus" "$dir/${name}_artifacts"
# Models up to 64 KiB (the largest testdata/ model is 22 KiB); text inputs up to 4 KiB.
case "$name" in
  reinit_file | reinit_memory) max_len=65536 ;;
  *) max_len=4096 ;;
esac
exec "$dir/${name}_fuzzer" -dict="$dir/${name}_fuzzer.dict" -max_len=$max_len -rss_limit_mb=2048 \
  -timeout=10 -artifact_prefix="$dir/${name}_artifacts/" -print_final_stats=1 "$@" \
  "$dir/${name}_corpus" "$dir/${name}_seed_corpus"
