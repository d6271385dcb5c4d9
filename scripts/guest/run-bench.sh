#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` in the guest: every case, as "BENCH <case> <ns per op>" lines
# on /dev/results (under -icount shift=0, one ns is one instruction).

emit() { echo "BENCH $*" >/dev/results; }
fork_case() { emit "$1" "$(/bench/bench_tasks fork 300)"; }
slab_bytes() { awk 'NR > 2 { s += $3 * $4 } END { print s }' /proc/slabinfo; }
stat() { awk -v k="$1" '$1 == k { print $2 }' /sys/kernel/debug/world_storage/stats; }

fork_case fork_exit_no_module
insmod /modules/world_storage.ko || exit 1
fork_case fork_exit_0_regions
insmod /modules/ws_bench.ko || exit 1
echo "regions 16 64" >/sys/kernel/debug/ws_bench/control
fork_case fork_exit_16_regions
echo "regions 0 8" >/sys/kernel/debug/ws_bench/control

while read -r name value; do
	emit "$name" "$value"
done </sys/kernel/debug/ws_bench/run

insmod /modules/ws_bench_rust.ko || exit 1
while read -r name value; do
	emit "$name" "$value"
done </sys/kernel/debug/ws_bench_rust/run
rmmod ws_bench_rust

for n in 1000 10000; do
	# "threads <all threads> create_ns_per_thread <ns> destroy_ns_per_thread <ns>"
	set -- $(/bench/bench_tasks create "$n")
	emit "create_over_${n}_more_threads_per_thread" "$4"
	emit "destroy_over_${n}_more_threads_per_thread" "$6"
done

# Memory: bytes per world per region, from our accounting and from slab,
# with 2000 more worlds so that slab growth shows.
/bench/bench_tasks sleep 2000 &
sleepers=$!
sleep 2
for size in 8 64 4096; do
	before=$(slab_bytes)
	echo "regions 1 $size" >/sys/kernel/debug/ws_bench/control
	after=$(slab_bytes)
	worlds=$(stat objects)
	emit "memory_${size}_accounted_bytes_per_world" "$(($(stat bytes) / worlds))"
	emit "memory_${size}_slab_bytes_per_world" "$(((after - before) / worlds))"
	echo "regions 0 8" >/sys/kernel/debug/ws_bench/control
done
kill "$sleepers"
wait

rmmod ws_bench
rmmod world_storage
