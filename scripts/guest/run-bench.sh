#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` in the guest: every case, as "BENCH <case> <value>" lines on
# /dev/results: ns per op (under -icount shift=0, one ns is one
# instruction), or bytes for the memory cases.

emit() { echo "BENCH $*" >/dev/results; }
fork_case() { emit "$1" "$(/bench/bench_tasks fork 300)"; }
thread_case() { emit "$1" "$(/bench/bench_tasks thread 300)"; }
control() { echo "$*" >/sys/kernel/debug/ws_bench/control; }
debugfs_cases() {
	while read -r name value; do
		emit "$name" "$value"
	done <"$1"
}
# Bytes of live slab objects: active objects times their size, once the
# batches of kfree_rcu() are handed to RCU (within 5 s), every pending RCU
# callback has run (reading ws_bench/threads waits for them) and every
# cache's per-CPU slabs are flushed (slabinfo counts the free objects of
# those as active). Not vmap_area: freed kernel stacks keep theirs until a
# lazy vmalloc purge, hundreds of KiB that come and go with thread churn
# (world storage allocates no vmalloc area per world).
live_slab_bytes() {
	sleep 6
	cat /sys/kernel/debug/ws_bench/threads >/dev/null
	for shrink in /sys/kernel/slab/*/shrink; do
		echo 1 >"$shrink"
	done
	awk 'NR > 2 && $1 != "vmap_area" { s += $2 * $4 } END { print s }' /proc/slabinfo
}
# Starts $1 more threads that sleep; returns once they all exist.
start_sleepers() {
	rm -f /tmp/sleepers-ready
	/bench/bench_tasks sleep "$1" >/tmp/sleepers-ready &
	sleepers=$!
	until [ -s /tmp/sleepers-ready ]; do sleep 1; done
}
stop_sleepers() {
	kill "$sleepers"
	wait "$sleepers"
}

# ws.bench=lazy (scripts/bench.sh's boot with every CPU's RCU callbacks
# offloaded, rcu_nocbs=all, where RCU_LAZY is in effect): only Destroy of a
# region of 1,000 more threads' worlds, in ms.
if grep -q 'ws\.bench=lazy' /proc/cmdline; then
	insmod /modules/world_storage.ko || exit 1
	insmod /modules/ws_bench.ko || exit 1
	# "threads <all threads> ... destroy_ns <ns>"
	set -- $(/bench/bench_tasks create 1000)
	emit destroy_1000_more_threads_worlds "$2"
	emit destroy_1000_more_threads_ms "$(awk -v ns="$8" 'BEGIN { printf "%.1f", ns / 1e6 }')"
	rmmod ws_bench
	rmmod world_storage
	exit 0
fi

# The remote cases first, while the largest TID is as small as it gets
# (below 64 if the boot started few tasks), then with a live task of TID
# >= 64 (two levels) and >= 4096 (three levels).
insmod /modules/world_storage.ko || exit 1
insmod /modules/ws_bench.ko || exit 1
debugfs_cases /sys/kernel/debug/ws_bench/remote
rmmod ws_bench
rmmod world_storage

fork_case fork_exit_no_module
thread_case thread_exit_no_module
insmod /modules/world_storage.ko || exit 1
fork_case fork_exit_0_regions
insmod /modules/ws_bench.ko || exit 1
control regions 1 8
fork_case fork_exit_1_region_8
control regions 16 64
fork_case fork_exit_16_regions
thread_case thread_exit_16_regions
control regions 0 8
fork_case fork_exit_0_regions_after_destroy

for tid in 64 4096; do
	/bench/bench_tasks hold-tid "$tid" >/dev/null || exit 1
	debugfs_cases /sys/kernel/debug/ws_bench/remote
done

debugfs_cases /sys/kernel/debug/ws_bench/run

insmod /modules/ws_bench_rust.ko || exit 1
debugfs_cases /sys/kernel/debug/ws_bench_rust/run
rmmod ws_bench_rust

for n in 1000 10000; do
	# "threads <all threads> create_ns_per_thread <ns> destroy_ns_per_thread <ns>"
	set -- $(/bench/bench_tasks create "$n")
	emit "create_over_${n}_more_threads_per_thread" "$4"
	emit "destroy_over_${n}_more_threads_per_thread" "$6"
done

# Memory per world: live slab bytes with 4000 more threads (worlds created
# after the regions, as most are) and 0, 1 or 16 regions, less those with
# the same threads and no region (no world then), over the threads. The
# case without regions is measured again last: the difference is the noise.
per_world() { awk -v b="$1" -v t="$threads" 'BEGIN { printf "%.1f", b / t }'; }
for size in 8 64 4096; do
	for n in 0 1 16 0_again; do
		control regions "${n%_again}" "$size"
		start_sleepers 4000
		threads=$(cat /sys/kernel/debug/ws_bench/threads)
		eval "bytes_$n=$(live_slab_bytes)"
		stop_sleepers
	done
	emit "memory_${size}_1_region_bytes_per_world" "$(per_world $((bytes_1 - bytes_0)))"
	emit "memory_${size}_16_regions_bytes_per_world" "$(per_world $((bytes_16 - bytes_0)))"
	emit "memory_${size}_noise_bytes_per_world" "$(per_world $((bytes_0_again - bytes_0)))"
done

rmmod ws_bench
rmmod world_storage
