#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: setup, kernel, modules (clippy, warnings are errors), rustfmt,
# then one VM boot that runs every KUnit suite and kselftest, then the
# harness's own tests: boots with a planted failure, each of which must be
# reported. The last line printed is "N passed, N failed" (skips, if any,
# counted on the line before it).
#
# `make check-debug` (--debug): the same tests on the debug kernel, with a
# stress run of a fixed length, then a second boot, of the plain dev kernel,
# that runs only the long stress test (at least 100 000 tasks); its result
# counts in the same last line.

. "$(dirname "$0")/lib.sh"
cd "$WS_TOP"

# --debug (make check-debug): the debug kernel; no harness self-tests (make
# check proves the harness), a longer VM timeout, and the long stress run on
# the plain kernel.
debug=0
[ "${1:-}" != --debug ] || debug=1

# Stress lengths, <seconds>x<minimum tasks>. make check: stress.c's default
# (5 s) unless WORLD_STORAGE_STRESS says otherwise. The debug kernel: a fixed
# time, no minimum but one task (it is several times slower per task and
# its count is only reported). The plain kernel's long run: the minimum.
STRESS=${WORLD_STORAGE_STRESS:-}
[ "$debug" -eq 0 ] || STRESS=${STRESS:-120x1}
LONG_STRESS=${WORLD_STORAGE_LONG_STRESS:-150x100000}

check_vm_cpus
step "setup" scripts/setup.sh
step "kernel${WS_EXTRA_FRAGMENT:+ + $WS_EXTRA_FRAGMENT}" scripts/build-kernel.sh
check_vm_cpus "$(kernel_build_dir)"
step "modules (clippy, warnings are errors)" make -s --no-print-directory modules WERROR=1 CLIPPY=1
step "rustfmt" scripts/rustfmt.sh --check
step "documentation (docutils)" scripts/check-docs.py
step "selftests" make -s --no-print-directory selftests
step "the documentation's example clients, as its recipes build them" scripts/doc-clients.sh
step "the safe Rust API: compile-fail tests, rustdoc" bash -c 'scripts/compile-fail.sh && scripts/rustdoc.sh --check'

# make help names every target of the Makefile.
help_lists_targets() {
	local help target missing=""
	help=$(make -s --no-print-directory help)
	for target in $(sed -e ':a' -e '/\\$/N' -e 's/\\\n//' -e 'ta' Makefile | sed -n 's/^\.PHONY://p'); do
		grep -qE "^  ([a-z-]+, )*$target[ ,]" <<<"$help" || missing="$missing $target"
	done
	[ -z "$missing" ] || die "make help does not list:$missing"
}
step "make help lists every target" help_lists_targets
if [ "$debug" -eq 1 ]; then
	# The long stress runs on the plain dev kernel: build it (if missing),
	# its modules and test programs.
	plain_prereqs() {
		WORLD_STORAGE_EXTRA_FRAGMENT= scripts/build-kernel.sh
		WORLD_STORAGE_EXTRA_FRAGMENT= make -s --no-print-directory modules
		WORLD_STORAGE_EXTRA_FRAGMENT= make -s --no-print-directory selftests
	}
	step "plain kernel, modules and selftests (for the long stress)" plain_prereqs
fi

OUT=$(out_dir)

# Every suite the tree declares: KUnit suites (Rust and C) and kselftests.
expected_suites() {
	local target
	grep -rhoE 'kunit_tests\([a-z0-9_]+\)' rust samples selftests 2>/dev/null |
		sed -E 's/kunit_tests\((.*)\)/kunit\/\1/'
	grep -rlE '^#include <kunit/test.h>' rust samples selftests 2>/dev/null |
		xargs -r sed -nE 's/^\t\.name = "([a-z0-9_]+)",$/kunit\/\1/p'
	for target in "$@"; do
		sed "s|^|kselftest/$target/|" "$OUT/selftests/$target/tests"
	done
	# Reported by the guest's init: the VM has the CPUs it was given.
	echo kselftest/harness/cpus
}

# A hang fails a run in minutes, not at the VM timeout: a task blocked
# uninterruptibly for HUNG_TASK_SECONDS (longer than any test waits; the
# slowest KUnit case runs for at most 31 s, and insmod waits for it) panics
# the kernel after printing its stack, within HUNG_TASK_CHECK_SECONDS more.
HUNG_TASK_SECONDS=60
HUNG_TASK_CHECK_SECONDS=10
hang_args="sysctl.kernel.hung_task_timeout_secs=$HUNG_TASK_SECONDS \
sysctl.kernel.hung_task_check_interval_secs=$HUNG_TASK_CHECK_SECONDS \
sysctl.kernel.hung_task_panic=1"

# run_vm NAME APPEND TIMEOUT EXPECT...: boot, run the tests, summarise.
# Sets $summary to the summariser's output and $vm_log to the VM's output
# directory; returns the summariser's exit status. $vm_fragment (default:
# this run's) chooses the kernel.
vm_fragment=$WS_EXTRA_FRAGMENT
run_vm() {
	local name=$1 append=$2 timeout=$3 vmrc=0 args=() out rc=0 why
	shift 3
	out=$(WORLD_STORAGE_EXTRA_FRAGMENT=$vm_fragment scripts/paths.sh out)
	vm_log=$out/vm/$name
	# No stale results if vm.sh fails before it boots.
	rm -f "$vm_log/results.log" "$vm_log/console.log"
	mkdir -p "$out"
	WORLD_STORAGE_EXTRA_FRAGMENT=$vm_fragment scripts/vm.sh --name "$name" \
		--script scripts/guest/run-tests.sh --quiet \
		--append "$hang_args $append" --timeout "$timeout" 2>"$out/vm-$name.stderr" ||
		vmrc=$?
	for s in "$@"; do args+=(--expect "$s"); done
	summary=$(scripts/ktap_summary.py --results "$vm_log/results.log" \
		--console "$vm_log/console.log" --vm-status "$vmrc" "${args[@]}") || rc=$?
	# vm.sh's own errors (e.g. a bad WORLD_STORAGE_VM_CPUS) and refusals.
	why=$(grep -E '^error: |refused' "$out/vm-$name.stderr" | sed 's/^/  vm.sh: /' || true)
	[ -z "$why" ] || summary="$why"$'\n'"$summary"
	return "$rc"
}

# The guest's CPU count and the stress test's totals, from a run's logs.
vm_facts() {
	local cpus tasks
	cpus=$(grep -aom1 'smp: Brought up .*' "$vm_log/console.log" 2>/dev/null | tr -d '\r' || true)
	echo "  ${cpus:-no \"smp: Brought up\" line in the console}"
	tasks=$(tr -d '\r' <"$vm_log/results.log" 2>/dev/null |
		sed -n 's/^# \(tasks [0-9]* .*\)/\1/p' | tail -n1 || true)
	[ -z "$tasks" ] || echo "  stress ($1): $tasks"
}

# passed_failed SUMMARY: "P F S" from the summariser's last line.
passed_failed() {
	local p f sk
	read -r p _ f _ sk _ < <(tail -n1 <<<"$1" | tr -d ',')
	echo "${p:-0} ${f:-1} ${sk:-0}"
}

tests_in_vm() {
	mapfile -t expect < <(expected_suites world_storage harness)
	main_rc=0
	local start=$SECONDS
	# The VM timeout is the last resort: hangs fail long before (hang_args).
	# Each kselftest's limit (scripts/guest/run-tests.sh): 120 s on the dev
	# kernel; the debug kernel (KASAN, lockdep under TCG) needs more: its
	# region_limits alone, 1024 Creates each walking every thread, runs
	# past 120 s there, and memcg_charge's 520 Destroys, each waiting out
	# several grace periods (its own, its objects' RCU-deferred frees,
	# kmem_cache_destroy()'s rcu_barrier()), took 585 s and 620 s in two
	# runs against the 600 s once given (17 s on the dev kernel).
	local timeout=600 stress_seconds=${STRESS%%x*} suite_seconds=120
	[ "$debug" -eq 0 ] || timeout=2400 suite_seconds=1200
	run_vm "check$([ "$debug" -eq 0 ] || echo -debug)" \
		"ws.suite_seconds=$suite_seconds ${STRESS:+ws.stress=$STRESS}" \
		"$((timeout + ${stress_seconds:-5}))" "${expect[@]}" || main_rc=$?
	main_summary=$summary
	echo "$main_summary"
	vm_facts "${STRESS:-5x1000 (default)}"
	echo "  VM: $((SECONDS - start)) s"
}

# make check-debug: only the stress test, on the plain dev kernel, with at
# least the minimum number of tasks. A second boot: the debug kernel is
# several times too slow per task for it.
long_stress() {
	local seconds=${LONG_STRESS%%x*} start=$SECONDS vm_fragment=""
	long_rc=0
	run_vm check-long-stress "ws.only=stress ws.stress=$LONG_STRESS" \
		$((seconds + 900)) kselftest/world_storage/stress kselftest/harness/cpus || long_rc=$?
	long_summary=$summary
	echo "$long_summary"
	vm_facts "$LONG_STRESS"
	echo "  VM: $((SECONDS - start)) s"
}

# Each planted failure must make the summariser fail, for the right reason.
# "cpus" tells the guest it was given one CPU more than it has.
harness_tests() {
	local plants=(
		"kunit-fail|ws.plant=kunit-fail|suite kunit ws_harness: 1 failed"
		"ktap-fail|ws.plant=ktap-fail|suite kselftest harness/ktap_harness: 1 failed"
		"warn|ws.plant=warn|kernel splat"
		"missing|ws.plant=missing|suite kunit ws_harness: expected, produced no result"
		"hang|ws.plant=hang|VM timed out"
		"cpus|ws.cpus=$((WS_VM_CPUS + 1))|suite kselftest harness/cpus: 2 failed"
	)
	local entry plant append reason rc n=0 timeout
	echo "KTAP version 1"
	echo "1..${#plants[@]}"
	for entry in "${plants[@]}"; do
		IFS='|' read -r plant append reason <<<"$entry"
		n=$((n + 1)) rc=0
		timeout=300
		[ "$plant" != hang ] || timeout=15
		run_vm "harness-$plant" "ws.only=harness $append" "$timeout" \
			kunit/ws_harness kselftest/harness/ktap_harness kselftest/harness/cpus || rc=$?
		if [ "$rc" -ne 0 ] && grep -qF "$reason" <<<"$summary"; then
			echo "ok $n harness_detects_$plant"
			harness_passed=$((harness_passed + 1))
		else
			echo "not ok $n harness_detects_$plant (wanted: $reason)"
			echo "$summary" | sed 's/^/# /'
			harness_failed=$((harness_failed + 1))
		fi
	done
}

step "tests in the VM$([ "$debug" -eq 0 ] || echo " (debug kernel)")" tests_in_vm
harness_passed=0 harness_failed=0
[ "$debug" -eq 1 ] || step "harness self-tests" harness_tests
long_rc=0 long_summary=""
[ "$debug" -eq 0 ] || step "long stress on the plain kernel ($LONG_STRESS)" long_stress

read -r p f sk < <(passed_failed "$main_summary")
p=$((p + harness_passed)) f=$((f + harness_failed))
if [ -n "$long_summary" ]; then
	read -r lp lf lsk < <(passed_failed "$long_summary")
	p=$((p + lp)) f=$((f + lf)) sk=$((sk + lsk))
fi
line="$p passed, $f failed"
[ "$sk" -eq 0 ] || echo "$sk skipped"
echo "$line"
[ "$main_rc" -eq 0 ] && [ "$harness_failed" -eq 0 ] && [ "$long_rc" -eq 0 ]
