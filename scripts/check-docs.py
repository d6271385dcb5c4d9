#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Build every .rst under Documentation/ with docutils; fail on any warning.

Then: Documentation/world-storage.rst shows the prototype of every function
the module exports (EXPORT_SYMBOL_GPL() in the C glue) and every callback
type, as include/world_storage.h declares them (whitespace aside).
"""

import pathlib
import re
import sys

import docutils.core
import docutils.utils

failed = False
for path in sorted(pathlib.Path(__file__).resolve().parent.parent.glob("Documentation/*.rst")):
    try:
        docutils.core.publish_string(
            path.read_text(), source_path=str(path), writer_name="null",
            settings_overrides={"report_level": 2, "halt_level": 2})
        print(f"{path.name}: clean")
    except docutils.utils.SystemMessage as e:
        print(f"{path.name}: {e}")
        failed = True

top = pathlib.Path(__file__).resolve().parent.parent
header = " ".join((top / "include/world_storage.h").read_text().split())
rst = " ".join((top / "Documentation/world-storage.rst").read_text().split())
glue = (top / "rust/world_storage_glue.c").read_text()
# The functions; not the fast path's versioned data (*_v3), which the
# header declares for world_storage_lookup_local_inline() only.
exported = [f for f in re.findall(r"^EXPORT_SYMBOL_GPL\((\w+)\);", glue, re.M)
            if not f.endswith("_v3")]
declarations = [re.search(r"typedef \w+ \(\*" + t + r"\)\([^)]*\);", header)
                for t in ("world_storage_ctor_t", "world_storage_dtor_t")]
declarations += [re.search(r"\b\w+ \*?" + f + r"\([^)]*\);", header) for f in exported]
for name, decl in zip(["world_storage_ctor_t", "world_storage_dtor_t"] + exported, declarations):
    if not decl:
        print(f"world_storage.h: no declaration of {name}")
        failed = True
    elif decl.group(0) not in rst:
        print(f"world-storage.rst: does not show {decl.group(0)}")
        failed = True
print(f"world-storage.rst: {len(declarations)} prototypes and callback types checked")
sys.exit(1 if failed else 0)
