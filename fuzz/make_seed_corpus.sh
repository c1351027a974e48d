#!/usr/bin/env bash
# Makes the seed corpus of each harness (OUT/NAME_seed_corpus/) from the models in testdata/, in the
# input format each harness's header describes. External-data seeds are written by onnx-reinit
# itself (--external-data --size-threshold 0).
# Usage: fuzz/make_seed_corpus.sh ONNX_REINIT_BINARY TESTDATA_DIR OUT
set -euo pipefail
tool=$1 testdata=$2 out=$3
separator=$'\n--onnx-reinit-data--\n'  # reinit_file_fuzzer.cc's kDataSeparator

# seed FILE FLAGS SCHEME [PART...]: writes two bytes (hex) and the parts, concatenated.
seed() {
  local file=$1 flags=$2 scheme=$3
  shift 3
  { printf "\\x$flags\\x$scheme"; cat "$@"; } > "$file"
}

for name in reinit_file reinit_memory external_data options; do
  rm -rf "$out/${name}_seed_corpus"
  mkdir -p "$out/${name}_seed_corpus"
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
printf '%s' "$separator" > "$scratch/separator"

# Scheme bytes (SchemeFromByte indexes scheme.cc's names): 0a he_normal, 0f orthogonal,
# 10 identity, 11 dirac, 12 torch, 06 xavier_uniform.
for model in "$testdata"/*.onnx "$testdata"/malformed/*.onnx; do
  base=$(basename "$model" .onnx)
  file="$out/reinit_file_seed_corpus/$base"
  seed "$file.keep" 00 0a "$model"              # in place
  seed "$file.moved_out" 81 06 "$model"         # --external-data --size-threshold 0
  seed "$file.embed" 52 12 "$model"             # --embed, with statistics, 4 KiB window
  seed "$file.dry_run" 28 0f "$model"           # --dry-run, two threads
  memory="$out/reinit_memory_seed_corpus/$base"
  seed "$memory.he" 00 0a "$model"
  seed "$memory.orthogonal" 21 0f "$model"      # --bias torch, statistics
  seed "$memory.identity" 0e 10 "$model"        # embedding/recurrence scheme, forget bias
  seed "$memory.dirac" 90 11 "$model"           # two threads, input-channel ConvTranspose fans
  if "$tool" "$model" --scheme zeros --external-data --size-threshold 0 -q \
       -o "$scratch/model.onnx" 2>/dev/null; then
    seed "$file.external" 00 0a "$scratch/model.onnx" "$scratch/separator" "$scratch/model.onnx.data"
    seed "$file.external_moved" 01 0f "$scratch/model.onnx" "$scratch/separator" "$scratch/model.onnx.data"
    seed "$file.external_embed" 02 12 "$scratch/model.onnx" "$scratch/separator" "$scratch/model.onnx.data"
    seed "$file.stripped" 04 0a "$scratch/model.onnx"  # the data file is missing: --materialize
  fi
  rm -f "$scratch/model.onnx" "$scratch/model.onnx.data"
done

# external_data: [flags] then "LOCATION OFFSET LENGTH DTYPE DIMS" lines (external_data_fuzzer.cc).
external="$out/external_data_seed_corpus"
printf '0data.bin 0 48 1 3,4\n' > "$external/inside"
printf '0data.bin 64 48 1 3,4\nsmall.bin 0 12 1 3\nsub/nested.bin 0 256 11 4,8\n' > "$external/three_files"
printf '1link_in 4000 96 1 4,6\nlink_sub/nested.bin - - 1 8,8\n' > "$external/symlinks_inside"
printf '2link_out 0 16 1 2,2\n' > "$external/symlink_out"
printf '0link_abs - - 1 4,4\n' > "$external/symlink_absolute"
printf '0link_loop 0 4 1 1\n' > "$external/symlink_loop"
printf '4link_dangling 0 64 1 4,4\n' > "$external/missing_materialized"
printf '0../outside.bin 0 16 1 2,2\n' > "$external/dot_dot"
printf '0dir 0 16 1 2,2\n' > "$external/folder"
printf '8data.bin 4090 16 10 2,4\n' > "$external/past_the_end"
printf '0small.bin - - 1 3\n' > "$external/whole_file"

# options: [selector] [text] (options_fuzzer.cc); selector 0 scheme spec, 1 rule, 2 recipe, 3 argv.
options="$out/options_seed_corpus"
printf '0normal:std=0.02' > "$options/scheme_normal"
printf '0he_uniform:mode=fan_out,nonlinearity=leaky_relu,negative_slope=0.2' > "$options/scheme_he"
printf '0constant:value=0.5' > "$options/scheme_constant"
printf '1name:.*head.*=normal:std=0.02\nmodel.head.weight' > "$options/rule_name"
printf '1role:bias=zeros\nfc.bias' > "$options/rule_role"
printf '1op:Gemm=xavier_uniform:gain=2\nfc.weight' > "$options/rule_op"
printf '1name:a=b=keep\na=b' > "$options/rule_equals_in_regex"
printf '2scheme: "he"\nrules: "role:bias=zeros"\nrules: "name:.*head.*=normal:std=0.02"\nseed: 42\nlstm_forget_bias: 1\n' \
  > "$options/recipe"
printf '2scheme: "normal"\nstd: 0.02\nexternal_data: true\nsize_threshold: 0\nonly: "fc.*"\nthreads: 2\n' \
  > "$options/recipe_parameters"
printf '3--scheme\nhe\n--rule\nrole:bias=zeros\n--seed\n7\n--threads\n2' > "$options/argv_he"
printf '3-s\nuniform\n--low\n-1\n--high\n1\n--only\nfc\\..*\n--external-data\n--size-threshold\n0' \
  > "$options/argv_uniform"
