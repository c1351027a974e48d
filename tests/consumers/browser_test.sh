#!/bin/sh
# Renders HTML reports of testdata models in headless Chromium (Debian's `chromium`): the DOM must
# hold every tensor, the chart and the histograms, the console must show no error, and a
# screenshot is saved next to the reports.
#   browser_test.sh ONNX_REINIT TESTDATA OUTDIR CHROMIUM PYTHON3
set -eu
tool=$1 testdata=$2 out=$3 chromium=$4 python=$5
rm -rf "$out" && mkdir -p "$out"
fail() { echo "browser_test: $*" >&2; exit 1; }

chrome() {  # chrome PROFILE ARGS...: the flags that work offline, as root, without a display
  profile=$1; shift
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" "$@"
}

check_page() {  # check_page HTML EXPECTED_TENSOR...
  page=$1; shift
  name=$(basename "$page" .html)
  profile=$(mktemp -d "$out/profile.XXXXXX")
  chrome "$profile" --enable-logging=stderr --v=0 --dump-dom "file://$page" >"$out/$name.dom" 2>"$out/$name.log" \
    || fail "$name: chromium failed (see $out/$name.log)"
  rm -rf "$profile"
  for tensor in "$@"; do
    grep -q "data-name=\"$tensor\"" "$out/$name.dom" || fail "$name: no histogram for $tensor"
    grep -q "title=\"$tensor\">$tensor" "$out/$name.dom" || fail "$name: no table row for $tensor"
  done
  grep -q 'id="std-chart"' "$out/$name.dom" || fail "$name: no std chart"
  grep -q '<circle class="pt"' "$out/$name.dom" || fail "$name: the chart has no points"
  grep -q '<path d="M' "$out/$name.dom" || fail "$name: the histograms are empty"
  # Console messages come as CONSOLE lines; a script error says "Uncaught".
  if grep -E 'CONSOLE.*(Uncaught|Error)|:ERROR:CONSOLE' "$out/$name.log"; then fail "$name: console errors"; fi
  profile=$(mktemp -d "$out/profile.XXXXXX")
  chrome "$profile" --hide-scrollbars --window-size=1280,1400 --screenshot="$out/$name.png" "file://$page" \
    >/dev/null 2>&1 || fail "$name: no screenshot"
  rm -rf "$profile"
  [ -s "$out/$name.png" ] || fail "$name: empty screenshot"
}

"$tool" stats "$testdata/torch_cnn.onnx" --scheme he --spectral --html "$out/cnn.html" >/dev/null
check_page "$out/cnn.html" onnx::Conv_23 dw.weight gconv.weight fc.weight fc.bias
"$tool" stats "$testdata/torch_transformer.onnx" --html "$out/transformer.html" >/dev/null
check_page "$out/transformer.html" layer.self_attn.out_proj.weight onnx::MatMul_149
"$tool" "$testdata/torch_dcgan.onnx" --scheme he -o "$out/dcgan.onnx" --report "$out/dcgan.html" -q
check_page "$out/dcgan.html" net.0.weight
# ViT-H's blocks (32 of qkv, proj, fc1, fc2 weights and biases and two LayerNorms: 384 tensors), at
# a small width: the page must stay a few MB and render. Its size and render time are measured by
# bench/report_bench.py, on all 520 tensors of a ViT-H.
"$python" - "$out/vit_h_tensors.onnx" <<'PY'
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper, save
rng = np.random.default_rng(0)
nodes, inits, x = [], [], "x"
def param(name, shape):
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.02).astype(np.float32), name))
    return name
width = 16
for b in range(32):
    for part, (k, n) in (("attn.qkv", (width, 3 * width)), ("attn.proj", (3 * width, width)),
                         ("mlp.fc1", (width, 4 * width)), ("mlp.fc2", (4 * width, width))):
        y = f"b{b}.{part}"
        nodes.append(helper.make_node("MatMul", [x, param(f"blocks.{b}.{part}.weight", (k, n))], [y + ".mm"]))
        nodes.append(helper.make_node("Add", [y + ".mm", param(f"blocks.{b}.{part}.bias", (n,))], [y]))
        x = y
    for norm in ("norm1", "norm2"):
        y = f"b{b}.{norm}"
        nodes.append(helper.make_node("LayerNormalization", [x, param(f"blocks.{b}.{norm}.weight", (width,)),
                                                             param(f"blocks.{b}.{norm}.bias", (width,))], [y]))
        x = y
graph = helper.make_graph(nodes, "vit_h_tensors", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, width])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
save(model, sys.argv[1])
PY
"$tool" stats "$out/vit_h_tensors.onnx" --scheme xavier --spectral --html "$out/vit_h_tensors.html" >/dev/null
bytes=$(wc -c <"$out/vit_h_tensors.html")
[ "$bytes" -lt 5000000 ] || fail "vit_h_tensors.html: $bytes bytes"
start=$(date +%s%N)
check_page "$out/vit_h_tensors.html" blocks.0.attn.qkv.weight blocks.31.mlp.fc2.bias blocks.31.norm2.weight
echo "browser_test: 384 tensors: $bytes bytes, dump and screenshot in $(( ($(date +%s%N) - start) / 1000000 )) ms"
echo "browser_test: ok ($out)"
