#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print one of the project's paths or settings, for the Makefile and for
# building a client module (Documentation/world-storage.rst):
#   kdir        the kernel the modules are built against: $KDIR, else the
#               cached dev kernel's build directory
#   ksrc        the dev kernel's source directory
#   kmake-args  arguments every kernel or module make needs: $KMAKE_ARGS if
#               set, else none with KDIR, else the cached toolchain's
#   out         this checkout's build output directory (in the cache), for
#               $KDIR if set; world_storage's Module.symvers is in its
#               modules/
# KDIR and KMAKE_ARGS are read from the environment, as `make` passes them.

. "$(dirname "$0")/lib.sh"

case "${1:-}" in
kdir) kdir ;;
ksrc) kernel_src_dir ;;
kmake-args) kmake_args ;;
out) out_dir ;;
*) die "usage: $0 kdir|ksrc|kmake-args|out" ;;
esac
