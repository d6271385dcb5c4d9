#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make rust-analyzer`: rust-project.json for the project's crates.

The kernel's own generator (`make -C <kdir> M=<tree> rust-analyzer`) lists
the kernel's crates, but takes a `.rs` file as a crate root only when a
Kbuild in the file's own directory names it; ours are all named by the
top-level Kbuild, so it finds none. This adds every Rust module the
top-level Kbuild builds (the module, the test module, the samples, the test
clients, the benchmark), with the cfgs Kbuild gives it, and makes
`include/` a source directory of each, so that `include/world_storage.rs`,
which the clients include by `#[path]`, is analysed with them.

Usage: rust-analyzer.py KERNEL-JSON TREE
Writes TREE/rust-project.json (ignored by git).
"""

import json
import pathlib
import re
import sys


def kbuild_crates(tree: pathlib.Path):
    """(crate name, root file, extra cfgs) of every Rust module in Kbuild."""
    text = (tree / "Kbuild").read_text().replace("\\\n", " ")
    modules = re.findall(r"^obj-m\s*\+=\s*(\S+)\.o\s*$", text, re.M)
    parts = dict(re.findall(r"^(\S+)-y\s*:=\s*(.+)$", text, re.M))
    rules = dict(re.findall(r"^\$\(obj\)/(\S+)\.o:\s*\$\(src\)/(\S+\.rs)", text, re.M))
    flags = dict(re.findall(r"^RUSTFLAGS_(\S+)\.o\s*:=\s*(.+)$", text, re.M))
    for module in modules:
        for obj in parts.get(module, module + ".o").split():
            obj = obj.removesuffix(".o")
            root = rules.get(obj, obj + ".rs")
            if not (tree / root).is_file():
                continue
            rustflags = flags.get(obj, "")
            cfgs = re.findall(r"--cfg\s+(\S+)", rustflags)
            name = re.search(r"--crate-name\s+(\S+)", rustflags)
            yield (name.group(1) if name else pathlib.Path(root).stem), tree / root, cfgs


def main() -> None:
    kernel_json, tree = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).resolve()
    project = json.loads(kernel_json.read_text())
    crates = project["crates"]
    # The kernel's generator found none of ours; keep only its own crates.
    crates[:] = [c for c in crates if pathlib.Path(c["root_module"]).is_absolute()
                 and tree not in pathlib.Path(c["root_module"]).parents]
    index = {c["display_name"]: i for i, c in enumerate(crates)}
    deps = [{"crate": index[name], "name": name}
            for name in ("core", "kernel", "pin_init", "zerocopy", "zerocopy_derive")]
    kernel_cfg = crates[index["kernel"]]["cfg"]
    for name, root, cfgs in kbuild_crates(tree):
        crates.append({
            "display_name": name,
            "root_module": str(root),
            "is_workspace_member": True,
            "deps": deps,
            # As Kbuild builds a module: the kernel's cfgs, MODULE, its own.
            "cfg": kernel_cfg + ["MODULE"] + cfgs,
            "edition": "2021",
            "env": {"RUST_MODFILE": "This is only for rust-analyzer"},
            "source": {
                "include_dirs": [str(root.parent), str(tree / "include")],
                "exclude_dirs": [],
            },
        })
    out = tree / "rust-project.json"
    out.write_text(json.dumps(project, sort_keys=True, indent=4) + "\n")
    print(f"{out}: {len(crates) - len(index)} crates of the project")


if __name__ == "__main__":
    main()
