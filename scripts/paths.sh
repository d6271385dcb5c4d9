#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print one of the project's paths or settings, for the Makefile:
#   kdir        the cached kernel build directory
#   ksrc        the kernel source directory
#   kmake-args  arguments every kernel or module make needs
#   out         this checkout's build output directory (in the cache)

. "$(dirname "$0")/lib.sh"

case "${1:-}" in
kdir) kernel_build_dir ;;
ksrc) kernel_src_dir ;;
kmake-args) kmake_args ;;
out) out_dir ;;
*) die "usage: $0 kdir|ksrc|kmake-args|out" ;;
esac
