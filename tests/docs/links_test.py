#!/usr/bin/python3
"""Every relative link in the project's Markdown (README.md, NEWS.md, docs/*.md) resolves.

A link resolves when its file or folder exists, relative to the page that holds it, and its
#anchor, if any, is a heading of the Markdown page it points to (GitHub's heading ids). Links in
code (fenced or indented blocks, `spans`) and links with a scheme (https:, mailto:) are not checked.

Usage: tests/docs/links_test.py SOURCE_DIR
"""
import collections
import glob
import os
import re
import sys

LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text):
    """(line number, line) of the lines outside fenced and indented code blocks."""
    fence = None
    in_code = False
    previous_blank = True
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = None
            continue
        if stripped.startswith("```") or stripped.startswith("~~~"):
            fence = stripped[:3]
            continue
        blank = not stripped
        # An indented block starts after a blank line and runs to the next line indented less.
        in_code = line.startswith("    ") and (previous_blank or in_code) or (blank and in_code)
        previous_blank = blank
        if not in_code:
            yield number, line


def without_code_spans(line):
    return re.sub(r"(`+).*?\1", "", line)


def heading_ids(path):
    """The ids GitHub gives the headings of a Markdown page."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    seen = collections.Counter()
    ids = set()
    for _, line in prose_lines(text):
        match = HEADING.match(line)
        if not match:
            continue
        title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", match.group(2))  # a link's text
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        ids.add(slug if seen[slug] == 0 else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return ids


def links(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for number, line in prose_lines(text):
        prose = without_code_spans(line)
        for match in LINK.finditer(prose):
            yield number, match.group(1)
        reference = REFERENCE.match(prose)
        if reference:
            yield number, reference.group(1)


def broken_links(source_dir):
    pages = [os.path.join(source_dir, name) for name in ("README.md", "NEWS.md")]
    pages += sorted(glob.glob(os.path.join(source_dir, "docs", "*.md")))
    problems = []
    for page in pages:
        if not os.path.exists(page):
            problems.append(f"{page}: missing")
            continue
        for number, target in links(page):
            if not target or SCHEME.match(target):
                continue
            where = f"{os.path.relpath(page, source_dir)}:{number}: {target}"
            file_part, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), file_part)) if file_part else page
            if not os.path.exists(resolved):
                problems.append(f"{where}: no such file or folder")
            elif anchor and resolved.endswith(".md") and anchor not in heading_ids(resolved):
                problems.append(f"{where}: no heading #{anchor} in {os.path.relpath(resolved, source_dir)}")
    return pages, problems


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pages, problems = broken_links(sys.argv[1])
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(f"{len(problems)} broken links")
    print(f"all relative links of {len(pages)} pages resolve")


if __name__ == "__main__":
    main()
