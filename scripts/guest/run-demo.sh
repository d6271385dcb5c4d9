#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make run` in the guest: load world_storage.ko, show it loaded, unload it.

set -e
echo "== insmod world_storage.ko"
insmod /modules/world_storage.ko
grep world_storage /proc/modules
echo "== rmmod world_storage"
rmmod world_storage
if grep -q world_storage /proc/modules; then
	echo "world_storage is still loaded"
	exit 1
fi
echo "== unloaded cleanly"
