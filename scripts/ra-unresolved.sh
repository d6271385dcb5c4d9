#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# ra-unresolved.sh DIR: run `rust-analyzer diagnostics` on DIR (which holds a
# rust-project.json) and print how many names in DIR's own files it could
# not resolve (unresolved imports, paths, modules, types, values), listing
# them on stderr. Diagnostics in the kernel's files are not counted.

. "$(dirname "$0")/lib.sh"

dir=$(cd "$1" && pwd)
[ -f "$dir/rust-project.json" ] || die "no $dir/rust-project.json"
# It exits non-zero whenever it reports any error, so only its output counts.
log=$(cd "$dir" && rust-analyzer diagnostics . 2>&1 | tr '\r' '\n' || true)
grep -q 'diagnostic scan complete' <<<"$log" || die "rust-analyzer diagnostics did not finish on $dir"
found=$(grep -oE "at crate [a-z0-9_]+, file $dir/[^ ]*: .*" <<<"$log" |
	grep -E 'E0412|E0422|E0425|E0432|E0433|E0583|Ra\("unresolved-' || true)
[ -z "$found" ] || echo "$found" >&2
grep -c . <<<"$found" || true
