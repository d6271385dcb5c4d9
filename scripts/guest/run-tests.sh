#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest: load the modules, run every KUnit suite (at insmod of
# world_storage_kunit.ko, ws_abi_test.ko and ws_harness.ko) and every
# kselftest, and write each suite's KTAP between markers on /dev/results:
#   WS-SUITE-BEGIN <kind> <name> / ... / WS-SUITE-END <kind> <name> <status>
#
# The guest's init has already reported the suite kselftest harness/cpus
# (does the VM have the CPUs it was given).
#
# Kernel command line switches (see scripts/check.sh):
#   ws.only=harness   run only the harness's own suites (harness self-tests)
#   ws.only=stress    run only the stress test (make check-debug's long run)
#   ws.plant=X        plant a failure: kunit-fail, ktap-fail, warn, missing,
#                     hang
#   ws.stress=<seconds>x<min tasks>   the stress test's length
#   ws.run=<unit>,...  run only these units (default: every one): a KUnit
#                     module as kunit/<module>, a kselftest as
#                     <target>/<test> (make check splits the units between
#                     VMs; make check T=<suite> runs one)
#
# After each unit: WS-UNIT-TIME <unit> <centiseconds> (make check balances
# its VMs with these).

arg() { sed -n "s/.*$1=\([a-z-]*\).*/\1/p" /proc/cmdline; }
plant=$(arg ws.plant)
only=$(arg ws.only)
# The stress test's length; without ws.stress, stress.c's default (short).
stress=$(sed -n 's/.*ws\.stress=\([0-9]*\)x\([0-9]*\).*/-s \1 -n \2/p' /proc/cmdline)

emit() { echo "$*" >/dev/results; }

run=$(sed -n 's|.*ws\.run=\([a-z0-9_/,-]*\).*|\1|p' /proc/cmdline)
# selected UNIT: whether this run runs UNIT.
selected() {
	case ",${run:-$1}," in
	*",$1,"*) return 0 ;;
	*) return 1 ;;
	esac
}

# The guest's uptime in centiseconds (taken between tests, never while one
# runs: tests count every task created meanwhile).
uptime_cs() {
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}

kunit_results() {
	for d in /sys/kernel/debug/kunit/*/; do
		[ -f "$d/results" ] || continue
		s=$(basename "$d")
		emit "WS-SUITE-BEGIN kunit $s"
		cat "$d/results" >/dev/results
		emit "WS-SUITE-END kunit $s 0"
	done
}

# A kselftest that runs longer than this (ws.suite_seconds, default 120;
# scripts/check.sh gives the debug kernel more) fails (exit 124) and is killed, so
# a test stuck in user space or in a killable wait fails the run in minutes,
# not at the VM timeout (a task stuck in an uninterruptible wait panics the
# guest through the hung-task detector first: see scripts/check.sh). The
# stress test gets its own length on top.
SUITE_SECONDS=$(sed -n 's/.*ws\.suite_seconds=\([0-9]*\).*/\1/p' /proc/cmdline)
SUITE_SECONDS=${SUITE_SECONDS:-120}
stress_seconds=$(sed -n 's/.*ws\.stress=\([0-9]*\)x.*/\1/p' /proc/cmdline)

# run_limited SECONDS DIR CMD...: run CMD in DIR, output to /dev/results;
# its exit status, or 124 after killing it at the limit. The watchdog is
# this loop, not a process that could outlive the test and disturb the
# next one (busybox timeout's watcher does), and it creates no task while
# the test runs (tests count every task created meanwhile): it waits with
# the shell's own `read -t` on a FIFO nobody writes, not with sleep(1).
mkfifo /tmp/ws-ticks
exec 8<>/tmp/ws-ticks
run_limited() {
	limit=$1 dir=$2
	shift 2
	(cd "$dir" && exec "$@") >/dev/results 2>&1 &
	pid=$!
	ticks=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$ticks" -ge "$((limit * 5))" ]; then
			echo "# killed: still running after $limit s" >/dev/results
			kill -9 "$pid"
			wait "$pid"
			return 124
		fi
		read -r -t 0.2 _ <&8
		ticks=$((ticks + 1))
	done
	wait "$pid"
}

# kselftests TARGET...: every test of each target (only $only_test if set).
only_test=""
kselftests() {
	for target in "$@"; do
		[ -f "/selftests/$target/tests" ] || continue
		for t in $(cat "/selftests/$target/tests"); do
			[ -z "$only_test" ] || [ "$target/$t" = "$only_test" ] || continue
			selected "$target/$t" || continue
			emit "WS-SUITE-BEGIN kselftest $target/$t"
			args=""
			[ "$t" != stress ] || args=$stress
			limit=$SUITE_SECONDS
			[ "$t" != stress ] || limit=$((limit + ${stress_seconds:-5}))
			start=$(uptime_cs)
			run_limited "$limit" "/selftests/$target" "./$t" $args
			emit "WS-SUITE-END kselftest $target/$t $?"
			emit "WS-UNIT-TIME $target/$t $(($(uptime_cs) - start))"
		done
	done
}

# The suite harness/taint: after the tests, the kernel is tainted by
# nothing but loading out-of-tree modules (O, 4096), modules without a
# signature it can verify where it checks them (E, 8192; Debian's, which
# does not know DKMS's key), and KUnit's tests (N, 262144). A warning (W),
# a forced load or anything else fails it.
taint_report() {
	taint=$(cat /proc/sys/kernel/tainted)
	other=$((taint & ~(4096 | 8192 | 262144)))
	emit "WS-SUITE-BEGIN kselftest harness/taint"
	{
		echo "KTAP version 1"
		echo "1..1"
		echo "# tainted: $taint"
		if [ "$other" -eq 0 ]; then
			echo "ok 1 tainted_only_by_out_of_tree_unsigned_or_test_modules"
		else
			echo "not ok 1 tainted_only_by_out_of_tree_unsigned_or_test_modules # other bits: $other"
		fi
	} >/dev/results
	emit "WS-SUITE-END kselftest harness/taint 0"
}

[ "$plant" != hang ] || while :; do sleep 1000; done

harness_args=""
[ "$plant" != kunit-fail ] || harness_args="$harness_args fail=1"
[ "$plant" != warn ] || harness_args="$harness_args warn=1"
[ "$plant" = missing ] || insmod /modules/ws_harness.ko $harness_args

# On the debug kernel: forget what kmemleak knows from boot, so the scan at
# the end reports only what the tests leaked.
kmemleak=/sys/kernel/debug/kmemleak
[ ! -w "$kmemleak" ] || echo clear >"$kmemleak"

if [ "$only" = harness ]; then
	kunit_results
	kselftests harness
	exit 0
fi

# The module DKMS built and installed, where there is one (make check
# KERNEL=debian): the tests then test what a user installs.
world_storage=/modules/world_storage.ko
[ ! -f /modules/dkms/world_storage.ko ] || world_storage=/modules/dkms/world_storage.ko
echo "# world_storage: $world_storage" >/dev/results
insmod "$world_storage" || exit 1
insmod /modules/ws_test_client.ko || exit 1

if [ "$only" = stress ]; then
	only_test=world_storage/stress
	kselftests world_storage
	[ "$plant" = missing ] || rmmod ws_harness
	rmmod ws_test_client || exit 1
	rmmod world_storage || exit 1
	exit 0
fi

# The modules whose KUnit suites run when loaded: the crate's own
# (world_storage.ko itself runs none), then the C API's. scripts/check.sh
# reads this list.
KUNIT_MODULES="world_storage_kunit ws_abi_test"
loaded=""
for m in $KUNIT_MODULES; do
	selected "kunit/$m" || continue
	# Kbuild builds the crate's KUnit module only on a kernel with KUnit.
	[ "$m" != world_storage_kunit ] || [ -f "/modules/$m.ko" ] || continue
	start=$(uptime_cs)
	insmod "/modules/$m.ko" || exit 1
	emit "WS-UNIT-TIME kunit/$m $(($(uptime_cs) - start))"
	loaded="$loaded $m"
done
kunit_results
kselftests world_storage harness
[ "$plant" = missing ] || rmmod ws_harness
rmmod $loaded ws_test_client || exit 1
rmmod world_storage || exit 1
taint_report

if [ -w "$kmemleak" ]; then
	# Objects must stay unreferenced across two scans to be reported.
	echo scan >"$kmemleak"
	sleep 6
	echo scan >"$kmemleak"
	cat "$kmemleak"
fi
