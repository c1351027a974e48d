#!/usr/bin/env bash
# Installs the build into a fresh prefix with `cmake --install`, then uses what it installed as an
# outside project would: the CLI and its man page, a CMake project with find_package, a pkg-config
# build, and the Python module imported from the prefix. Each must give the bytes (or values) of
# the build tree's CLI.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR CLI PYTHON3 PYTHON_DIR WORK_DIR
set -euo pipefail
build=$1 source=$2 cli=$3 python=$4 python_dir=$5 work=$6
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
model=$source/testdata/torch_cnn.onnx
"$cli" "$model" --scheme he --seed 7 -q -o "$work/expected.onnx"

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
"$prefix/bin/onnx-reinit" "$model" --scheme he --seed 7 -q -o "$work/installed_cli.onnx"
cmp "$work/expected.onnx" "$work/installed_cli.onnx"
test -s "$prefix/share/man/man1/onnx-reinit.1"
for header in rewrite.h options.h recipe.pb.h report.pb.h version.h recipe.proto; do
  test -f "$prefix/include/onnx_reinit/$header"
done

cmake -S "$source/tests/packaging/consumer" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/consumer.log"
cmake --build "$work/consumer" >> "$work/consumer.log"
"$work/consumer/consumer" "$model" "$work/consumer.onnx"
cmp "$work/expected.onnx" "$work/consumer.onnx"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046  # the flags are meant to split
g++ -std=c++17 -o "$work/pkg_config_consumer" "$source/tests/packaging/consumer/main.cc" \
  $(pkg-config --cflags --libs onnx_reinit) -Wl,-rpath,"$prefix/lib"
"$work/pkg_config_consumer" "$model" "$work/pkg_config.onnx"
cmp "$work/expected.onnx" "$work/pkg_config.onnx"

PYTHONPATH=$prefix/$python_dir "$python" - "$prefix" "$model" "$work/expected.onnx" <<'PY'
import sys
import numpy as np, onnx, onnx.numpy_helper
import onnx_reinit
prefix, model, expected = sys.argv[1:]
assert onnx_reinit.__file__.startswith(prefix), onnx_reinit.__file__
fresh, _ = onnx_reinit.reinitialize(onnx.load(model), "he", seed=7)
want = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(expected).graph.initializer}
for t in fresh.graph.initializer:
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(t), want[t.name])
PY
echo "install test: ok ($prefix)"
