#!/usr/bin/python3
"""Measures the HTML reports at scale: a ViT-H-shaped model's pages, their size and render time.

The model has ViT-H/14's 520 parameter tensors (Hugging Face's layout: a patch embedding, class
token and position embedding; 32 blocks of query, key, value, attention output, intermediate and
output weights and biases and two LayerNorms; a final LayerNorm and a classifier) at 1/16 of its width, with
trained-like values: no tensor is constant, so every histogram has its full 32 bins. The page's
size depends on the tensor count, not on the width.

Render time is measured in headless Chromium, two ways, in rounds that interleave every page:
  - load: the page loaded in an iframe of a small timing page, from setting its src to the load
    event plus a forced layout of the whole page (performance.now(), printed to the console);
  - dump: the wall time of `chromium --dump-dom PAGE` minus that of an empty page.

    bench/report_bench.py [--binary build/tools/onnx-reinit] [--rounds 5] [--workdir DIR]

Needs Debian's python3-onnx, python3-numpy and chromium.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HIDDEN, INTERMEDIATE, BLOCKS = 1280 // 16, 5120 // 16, 32  # ViT-H/14: 1280, 5120, 32
PATCH, PATCHES = 14, 4


def make_vit_h(path, seed=0):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def param(name, shape, mean=0.0, std=0.02):
        values = (mean + std * rng.standard_normal(shape)).astype(np.float32)
        inits.append(numpy_helper.from_array(values, name))
        return name

    def node(op, inputs, output, **attributes):
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def linear(x, name, fan_in, fan_out):  # as exported: MatMul by the transposed weight, then Add
        y = node("MatMul", [x, param(f"{name}.weight", (fan_in, fan_out))], f"{name}.mm")
        return node("Add", [y, param(f"{name}.bias", (fan_out,), std=0.01)], name)

    def layer_norm(x, name):
        return node("LayerNormalization", [x, param(f"{name}.weight", (HIDDEN,), mean=1.0, std=0.05),
                                           param(f"{name}.bias", (HIDDEN,))], name, axis=-1)

    inits.append(numpy_helper.from_array(np.array([1, HIDDEN, PATCHES], np.int64), "patch_shape"))
    x = node("Conv", ["pixels", param("embeddings.patch_embeddings.projection.weight", (HIDDEN, 3, PATCH, PATCH)),
                      param("embeddings.patch_embeddings.projection.bias", (HIDDEN,), std=0.01)],
             "patches", strides=[PATCH, PATCH])
    x = node("Reshape", [x, "patch_shape"], "patches_flat")
    x = node("Transpose", [x], "tokens", perm=[0, 2, 1])
    x = node("Concat", [param("embeddings.cls_token", (1, 1, HIDDEN)), x], "with_cls", axis=1)
    x = node("Add", [x, param("embeddings.position_embeddings", (1, PATCHES + 1, HIDDEN))], "embedded")
    for b in range(BLOCKS):
        prefix = f"encoder.layer.{b}"
        h = layer_norm(x, f"{prefix}.layernorm_before")
        q, k, v = (linear(h, f"{prefix}.attention.attention.{part}", HIDDEN, HIDDEN) for part in ("query", "key", "value"))
        mixed = node("Add", [node("Add", [q, k], f"{prefix}.qk"), v], f"{prefix}.attention.context")
        x = node("Add", [x, linear(mixed, f"{prefix}.attention.output.dense", HIDDEN, HIDDEN)], f"{prefix}.residual1")
        h = layer_norm(x, f"{prefix}.layernorm_after")
        h = node("Relu", [linear(h, f"{prefix}.intermediate.dense", HIDDEN, INTERMEDIATE)], f"{prefix}.act")
        x = node("Add", [x, linear(h, f"{prefix}.output.dense", INTERMEDIATE, HIDDEN)], f"{prefix}.residual2")
    x = layer_norm(x, "layernorm")
    logits = linear(x, "classifier", HIDDEN, 1000)
    graph = helper.make_graph(
        nodes, "vit_h_14_shaped",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, PATCH * 2, PATCH * 2])],
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, PATCHES + 1, 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return sum(1 for t in inits if t.data_type == TensorProto.FLOAT)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]

TIMING_PAGE = """<!doctype html><meta charset="utf-8"><title>timing</title>
<iframe id="f" style="width:1280px;height:1400px"></iframe>
<script>
const frame = document.getElementById("f");
const start = performance.now();
frame.onload = () => {
  const loaded = performance.now();
  const height = frame.contentDocument.documentElement.scrollHeight;  // forces the whole layout
  console.log("report-timing load_ms=" + (loaded - start).toFixed(1) + " layout_ms=" +
              (performance.now() - loaded).toFixed(1) + " height=" + height);
};
frame.src = %s;
</script>
"""


def chromium(args, profile_parent):
    with tempfile.TemporaryDirectory(dir=profile_parent) as profile:
        start = time.perf_counter()
        result = subprocess.run(["chromium"] + CHROMIUM_FLAGS + [f"--user-data-dir={profile}"] + args,
                                capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"report_bench: chromium failed: {result.stderr[-2000:]}")
    return seconds, result


def in_page_timing(page, workdir):
    timing = os.path.join(workdir, "timing-" + os.path.basename(page))
    with open(timing, "w") as f:
        f.write(TIMING_PAGE % repr(os.path.basename(page)))
    _, result = chromium(["--allow-file-access-from-files", "--enable-logging=stderr", "--v=0",
                          "--dump-dom", f"file://{timing}"], workdir)
    found = re.search(r"report-timing load_ms=([\d.]+) layout_ms=([\d.]+)", result.stderr)
    if not found:
        sys.exit(f"report_bench: no timing from {timing}: {result.stderr[-2000:]}")
    return float(found.group(1)) + float(found.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/tools/onnx-reinit")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", default="/tmp/onnx-reinit-report-bench")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    workdir = os.path.abspath(args.workdir)
    os.makedirs(workdir, exist_ok=True)

    model = os.path.join(workdir, "vit_h_shaped.onnx")
    tensors = make_vit_h(model)
    stats_page = os.path.join(workdir, "vit_h_stats.html")
    reinit_page = os.path.join(workdir, "vit_h_reinit.html")
    subprocess.run([binary, "stats", model, "--scheme", "xavier", "--spectral", "--html", stats_page],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, model, "--scheme", "xavier", "-o", os.path.join(workdir, "vit_h_out.onnx"), "-q",
                    "--report", reinit_page], check=True)
    empty = os.path.join(workdir, "empty.html")
    with open(empty, "w") as f:
        f.write("<!doctype html><title>empty</title>")

    pages = {"stats --html": stats_page, "--report FILE.html (before and after)": reinit_page}
    dump = {label: [] for label in list(pages) + ["empty page"]}
    load = {label: [] for label in pages}
    for _ in range(args.rounds):
        for label, page in list(pages.items()) + [("empty page", empty)]:
            dump[label].append(chromium(["--dump-dom", f"file://{page}"], workdir)[0])
        for label, page in pages.items():
            load[label].append(in_page_timing(page, workdir))
    empty_dump = statistics.median(dump["empty page"])
    print(f"ViT-H-shaped model: {tensors} float tensors; median of {args.rounds} interleaved rounds")
    print(f"  {'page':<40} {'size':>8} {'load+layout':>12} {'dump-dom - empty':>17}")
    for label, page in pages.items():
        print(f"  {label:<40} {os.path.getsize(page) / 2**20:>5.2f} MiB {statistics.median(load[label]):>9.0f} ms"
              f" {1000 * (statistics.median(dump[label]) - empty_dump):>14.0f} ms")
    print(f"  (chromium --dump-dom of an empty page: {1000 * empty_dump:.0f} ms)")


if __name__ == "__main__":
    main()
