#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install`: world_storage.ko, and what a client module builds against.
#   $INSTALL_MOD_PATH/lib/modules/<release>/$INSTALL_MOD_DIR/world_storage.ko
#   $DESTDIR$PREFIX/src/world-storage-<release>/include/world_storage.h
#   $DESTDIR$PREFIX/src/world-storage-<release>/include/world_storage.rs
#   $DESTDIR$PREFIX/src/world-storage-<release>/Module.symvers
# <release> is the kernel's (KDIR's include/config/kernel.release). The
# Module.symvers holds world_storage.ko's exports only. Run depmod yourself.
# Input (the Makefile passes it): KDIR, MODOUT, DESTDIR, PREFIX,
# INSTALL_MOD_PATH, INSTALL_MOD_DIR. With DEV_DIR instead (DKMS's build,
# scripts/dkms-build.sh, which installs the module itself): only the
# client's files, into DEV_DIR.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "error: $*" >&2
	exit 1
}

release=$(cat "$KDIR/include/config/kernel.release")
dev_dir=${DEV_DIR:-$DESTDIR$PREFIX/src/world-storage-$release}
symvers=$MODOUT/Module.symvers

[ -f "$MODOUT/world_storage.ko" ] || die "no $MODOUT/world_storage.ko: run make"
exports=$(awk -F'\t' '$3 ~ /(^|\/)world_storage$/' "$symvers")
[ -n "$exports" ] || die "$symvers lists no export of world_storage"

if [ -z "${DEV_DIR:-}" ]; then
	module_dir=$INSTALL_MOD_PATH/lib/modules/$release/$INSTALL_MOD_DIR
	install -D -m 644 "$MODOUT/world_storage.ko" "$module_dir/world_storage.ko"
	echo "installed $module_dir/world_storage.ko"
fi
install -D -m 644 "$top/include/world_storage.h" "$dev_dir/include/world_storage.h"
install -D -m 644 "$top/include/world_storage.rs" "$dev_dir/include/world_storage.rs"
printf '%s\n' "$exports" >"$dev_dir/Module.symvers"
chmod 644 "$dev_dir/Module.symvers"
echo "installed $dev_dir/{include/world_storage.h,include/world_storage.rs,Module.symvers}"
