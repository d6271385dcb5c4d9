#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# rustfmt every Rust file of the project with the kernel's own settings.
# Arguments go to rustfmt (e.g. --check). rustfmt follows `mod` items, so
# only crate roots (files with a `module!`) are named.

. "$(dirname "$0")/lib.sh"

cd "$WS_TOP"
mapfile -t files < <(grep -rlE '^module! \{' --include='*.rs' rust samples selftests | sort)
[ ${#files[@]} -gt 0 ] || exit 0
rustfmt --edition 2021 --config-path "$(kernel_src_dir)/.rustfmt.toml" "$@" "${files[@]}"
