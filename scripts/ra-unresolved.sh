#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# ra-unresolved.sh [--errors] DIR: run `rust-analyzer diagnostics` on DIR
# (which holds a rust-project.json) and print how many names in DIR's own
# files (the linked world_storage.rs included) it could not resolve
# (unresolved imports, paths, modules, types, values), listing them on
# stderr. Diagnostics in the kernel's files are not counted.
#
# --errors: count and list every error in DIR's own files instead, except
# the methods of primitive types that rust-analyzer does not find in the
# kernel's crate graph (E0599 "no method `cast` on type `*mut c_void`",
# `len` on `&[u8]`, `then` on `bool`...), which rustc compiles: see "Editor
# support" in Documentation/world-storage.rst.

. "$(dirname "$0")/lib.sh"

errors=0
[ "${1:-}" != --errors ] || { errors=1 && shift; }
dir=$(cd "$1" && pwd)
[ -f "$dir/rust-project.json" ] || die "no $dir/rust-project.json"
# It exits non-zero whenever it reports any error, so only its output counts.
log=$(cd "$dir" && rust-analyzer diagnostics . 2>&1 | tr '\r' '\n' || true)
grep -q 'diagnostic scan complete' <<<"$log" || die "rust-analyzer diagnostics did not finish on $dir"
own=$(grep -oE "at crate [a-z0-9_]+, file $dir/[^ ]*: .*" <<<"$log" || true)
if [ "$errors" -eq 1 ]; then
	primitive='(\*(const|mut) |&|\[|(bool|char|str|[iu](8|16|32|64|128|size)|f32|f64)`)'
	found=$(grep -E ': Error ' <<<"$own" |
		grep -vE "E0599.*: no method \`[a-z_0-9]+\` on type \`$primitive" || true)
else
	found=$(grep -E 'E0412|E0422|E0425|E0432|E0433|E0583|Ra\("unresolved-' <<<"$own" || true)
fi
[ -z "$found" ] || echo "$found" >&2
grep -c . <<<"$found" || true
