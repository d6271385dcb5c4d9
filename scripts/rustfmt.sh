#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# rustfmt every Rust file of the project with the kernel's own settings.
# Arguments go to rustfmt (e.g. --check).

. "$(dirname "$0")/lib.sh"

cd "$WS_TOP"
mapfile -t files < <(find rust samples selftests -name '*.rs' | sort)
[ ${#files[@]} -gt 0 ] || exit 0
rustfmt --edition 2021 --config-path "$(kernel_src_dir)/.rustfmt.toml" "$@" "${files[@]}"
