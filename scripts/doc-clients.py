#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Extract the example clients of Documentation/world-storage.rst.

Every literal block that follows a comment line `.. client-file: PATH` is
written to OUTDIR/PATH as it stands in the document: the clients' sources,
their Kbuild files, the build recipes and the output each client must
print. `make check` (scripts/check.sh) builds the clients with the recipes
and runs them in the VM.

Usage: doc-clients.py RST OUTDIR
"""

import pathlib
import re
import sys


def literal_blocks(lines):
    """(path, text) for each `.. client-file: PATH` and the block after it."""
    i = 0
    while i < len(lines):
        m = re.match(r"^\.\. client-file: (\S+)$", lines[i])
        i += 1
        if not m:
            continue
        # The block starts after the next line ending in "::" and a blank.
        while i < len(lines) and not lines[i].rstrip().endswith("::"):
            i += 1
        i += 1
        block = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
            block.append(lines[i][4:])
            i += 1
        while block and not block[-1].strip():
            block.pop()
        while block and not block[0].strip():
            block.pop(0)
        if not block:
            sys.exit(f"client-file {m.group(1)}: no literal block after it")
        yield m.group(1), "\n".join(block) + "\n"


def main() -> None:
    rst, outdir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    found = 0
    for path, text in literal_blocks(rst.read_text().splitlines()):
        out = outdir / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        found += 1
    if not found:
        sys.exit(f"{rst}: no client-file blocks")


if __name__ == "__main__":
    main()
