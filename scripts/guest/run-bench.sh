#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` in the guest: every case, as "BENCH <case> <value>" lines on
# /dev/results: ns per op (under -icount shift=0, one ns is one
# instruction), or bytes for the memory cases.

emit() { echo "BENCH $*" >/dev/results; }
control() { echo "$*" >/sys/kernel/debug/ws_bench/control; }
# Waits until every pending RCU callback has run (ws_bench/threads waits
# for them): Destroy's deferred frees.
rcu_settle() { cat /sys/kernel/debug/ws_bench/threads >/dev/null; }
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
# >= 64 (two levels) and >= 4096 (three levels), before the fork rounds
# take thousands of TIDs.
insmod /modules/world_storage.ko || exit 1
insmod /modules/ws_bench.ko || exit 1
debugfs_cases /sys/kernel/debug/ws_bench/remote

for tid in 64 4096; do
	/bench/bench_tasks hold-tid "$tid" >/dev/null || exit 1
	debugfs_cases /sys/kernel/debug/ws_bench/remote
done
rmmod ws_bench
rmmod world_storage

# fork+exit and thread create+exit with and without world storage, in
# alternating rounds: each round measures them without the module, loads a
# fresh instance (so no region was ever live in it) and measures with no
# region, 1 region of 8 B, 16 of 64 B and none again (every region
# destroyed, its RCU-deferred frees run), then unloads it. Each case is
# 300 operations on one CPU (bench_tasks pins itself). Emitted: each
# case's median over the rounds, and for a case with the module,
# <case>_ratio, the median of its per-round ratio to the same operation
# without the module in that round: what drifts over the boot falls on
# both sides of a ratio. A round's ratio varies by about 2% (-icount),
# and the median of 51 rounds by some 0.4%, at about 2 s of TCG per round;
# odd, so that the median is one round's value. "ROUND <round> <case>
# <value> <ratio>" lines on /dev/results keep every round.
rounds=51
: >/tmp/rounds
# sample ROUND CASE fork|thread [BASE]: one round of CASE, with its ratio
# to BASE of the same round if given.
sample() {
	value=$(/bench/bench_tasks "$3" 300) || exit 1
	eval "value_$2=$value"
	ratio=-
	if [ -n "$4" ]; then
		ratio=$(eval "echo \$value_$4" |
			awk -v v="$value" '{ printf "%.4f", v / $1 }')
	fi
	echo "$2 $value $ratio" >>/tmp/rounds
	echo "ROUND $1 $2 $value $ratio" >/dev/results
}
# median CASE FIELD: the median of FIELD (2: value, 3: ratio) of CASE's rounds.
median() {
	awk -v c="$1" -v f="$2" '$1 == c { print $f }' /tmp/rounds | sort -n |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for round in $(seq "$rounds"); do
	sample "$round" fork_exit_no_module fork
	sample "$round" thread_exit_no_module thread
	insmod /modules/world_storage.ko || exit 1
	sample "$round" fork_exit_0_regions fork fork_exit_no_module
	insmod /modules/ws_bench.ko || exit 1
	control regions 1 8
	sample "$round" fork_exit_1_region_8 fork fork_exit_no_module
	control regions 16 64
	rcu_settle
	sample "$round" fork_exit_16_regions fork fork_exit_no_module
	sample "$round" thread_exit_16_regions thread thread_exit_no_module
	control regions 0 8
	rcu_settle
	sample "$round" fork_exit_0_regions_after_destroy fork fork_exit_no_module
	rmmod ws_bench
	rmmod world_storage
done
for case in fork_exit_no_module thread_exit_no_module fork_exit_0_regions \
	fork_exit_1_region_8 fork_exit_16_regions thread_exit_16_regions \
	fork_exit_0_regions_after_destroy; do
	emit "$case" "$(median "$case" 2)"
	case $case in
	*_no_module) ;;
	*) emit "${case}_ratio" "$(median "$case" 3)" ;;
	esac
done

insmod /modules/world_storage.ko || exit 1
insmod /modules/ws_bench.ko || exit 1
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
