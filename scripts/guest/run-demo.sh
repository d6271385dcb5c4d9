#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make run` in the guest: load world_storage.ko and the Rust sample, run a
# small workload, show the sample's per-task table and world storage's own
# numbers, unload everything.

set -e
say() { printf '\n== %s\n' "$*"; }

say "insmod world_storage.ko ws_sched_stats.ko"
insmod /modules/world_storage.ko
insmod /modules/ws_sched_stats.ko
grep -E '^(world_storage|ws_sched_stats) ' /proc/modules | cut -d' ' -f1,2,3,4

say "workload: two busy shells and three sleepers; the table after 2 s"
sh -c 'while :; do :; done' & b1=$!
sh -c 'while :; do :; done' & b2=$!
sleep 3 & s1=$!
sleep 3 & s2=$!
sleep 3 & s3=$!
echo "busy: $b1 $b2   sleeping: $s1 $s2 $s3"
sleep 2

say "/sys/kernel/debug/ws_sched_stats/top (per-task data in world storage)"
cat /sys/kernel/debug/ws_sched_stats/top
kill "$b1" "$b2"
wait

say "/sys/kernel/debug/world_storage/regions"
cat /sys/kernel/debug/world_storage/regions
say "/sys/kernel/debug/world_storage/stats"
cat /sys/kernel/debug/world_storage/stats

say "rmmod ws_sched_stats world_storage"
rmmod ws_sched_stats
rmmod world_storage
if grep -qE '^(world_storage|ws_sched_stats) ' /proc/modules; then
	echo "still loaded"
	exit 1
fi
echo "unloaded cleanly"
