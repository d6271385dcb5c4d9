#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: setup, kernel, modules (clippy, warnings are errors), rustfmt,
# then one VM boot that runs every KUnit suite and kselftest, then the
# harness's own tests: boots with a planted failure, each of which must be
# reported. The last line printed is "N passed, N failed[, N skipped]".

. "$(dirname "$0")/lib.sh"
cd "$WS_TOP"

# --debug (make check-debug): the debug kernel; no harness self-tests (make
# check proves the harness), a longer VM timeout.
debug=0
[ "${1:-}" != --debug ] || debug=1

step "setup" scripts/setup.sh
step "kernel${WS_EXTRA_FRAGMENT:+ + $WS_EXTRA_FRAGMENT}" scripts/build-kernel.sh
step "modules (clippy, warnings are errors)" make -s --no-print-directory modules WERROR=1 CLIPPY=1
step "rustfmt" scripts/rustfmt.sh --check
step "documentation (docutils)" scripts/check-docs.py
step "selftests" make -s --no-print-directory selftests

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

# run_vm NAME APPEND TIMEOUT EXPECT...: boot, run the tests, summarise.
# Sets $summary to the summariser's output; returns its exit status.
run_vm() {
	local name=$1 append=$2 timeout=$3 vmrc=0 args=()
	shift 3
	scripts/vm.sh --name "$name" --script scripts/guest/run-tests.sh --quiet \
		--append "$append" --timeout "$timeout" 2>/dev/null || vmrc=$?
	for s in "$@"; do args+=(--expect "$s"); done
	summary=$(scripts/ktap_summary.py --results "$OUT/vm/$name/results.log" \
		--console "$OUT/vm/$name/console.log" --vm-status "$vmrc" "${args[@]}")
}

tests_in_vm() {
	mapfile -t expect < <(expected_suites world_storage harness)
	main_rc=0
	# The stress test: short in make check, long on the debug kernel.
	# WORLD_STORAGE_STRESS=<seconds>x<min tasks> overrides either.
	local stress=${WORLD_STORAGE_STRESS:-}
	[ "$debug" -eq 0 ] || stress=${stress:-120x1000}
	stress=${stress:+ws.stress=$stress}
	run_vm "check$([ "$debug" -eq 0 ] || echo -debug)" "$stress" 3000 "${expect[@]}" || main_rc=$?
	main_summary=$summary
	echo "$main_summary"
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

step "tests in the VM" tests_in_vm
harness_passed=0 harness_failed=0
[ "$debug" -eq 1 ] || step "harness self-tests" harness_tests

read -r p _ f _ sk _ < <(tail -n1 <<<"$main_summary" | tr -d ',')
p=$((p + harness_passed)) f=$((f + harness_failed))
line="$p passed, $f failed"
[ -z "${sk:-}" ] || line="$line, $sk skipped"
echo "$line"
[ "$main_rc" -eq 0 ] && [ "$harness_failed" -eq 0 ]
