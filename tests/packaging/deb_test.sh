#!/usr/bin/env bash
# Builds the Debian package with cpack, checks its name and that its Depends come from the linked
# shared libraries (dpkg-shlibdeps), unpacks it with dpkg -x and runs its CLI and Python module.
# Usage: deb_test.sh BUILD_DIR SOURCE_DIR VERSION PYTHON3 PYTHON_DIR WORK_DIR
set -euo pipefail
build=$1 source=$2 version=$3 python=$4 python_dir=$5 work=$6
rm -rf "$work" && mkdir -p "$work"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" > "$work/cpack.log"
deb=$work/onnx-reinit_${version}_amd64.deb
test -f "$deb" || { ls "$work"; exit 1; }
depends=$(dpkg-deb -f "$deb" Depends)
for library in libonnx1 libprotobuf32 libabsl libc6 libstdc++6 python3; do
  [[ "$depends" == *"$library"* ]] || { echo "Depends lacks $library: $depends"; exit 1; }
done

root=$work/root
dpkg -x "$deb" "$root"
[[ "$("$root/usr/bin/onnx-reinit" --version)" == "onnx-reinit $version" ]]
model=$source/testdata/torch_cnn.onnx
"$root/usr/bin/onnx-reinit" "$model" --scheme he -q -o "$work/out.onnx"
"$build/tools/onnx-reinit" "$model" --scheme he -q -o "$work/expected.onnx"
cmp "$work/expected.onnx" "$work/out.onnx"
test -f "$root/usr/share/man/man1/onnx-reinit.1"
PYTHONPATH=$root/usr/$python_dir "$python" -c "import onnx_reinit, sys; assert onnx_reinit.__file__.startswith('$root'); assert onnx_reinit.__version__ == '$version'"
echo "deb test: ok ($deb; Depends: $depends)"
