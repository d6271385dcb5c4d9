#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS's build of world_storage.ko (dkms.conf):
#
#   dkms-build.sh RELEASE HEADERS
#
# for kernel RELEASE, whose headers are HEADERS (/lib/modules/RELEASE/build).
# Those headers have no Rust artefacts (Debian's do not), so first a build
# tree with them is prepared from the kernel's source package
# (/usr/src/linux-source-<series>.tar.xz) by scripts/rust-tree.sh, with the
# toolchain the kernel was built with: it fails early, saying what to
# install, if that is not the one on PATH. The tree is kept, with what a
# client module builds against, in /usr/src/world-storage-RELEASE/
# (WORLD_STORAGE_DEV_DIR), as `make install` lays it out:
#   kbuild/                          the kernel build tree (a client's KDIR)
#   include/world_storage.h, include/world_storage.rs
#   Module.symvers                   world_storage's exports
# The module itself is left in the current directory, where DKMS takes it.

set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 RELEASE HEADERS" >&2; exit 1; }
release=$1
headers=$2
top=$(cd "$(dirname "$0")/.." && pwd)
series=$(echo "$release" | cut -d. -f1,2)
dev=${WORLD_STORAGE_DEV_DIR:-/usr/src/world-storage-$release}
source=${WORLD_STORAGE_KERNEL_SOURCE:-/usr/src/linux-source-$series.tar.xz}

"$top/scripts/rust-tree.sh" "$headers" "$source" "$dev/kbuild"
# Only the module: the tests, samples and benchmark are the tree's own
# business (make KERNEL=debian check).
make -C "$dev/kbuild" M="$top" obj-m=world_storage.o modules
KDIR=$dev/kbuild MODOUT=$top DEV_DIR=$dev "$top/scripts/install.sh"
