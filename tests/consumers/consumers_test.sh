#!/usr/bin/env bash
# Feeds the models onnx-reinit writes to real consumers.
#
# Usage:
#   consumers_test.sh checker ONNX_REINIT_BINARY TESTDATA_DIR WORK_DIR PYTHON3
#   consumers_test.sh ort     ONNX_REINIT_BINARY TESTDATA_DIR WORK_DIR NODE RUN_MODEL_JS NODE_MODULES_DIR
#
# Every TESTDATA_DIR/*.onnx (not malformed/) is copied into WORK_DIR/inputs (WORK_DIR is recreated
# empty) and re-initialized with several schemes, and with --untie, into WORK_DIR (quantized_*.onnx
# also with --requantize, torch_bert*, torch_gpt2*, torch_llama*, torch_megatron*, torch_t5* and
# ONNX Runtime's optimizations of them also with their --preset), then:
#   checker: onnx.checker.check_model(full_check=True) with PYTHON3 (Debian's python3-onnx); a
#            fixture the checker refuses (ORT's default-domain contrib ops) must be refused alike;
#   ort:     tests/ort/run_model.js runs each model in ONNX Runtime CPU and checks that the outputs
#            are finite (*_noort.onnx are skipped: ORT CPU has no bfloat16 MatMul kernel, no kernel
#            for the CUDA-only contrib ops, and the nchwc layout is blocked for the CPU that wrote it).
# Last, every input copy must still equal its fixture (one case per fixture).
# Prints "N passed, M failed" last; exits non-zero when anything failed.
set -euo pipefail

usage() {
  echo "usage: $0 checker ONNX_REINIT_BINARY TESTDATA_DIR WORK_DIR PYTHON3" >&2
  echo "       $0 ort ONNX_REINIT_BINARY TESTDATA_DIR WORK_DIR NODE RUN_MODEL_JS NODE_MODULES_DIR" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
mode=$1
case "$mode" in
  checker) [[ $# -eq 5 ]] || usage ;;
  ort) [[ $# -eq 7 ]] || usage ;;
  *) usage ;;
esac
tool=$2
testdata=$3
work=$4

[[ -x "$tool" ]] || { echo "error: onnx-reinit binary not found or not executable: $tool" >&2; exit 2; }
[[ -d "$testdata" ]] || { echo "error: no testdata directory: $testdata" >&2; exit 2; }
[[ -n "$work" && "$work" != "/" ]] || { echo "error: bad WORK_DIR: '$work'" >&2; exit 2; }

case "$mode" in
  checker)
    python3=$5
    [[ -n "$python3" && -x "$python3" ]] ||
      { echo "error: python3 not found or not executable: '$python3'" >&2; exit 2; }
    "$python3" -c 'import onnx' ||
      { echo "error: $python3 cannot import onnx (apt-get install python3-onnx)" >&2; exit 2; }
    ;;
  ort)
    node=$5
    run_model_js=$6
    node_modules=$7
    [[ -x "$node" ]] || { echo "error: node not found or not executable: $node" >&2; exit 2; }
    [[ -f "$run_model_js" ]] || { echo "error: no run_model.js: $run_model_js" >&2; exit 2; }
    [[ -d "$node_modules/onnxruntime-node" ]] ||
      { echo "error: onnxruntime-node is not installed in $node_modules" >&2; exit 2; }
    ;;
esac

schemes=(he xavier_uniform normal lecun_uniform)

rm -rf -- "$work"
mkdir -p -- "$work/inputs"

shopt -s nullglob
fixtures=("$testdata"/*.onnx)
shopt -u nullglob
[[ ${#fixtures[@]} -gt 0 ]] || { echo "error: no *.onnx in $testdata" >&2; exit 2; }
# The tool works on copies, so that a bug that wrote to its input could not damage the fixtures.
cp -- "${fixtures[@]}" "$work/inputs/"
inputs=("$work"/inputs/*.onnx)

passed=0
failed=0
failures=()
outputs=()

# 1. Re-initialize every fixture with every scheme, and once more untying merged tensors (which
#    changes the graph) and resetting the free parameters. A tool failure counts as a failed case.
variants=()
for scheme in "${schemes[@]}"; do variants+=("$scheme|--scheme $scheme"); done
variants+=("untie|--scheme he --bias torch --untie --rule role:parameter=normal:std=0.02")
for input in "${inputs[@]}"; do
  base=$(basename -- "$input" .onnx)
  # Quantized fixtures also go through --requantize (new integers and scales).
  runs=("${variants[@]}")
  if [[ "$base" == quantized_* ]]; then
    for scheme in "${schemes[@]}"; do runs+=("$scheme.requantize|--scheme $scheme --requantize"); done
  fi
  # The transformer fixtures also go through their framework's preset.
  if [[ "$base" =~ ^(ort_extended_)?torch_(bert|gpt2|llama|megatron|t5) ]]; then
    runs+=("preset|--preset ${BASH_REMATCH[2]}")
  fi
  for variant in "${runs[@]}"; do
    name=${variant%%|*}
    read -r -a args <<<"${variant#*|}"
    output="$work/$base.$name.onnx"
    if err=$("$tool" "$input" "${args[@]}" --seed 1 --quiet -o "$output" 2>&1) &&
       [[ -s "$output" ]]; then
      outputs+=("$output")
    else
      echo "FAIL onnx-reinit $input ${args[*]}: ${err:-no output file written}" >&2
      failures+=("onnx-reinit $base ${args[*]}")
      failed=$((failed + 1))
    fi
  done
done
echo "re-initialized ${#outputs[@]} models (${#inputs[@]} fixtures x ${#variants[@]} variants, quantized ones also with --requantize) into $work"

# 2. Hand them to the consumer: all at once (fast), then, only if that fails, one by one so that the
#    report names every bad file.
consume() {
  case "$mode" in
    checker)
      # The full check (with shape inference) wherever the input passes it: onnx 1.12's shape
      # inference rejects some valid models (a sparse initializer read by MatMul), and those get
      # the structural check their input passes.
      "$python3" -c '
import onnx, os, sys
inputs = sys.argv[1]
for path in sys.argv[2:]:
    fixture = os.path.join(inputs, os.path.basename(path).split(".")[0] + ".onnx")
    try:
        onnx.checker.check_model(onnx.load(fixture), full_check=True)
        full = True
    except Exception:
        full = False
    try:
        onnx.checker.check_model(onnx.load(fixture))
    except onnx.checker.ValidationError as refused:
        # onnx refuses the fixture itself (ORT writes SimplifiedLayerNormalization in the default
        # domain, where only ORT registers it): the output must be refused for that reason alone.
        try:
            onnx.checker.check_model(onnx.load(path))
        except onnx.checker.ValidationError as error:
            if str(error) == str(refused):
                continue
            raise
        raise AssertionError(path + " passes the checker that refuses its input")
    onnx.checker.check_model(onnx.load(path), full_check=full)
' "$work/inputs" "$@" 2>&1
      ;;
    ort)
      "$node" "$run_model_js" --modules "$node_modules" "$@" 2>&1
      ;;
  esac
}

checked=()
for model in "${outputs[@]}"; do
  name=$(basename -- "$model")
  if [[ "$mode" == ort && "$name" == *_noort.* ]]; then
    echo "skip $name (not runnable on ORT CPU: see testdata/README.md)"
  else
    checked+=("$model")
  fi
done

# run_model.js must also have said "ok MODEL" for each model (a zero exit alone is not enough).
said_ok() {
  [[ "$mode" != ort ]] || awk -v prefix="ok $2 outputs=" 'index($0, prefix) == 1 { found = 1 }
                                                         END { exit !found }' <<<"$1"
}

if [[ ${#checked[@]} -gt 0 ]]; then
  batch_ok=true
  batch_log=$(consume "${checked[@]}") || batch_ok=false
  if $batch_ok; then
    for model in "${checked[@]}"; do
      said_ok "$batch_log" "$model" || { batch_ok=false; break; }
    done
  fi
  if $batch_ok; then
    for model in "${checked[@]}"; do echo "ok   $(basename -- "$model")"; done
    passed=$((passed + ${#checked[@]}))
  else
    echo "the $mode run over all ${#checked[@]} models failed; checking them one by one:" >&2
    printf '%s\n' "$batch_log" | { grep -v '^ok ' || true; } | sed 's/^/    /' >&2
    for model in "${checked[@]}"; do
      name=$(basename -- "$model")
      if log=$(consume "$model") && said_ok "$log" "$model"; then
        echo "ok   $name"
        passed=$((passed + 1))
      else
        echo "FAIL $name:" >&2
        printf '%s\n' "$log" | sed 's/^/    /' >&2
        failures+=("$name")
        failed=$((failed + 1))
      fi
    done
  fi
fi

# 3. The inputs are never modified.
for fixture in "${fixtures[@]}"; do
  name=$(basename -- "$fixture")
  if cmp -s -- "$fixture" "$work/inputs/$name"; then
    passed=$((passed + 1))
  else
    echo "FAIL onnx-reinit modified its input $name" >&2
    failures+=("input $name modified")
    failed=$((failed + 1))
  fi
done
echo "inputs unchanged: checked ${#fixtures[@]}"

if [[ $failed -gt 0 ]]; then
  echo "failed:" >&2
  printf '  %s\n' "${failures[@]}" >&2
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
