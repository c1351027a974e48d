#!/usr/bin/env python3
"""Checks the library's layers over the #include lines of the sources.

The library's internal code lives in layer folders under lib/onnx_reinit/:
    base < model < numerics < graph < {init, inspect}
A file may include headers of its own layer and of lower layers; numerics and graph do not include
each other, nor do init and inspect. A public header (lib/onnx_reinit/NAME.h, installed) belongs to
the layer of its NAME.cc, includes only public headers and is held to the same order. tools/ and
python/ include only public headers.

Usage: layering_test.py [SOURCE_ROOT]   (prints each violation; exit 1 if any)
"""
import pathlib
import re
import sys

RANK = {"base": 0, "model": 1, "numerics": 2, "graph": 3, "init": 4, "inspect": 4}
GENERATED = {"recipe.pb.h", "report.pb.h", "stats.pb.h", "version.h"}  # proto/ and version.h.in: base
HEADER_ONLY = {"status_macros.h": "base"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"onnx_reinit/([^"]+)"', re.M)


def may_include(layer, other):
    return other == layer or RANK[other] < RANK[layer]


def main(root):
    lib = root / "lib" / "onnx_reinit"
    public = {p.name for p in lib.glob("*.h")} | GENERATED
    home = dict(HEADER_ONLY)
    home.update({name: "base" for name in GENERATED})
    for source in lib.glob("*/*.cc"):
        home.setdefault(source.stem + ".h", source.parent.name)
    problems = []
    for name in sorted(public - set(home)):
        problems.append(f"lib/onnx_reinit/{name}: a public header without a NAME.cc in a layer folder "
                        "(add it to HEADER_ONLY with its layer)")

    def layer_of_include(path):
        parts = path.split("/")
        if len(parts) == 1:
            return home.get(path) if path in public else None
        return parts[0] if parts[0] in RANK else None

    def check(path, layer, public_only):
        text = path.read_text(encoding="utf-8")
        for included in INCLUDE.findall(text):
            where = f"{path.relative_to(root)}: includes onnx_reinit/{included}"
            target = layer_of_include(included)
            if target is None:
                problems.append(f"{where}, which is not a header of the library")
            elif public_only and "/" in included:
                problems.append(f"{where}, an internal header (only public headers may be included here)")
            elif layer is not None and not may_include(layer, target):
                problems.append(f"{where} ({target}), above or beside its own layer ({layer})")

    for path in sorted(lib.glob("*.h")):
        check(path, home.get(path.name), public_only=True)
    for layer in RANK:
        for path in sorted((lib / layer).glob("*")):
            check(path, layer, public_only=False)
    for folder in ("tools", "python"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".cc", ".h"):
                check(path, None, public_only=True)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} layering problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))
