#!/usr/bin/env python3
"""Checks that every C++ source of the project is formatted as .clang-format says.

Formatting differs between clang-format versions, so the check runs the one the style was applied
with (clang-format 14, Debian 12's; scripts/setup.sh --tests installs it) and refuses another.
To format after an edit: clang-format-14 -i FILE...

Usage: format_test.py SOURCE_ROOT CLANG_FORMAT   (prints each file that differs; exit 1 if any)
"""
import pathlib
import re
import subprocess
import sys

FOLDERS = ("lib", "tools", "python", "fuzz", "bench", "tests")
REQUIRED_MAJOR = 14


def sources(root):
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".cc", ".h") and path.is_file():
                yield path


def main(root, clang_format):
    version = subprocess.run([clang_format, "--version"], capture_output=True, text=True, check=True).stdout
    major = re.search(r"version (\d+)", version)
    if not major or int(major.group(1)) != REQUIRED_MAJOR:
        print(f"{clang_format} is not clang-format {REQUIRED_MAJOR}: {version.strip()}")
        return 1
    files = [str(path) for path in sources(root)]
    result = subprocess.run([clang_format, "--dry-run", f"--style=file:{root / '.clang-format'}"] + files,
                            capture_output=True, text=True)
    # Each difference is reported as "FILE:LINE:COL: warning: code should be clang-formatted".
    differing = set(re.findall(r"^(.+?):\d+:\d+: (?:warning|error):", result.stderr, re.M))
    if result.returncode != 0 and not differing:
        print(f"{clang_format} failed: {result.stderr.strip()}")
        return 1
    unformatted = sorted(pathlib.Path(path).relative_to(root) for path in differing)
    for path in unformatted:
        print(f"{path}: not formatted (run: clang-format-{REQUIRED_MAJOR} -i {path})")
    return 1 if unformatted else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1]), sys.argv[2]))
