#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Build every .rst under Documentation/ with docutils; fail on any warning."""

import pathlib
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
sys.exit(1 if failed else 0)
