#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: setup, kernel, modules (clippy, warnings are errors), rustfmt,
# the documentation, the documentation's example clients, then every KUnit
# suite and kselftest in two VMs at once (each with its own CPUs), and the
# harness's own tests: boots with a planted failure, each of which must be
# reported. The last line printed is "N passed, N failed" (skips, if any,
# counted on the line before it).
#
# A step whose inputs have not changed since it passed is not run again: it
# prints what it printed then and counts what it counted (scripts/steps.sh).
# `make` itself decides what to rebuild of the modules and test programs.
# WORLD_STORAGE_CHECK_CACHE=0 runs every step.
#
# `make check T=<suite>` (--only SUITE; `make check-debug T=` on the debug
# kernel): the builds, then only that suite, in one VM: a kselftest
# (world_storage/new_tasks, or new_tasks), a KUnit module
# (world_storage_kunit) or a KUnit suite (world_storage_drain).
#
# `make check-debug` (--debug): the same tests on the debug kernel, in two
# VMs, with a stress run of a fixed length, then a second boot, of the plain
# dev kernel, that runs only the long stress test (at least 100 000 tasks);
# its result counts in the same last line. Every step runs (no record is
# used).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/steps.sh"
cd "$WS_TOP"

# --debug (make check-debug): the debug kernel; no harness self-tests (make
# check proves the harness), a longer VM timeout, and the long stress run on
# the plain kernel.
debug=0 only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--debug) debug=1 WS_CHECK_CACHE=0 ;;
	--only) only=$2 && shift ;;
	*) die "usage: $0 [--debug] [--only SUITE]" ;;
	esac
	shift
done

# Stress lengths, <seconds>x<minimum tasks>. make check: stress.c's default
# (5 s; 10 s with two VMs, below) unless WORLD_STORAGE_STRESS says
# otherwise. The debug kernel: a fixed
# time, no minimum but one task (it is several times slower per task and
# its count is only reported). The plain kernel's long run: the minimum.
STRESS=${WORLD_STORAGE_STRESS:-}
[ "$debug" -eq 0 ] || STRESS=${STRESS:-120x1}
LONG_STRESS=${WORLD_STORAGE_LONG_STRESS:-150x100000}

# How many VMs run at once (each with its own $WS_VM_CPUS CPUs): the
# tests in the VM are split between them, and the harness self-tests'
# boots share them (README: the times measured on 2 cores). The debug
# kernel's tests too: there two units are most of the time (memcg_charge
# 976 s and region_limits 425 s of the 1602 s one VM took in CI's run of
# 40eb275), each busy on about one vCPU, so they go to different VMs
# (split_units) and run side by side.
CHECK_VMS=${WORLD_STORAGE_CHECK_VMS:-2}
case "$CHECK_VMS" in
'' | *[!0-9]* | 0) die "WORLD_STORAGE_CHECK_VMS=$CHECK_VMS is not a number >= 1" ;;
esac
# With two VMs sharing the host's cores the stress test gets twice its
# default time for the same minimum of tasks: in 5 s it created 955 of its
# 1000 next to the other VM, rust-analyzer and a kernel build on the host.
[ "$CHECK_VMS" -eq 1 ] || [ -n "$only" ] || STRESS=${STRESS:-10x1000}

# Limits. The VM timeout is the last resort: hangs fail long before
# (hang_args). Each kselftest's limit (scripts/guest/run-tests.sh): 120 s
# on the dev kernel; the debug kernel (KASAN, lockdep under TCG) needs
# more: its region_limits alone, 1024 Creates each walking every thread,
# takes 425 s there, and memcg_charge took 976 s in CI's run of 40eb275
# while its 520 Creates and Destroys each walked the 512 tasks of its
# earlier batches (31 s on the dev kernel); the whole debug VM 1602 s.
# 1800 s and 3600 s leave that much again.
suite_seconds=120 vm_seconds=600
[ "$debug" -eq 0 ] || suite_seconds=1800 vm_seconds=3600

OUT=$(out_dir)
KBUILD=$(kernel_build_dir)

# What each cached step reads, for its key (scripts/steps.sh: a path of the
# tree, an /absolute path, tool:CMD, var:NAME). A new step is its list of
# inputs here and one `cached_step NAME "$its_inputs" CMD...` line below
# (cached_step_bg: alongside what follows); if it runs tests, it writes
# "PASSED FAILED SKIPPED" to $WS_STEP_COUNTS and they count in the last
# line.
module_sources="Kbuild Makefile rust include samples selftests bench"
rustfmt_inputs="rust samples selftests include scripts/rustfmt.sh tool:rustfmt
	$(kernel_src_dir)/.rustfmt.toml"
docutils_version=$(python3 -c 'import docutils; print(docutils.__version__)' 2>/dev/null || true)
docs_inputs="Documentation include/world_storage.h rust/world_storage_glue.c
	scripts/check-docs.py tool:python3 var:docutils_version"
help_inputs="Makefile"
# The clients of the documentation, built as it says (also against a `make
# install` copy and as against your own kernel), and rust-analyzer on the
# Rust client: the document, the API, what the clients link against.
# (The dev kernel is not built yet on a fresh cache: named, not looked up.)
own_kernel_out=$(kdir_out_dir "$KBUILD")
doc_client_inputs="Documentation/world-storage.rst include Makefile scripts/paths.sh
	scripts/install.sh scripts/doc-clients.sh scripts/doc-clients.py
	scripts/rust-analyzer.py scripts/ra-unresolved.sh
	$OUT/modules/Module.symvers $own_kernel_out/modules/Module.symvers
	tool:rustfmt tool:clippy-driver tool:rust-analyzer"
# The safe Rust API's compile-fail clients (built as the documentation's
# Rust recipe builds a client) and its reference (rustdoc, with a module's
# flags and the kernel crates' metadata): the API, the recipe, the scripts,
# what a client links against, the compilers.
rust_api_inputs="include/world_storage.rs Documentation/world-storage.rst
	scripts/compile-fail.sh scripts/rustdoc.sh scripts/doc-clients.py scripts/paths.sh
	$OUT/modules/Module.symvers $KBUILD/rust:*.rmeta $KBUILD/include/generated/rustc_cfg
	tool:rustc tool:rustdoc tool:clippy-driver"
# rust-analyzer on the project's own crates.
editor_inputs="$module_sources scripts/rust-analyzer.py scripts/ra-unresolved.sh
	tool:rust-analyzer"
# Everything a VM boot of the tests reads: the initramfs (scripts/vm.sh
# build_initramfs: the modules, test programs, guest scripts, busybox),
# the kernel, QEMU and its settings; the summariser. (Which accelerator
# vm.sh's probe finds is the host's, not an input.)
vm_common_inputs="scripts/guest scripts/vm.sh scripts/ktap_summary.py /bin/busybox
	$(kernel_image) tool:qemu-system-x86_64
	var:WORLD_STORAGE_ACCEL var:WS_VM_CPUS"
vm_inputs="$vm_common_inputs $OUT/modules:*.ko $OUT/dkms $OUT/selftests $OUT/bench var:STRESS
	var:CHECK_VMS"
# The harness self-tests load only the harness's module and programs.
harness_inputs="$vm_common_inputs $OUT/modules/selftests/harness/ws_harness.ko
	$OUT/selftests/harness"

check_vm_cpus
step "setup" scripts/setup.sh
if [ "$WS_KERNEL" = debian ]; then
	step "Debian's kernel: toolchain, headers, source and image" scripts/debian.sh setup
	step "Debian's kernel: build tree with Rust" scripts/debian.sh kernel
	check_vm_cpus "$KBUILD"
	step "modules for Debian's kernel (clippy, warnings are errors)" \
		make -s --no-print-directory modules WERROR=1 CLIPPY=1
else
	step "kernel${WS_EXTRA_FRAGMENT:+ + $WS_EXTRA_FRAGMENT}" scripts/build-kernel.sh
	check_vm_cpus "$KBUILD"
	step "modules (clippy, warnings are errors)" \
		make -s --no-print-directory modules WERROR=1 CLIPPY=1
fi
step "selftests" make -s --no-print-directory selftests

# make help names every target of the Makefile.
help_lists_targets() {
	local help target missing=""
	help=$(make -s --no-print-directory help)
	for target in $(sed -e ':a' -e '/\\$/N' -e 's/\\\n//' -e 'ta' Makefile | sed -n 's/^\.PHONY://p'); do
		grep -qE "^  ([a-z-]+, )*$target[ ,]" <<<"$help" || missing="$missing $target"
	done
	[ -z "$missing" ] || die "make help does not list:$missing"
}

# The compile-fail clients (each case and its twin count) and the API
# reference (one more).
rust_api_checks() {
	local log summary p=0 f=1
	log=$(scripts/compile-fail.sh) || true
	echo "$log"
	summary=$(tail -n1 <<<"$log")
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	fi
	if scripts/rustdoc.sh --check; then
		p=$((p + 1))
	else
		f=$((f + 1))
	fi
	echo "$p $f 0" >"$WS_STEP_COUNTS"
}

doc_clients() {
	step "this tree built as against your own kernel (make KDIR=...)" \
		scripts/doc-clients.sh own-kernel
	cached_step "the documentation's example clients, as its recipes build them" \
		"$doc_client_inputs" scripts/doc-clients.sh clients
}
# This machine's rustc is not the one Debian's kernel was built with:
# preparing a tree for that kernel with it must fail at once, before
# anything is written, saying which rustc to install.
toolchain_mismatch_fails_early() {
	local root=$WS_DEBIAN/root tree log rc=0 start=$SECONDS
	tree=$(mktemp -u)
	if [ "$(rustc --version)" = "$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' \
		"$root/usr/src/linux-headers-$WS_DEBIAN_RELEASE/.config")" ]; then
		echo "  this machine's rustc is the kernel's: nothing to check"
		echo "0 0 1" >"$WS_STEP_COUNTS"
		return
	fi
	log=$(scripts/rust-tree.sh "$root/usr/src/linux-headers-$WS_DEBIAN_RELEASE" \
		"$root/usr/src/linux-source-$WS_DEBIAN_SERIES.tar.xz" \
		"$tree" 2>&1) || rc=$?
	echo "$log" | sed 's/^/  /'
	if [ "$rc" -ne 0 ] && [ ! -e "$tree" ] && [ $((SECONDS - start)) -lt 30 ] &&
		grep -qF "Install rustc $WS_DEBIAN_RUSTC and its rust-src" <<<"$log"; then
		echo "1 0 0" >"$WS_STEP_COUNTS"
	else
		echo "  not the early failure wanted (exit status $rc)"
		echo "0 1 0" >"$WS_STEP_COUNTS"
	fi
}

# On Debian's kernel only what depends on the kernel runs: the checks of
# the sources, the documentation and the harness are make check's. The
# install is DKMS's, in the Debian system; the tests load what it built.
if [ "$WS_KERNEL" = debian ]; then
	step "DKMS: install for Debian's kernel, the documented clients against it" \
		scripts/debian.sh run scripts/doc-clients.sh dkms
	cached_step "a toolchain that is not the kernel's fails early" "scripts/rust-tree.sh tool:rustc" \
		toolchain_mismatch_fails_early
elif [ -z "$only" ]; then
	cached_step "rustfmt" "$rustfmt_inputs" scripts/rustfmt.sh --check
	cached_step "documentation (docutils)" "$docs_inputs" scripts/check-docs.py
	cached_step "make help lists every target" "$help_inputs" help_lists_targets
	doc_clients
	cached_step "the safe Rust API: compile-fail clients, rustdoc" "$rust_api_inputs" \
		rust_api_checks
	# Alongside the rest: it needs no build output, and it is long.
	cached_step_bg "rust-analyzer: no unresolved name in the project" "$editor_inputs" \
		scripts/doc-clients.sh editor
elif [ "$only" = world_storage/doc_clients ] || [ "$only" = doc_clients ]; then
	# That test loads the clients.
	doc_clients
fi
if [ "$debug" -eq 1 ] && [ -z "$only" ]; then
	# The long stress runs on the plain dev kernel: build it (if missing),
	# its modules and test programs.
	plain_prereqs() {
		WORLD_STORAGE_EXTRA_FRAGMENT= scripts/build-kernel.sh
		WORLD_STORAGE_EXTRA_FRAGMENT= make -s --no-print-directory modules
		WORLD_STORAGE_EXTRA_FRAGMENT= make -s --no-print-directory selftests
	}
	step "plain kernel, modules and selftests (for the long stress)" plain_prereqs
fi

# The modules whose KUnit suites run when the guest loads them
# (scripts/guest/run-tests.sh says which).
kunit_modules=$(sed -n 's/^KUNIT_MODULES="\(.*\)"$/\1/p' scripts/guest/run-tests.sh)
[ -n "$kunit_modules" ] || die "no KUNIT_MODULES in scripts/guest/run-tests.sh"
all_kunit_modules=$kunit_modules
# Debian's kernel has no KUnit: the crate's own suites (Rust, KUnit's
# macros) are not built for it; the C modules' suites run through their
# runner (selftests/ws_kunit.h).
[ "$WS_KERNEL" != debian ] || kunit_modules=${kunit_modules/world_storage_kunit/}

# A C file with KUnit suites includes KUnit or its stand-in for a kernel
# without KUnit (selftests/ws_kunit.h).
kunit_include='^#include (<kunit/test\.h>|"(\.\./)*ws_kunit\.h")'

# suites_of FILE...: the KUnit suites declared in these files.
suites_of() {
	{ grep -hoE 'kunit_tests\([a-z0-9_]+\)' "$@" 2>/dev/null || true; } |
		sed -E 's/.*\((.*)\)/\1/'
	{ grep -lE "$kunit_include" "$@" 2>/dev/null || true; } |
		xargs -r sed -nE 's/^\t\.name = "([a-z0-9_]+)",$/\1/p'
}

# unit_suites UNIT: the suites a unit of the guest (ws.run=) reports, as
# kind/name: a KUnit module's suites (the crate's, from rust/; a C
# module's, from its source file), or the kselftest itself.
unit_suites() {
	local unit=$1 module
	case "$unit" in
	kunit/world_storage_kunit)
		suites_of $(grep -rlE 'kunit_tests' rust) | sed 's|^|kunit/|'
		;;
	kunit/*)
		module=${unit#kunit/}
		suites_of $(find samples selftests bench -name "$module.c" -o -name "$module.rs") |
			sed 's|^|kunit/|'
		;;
	*) echo "kselftest/$unit" ;;
	esac
}

# The units of the guest: the KUnit modules, then every kselftest.
all_units() {
	local m target
	for m in $kunit_modules; do echo "kunit/$m"; done
	for target in world_storage harness; do
		sed "s|^|$target/|" "$OUT/selftests/$target/tests"
	done
}

# The suites every test boot reports, whatever units it runs: those of the
# modules the guest always loads (the harness's), and whether the VM has
# the CPUs it was given (reported by the guest's init).
base_suites() {
	local all unit
	all=$({
		grep -rhoE 'kunit_tests\([a-z0-9_]+\)' rust samples selftests 2>/dev/null |
			sed -E 's/kunit_tests\((.*)\)/kunit\/\1/'
		grep -rlE "$kunit_include" rust samples selftests 2>/dev/null |
			xargs -r sed -nE 's/^\t\.name = "([a-z0-9_]+)",$/kunit\/\1/p'
	} | sort -u)
	for unit in $all_kunit_modules; do
		all=$(grep -vxF -f <(unit_suites "kunit/$unit") <<<"$all" || true)
	done
	[ -z "$all" ] || echo "$all"
	echo kselftest/harness/cpus
	echo kselftest/harness/taint
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

# with_vm_slot CMD...: run CMD while holding one of the $CHECK_VMS VM slots
# (waiting for one), so that no more VMs than that run at once.
with_vm_slot() {
	local slot slot_fd rc=0
	mkdir -p "$OUT/vm"
	while :; do
		for slot in $(seq 1 "$CHECK_VMS"); do
			exec {slot_fd}>"$OUT/vm/slot-$slot.lock"
			if flock -n "$slot_fd"; then
				"$@" || rc=$?
				exec {slot_fd}>&-
				return "$rc"
			fi
			exec {slot_fd}>&-
		done
		sleep 0.5
	done
}

# run_vm NAME APPEND TIMEOUT EXPECT...: boot, run the tests, summarise.
# Writes the summariser's output to $OUT/vm/NAME/summary and returns its
# exit status; the VM's logs are in $OUT/vm/NAME. $vm_fragment (default:
# this run's) chooses the kernel.
#
# The debug kernel boots without RCU callback offloading (--no-rcu-offload),
# so its lazy RCU callbacks are not lazy: with every CPU offloaded, kmemleak
# reported hundreds of "new suspected memory leaks" of the kernel's own
# objects freed by call_rcu() (creds, task_exec_state of the tests' short
# lived children), none of world storage's, while the same run without
# offloading was clean (not root-caused: a kmemleak scan racing callbacks
# parked on the lazy lists is the likely reading). Lazy callbacks are tested
# where they matter, on the dev kernel (make check, and check-debug's long
# stress run), which offloads every CPU; what this leaves out is a KASAN and
# lockdep view of the offloaded callback path.
vm_fragment=$WS_EXTRA_FRAGMENT
run_vm() {
	local name=$1 append=$2 timeout=$3 vmrc=0 args=() out rc=0 why summary vm_log
	local offload=()
	shift 3
	[ "$debug" -eq 0 ] || [ -z "$vm_fragment" ] || offload=(--no-rcu-offload)
	out=$(WORLD_STORAGE_EXTRA_FRAGMENT=$vm_fragment scripts/paths.sh out)
	vm_log=$out/vm/$name
	# No stale results if vm.sh fails before it boots.
	rm -f "$vm_log/results.log" "$vm_log/console.log" "$vm_log/summary"
	mkdir -p "$vm_log"
	WORLD_STORAGE_EXTRA_FRAGMENT=$vm_fragment scripts/vm.sh --name "$name" "${offload[@]}" \
		--script scripts/guest/run-tests.sh --quiet \
		--append "$hang_args $append" --timeout "$timeout" 2>"$out/vm-$name.stderr" ||
		vmrc=$?
	for s in "$@"; do args+=(--expect "$s"); done
	summary=$(scripts/ktap_summary.py --results "$vm_log/results.log" \
		--console "$vm_log/console.log" --vm-status "$vmrc" "${args[@]}") || rc=$?
	# vm.sh's own errors (e.g. a bad WORLD_STORAGE_VM_CPUS) and refusals.
	why=$(grep -E '^error: |refused' "$out/vm-$name.stderr" | sed 's/^/  vm.sh: /' || true)
	[ -z "$why" ] || summary="$why"$'\n'"$summary"
	echo "$summary" >"$vm_log/summary"
	return "$rc"
}

# vm_facts NAME [STRESS]: the guest's CPU count and the stress test's
# totals, from a run's logs.
vm_facts() {
	local vm_log cpus tasks
	vm_log=$(WORLD_STORAGE_EXTRA_FRAGMENT=$vm_fragment scripts/paths.sh out)/vm/$1
	cpus=$(grep -aom1 'smp: Brought up .*' "$vm_log/console.log" 2>/dev/null | tr -d '\r' || true)
	echo "  ${cpus:-no \"smp: Brought up\" line in the console}"
	tasks=$(tr -d '\r' <"$vm_log/results.log" 2>/dev/null |
		sed -n 's/^# \(tasks [0-9]* .*\)/\1/p' | tail -n1 || true)
	[ -z "$tasks" ] || echo "  stress (${2:-}): $tasks"
}

# passed_failed SUMMARY: "P F S" from the summariser's last line.
passed_failed() {
	local p f sk
	read -r p _ f _ sk _ < <(tail -n1 <<<"$1" | tr -d ',')
	echo "${p:-0} ${f:-1} ${sk:-0}"
}

# add_counts "P F S" "P F S": their sum.
add_counts() {
	local a b c x y z
	read -r a b c <<<"$1"
	read -r x y z <<<"$2"
	echo "$((a + x)) $((b + y)) $((c + z))"
}

# unit_seconds: "UNIT CENTISECONDS" for each unit the last full run timed.
unit_seconds() {
	local logs="$OUT/vm/check-[0-9]*/results.log"
	[ "$debug" -eq 0 ] || logs="$OUT/vm/check-debug-[0-9]*/results.log"
	# The debug kernel's first run (CI's, a fresh clone): the plain
	# kernel's times, from the make check before it; their order is the
	# debug kernel's (the longest two are the same two there).
	if ! compgen -G "$logs" >/dev/null && [ "$debug" -eq 1 ]; then
		logs="$(WS_EXTRA_FRAGMENT= out_dir)/vm/check-[0-9]*/results.log"
	fi
	# shellcheck disable=SC2086 # $logs is a glob
	cat $logs 2>/dev/null |
		tr -d '\r' | sed -n 's/^WS-UNIT-TIME \([^ ]*\) \([0-9]*\)$/\1 \2/p' || true
}

# split_units N UNIT...: the units in N parts of about equal time, from the
# last run's times (an untimed unit counts 5 s): the longest first, each
# into the part with the least so far. Prints one line per part, units
# separated by commas, in the order given.
split_units() {
	local n=$1 unit t i best
	shift
	local -A cs=() part=()
	local -a load=()
	while read -r unit t; do cs[$unit]=$t; done < <(unit_seconds)
	for i in $(seq 1 "$n"); do load[i]=0; done
	while read -r t unit; do
		best=1
		for i in $(seq 2 "$n"); do [ "${load[i]}" -ge "${load[best]}" ] || best=$i; done
		load[best]=$((load[best] + t)) part[$unit]=$best
	done < <(for unit in "$@"; do echo "${cs[$unit]:-500} $unit"; done | sort -k1,1nr -k2,2)
	for i in $(seq 1 "$n"); do
		local line=""
		for unit in "$@"; do
			[ "${part[$unit]}" != "$i" ] || line="$line${line:+,}$unit"
		done
		echo "$line"
	done
}

# run_part NAME UNITS TIMEOUT APPEND: one boot of the tests that runs the
# units (comma-separated; empty: every one), expecting their suites, and
# the suites every boot reports with BASE=1 (the default), else only the
# CPU check.
run_part() {
	local name=$1 units=$2 timeout=$3 append=$4 unit expect=()
	if [ "${BASE:-1}" -eq 1 ]; then mapfile -t expect < <(base_suites); else expect=(kselftest/harness/cpus); fi
	for unit in $(if [ -n "$units" ]; then echo "${units//,/ }"; else all_units; fi); do
		mapfile -t -O "${#expect[@]}" expect < <(unit_suites "$unit")
	done
	with_vm_slot run_vm "$name" "$append${units:+ ws.run=$units}" "$timeout" "${expect[@]}" || true
}

tests_in_vm() {
	local start=$SECONDS units=() parts=() i name n counts="0 0 0"
	mapfile -t units < <(all_units)
	local stress_seconds=${STRESS%%x*} append timeout
	append="ws.suite_seconds=$suite_seconds ${STRESS:+ws.stress=$STRESS}"
	timeout=$((vm_seconds + ${stress_seconds:-5}))
	if [ "$CHECK_VMS" -eq 1 ]; then
		parts=("")
	else
		mapfile -t parts < <(split_units "$CHECK_VMS" "${units[@]}")
	fi
	n=${#parts[@]}
	# The suites every boot reports count in the first one only.
	for i in "${!parts[@]}"; do
		name="check$([ "$debug" -eq 0 ] || echo -debug)-$((i + 1))"
		BASE=$([ "$i" -eq 0 ] && echo 1 || echo 0) \
			run_part "$name" "${parts[i]}" "$timeout" "$append" &
	done
	wait
	for i in "${!parts[@]}"; do
		name="check$([ "$debug" -eq 0 ] || echo -debug)-$((i + 1))"
		[ "$n" -eq 1 ] || echo "  VM $((i + 1)) of $n: ${parts[i]//,/ }"
		cat "$OUT/vm/$name/summary"
		vm_facts "$name" "${STRESS:-5x1000 (default)}"
		counts=$(add_counts "$counts" "$(passed_failed "$(cat "$OUT/vm/$name/summary")")")
	done
	echo "  VMs: $((SECONDS - start)) s"
	echo "$counts" >"$WS_STEP_COUNTS"
}

# make check T=<suite>: the unit that runs it, in one boot.
one_suite() {
	local start=$SECONDS unit="" filter="" m u expect=() stress_seconds=${STRESS%%x*}
	for u in $(all_units); do
		case "$u" in
		"$only" | */"$only" | "kunit/$only") unit=$u ;;
		esac
	done
	if [ -z "$unit" ]; then
		# A KUnit suite: its module's unit, only that suite (KUnit's filter).
		# (grep without -q: it reads all, no SIGPIPE under pipefail.)
		for m in $kunit_modules; do
			if unit_suites "kunit/$m" | grep -xF "kunit/$only" >/dev/null; then
				unit=kunit/$m
			fi
		done
		base_suites | grep -xF "kunit/$only" >/dev/null || [ -n "$unit" ] ||
			die "T=$only: no such suite; the kselftests and KUnit modules:"$'\n'"$(all_units | sed 's/^/  /')"
		filter="kunit.filter_glob=$only"
		expect=("kunit/$only" kselftest/harness/cpus)
	else
		mapfile -t expect < <(unit_suites "$unit")
		expect+=(kselftest/harness/cpus)
	fi
	with_vm_slot run_vm check-only "ws.suite_seconds=$suite_seconds ${STRESS:+ws.stress=$STRESS} \
$filter ws.run=${unit:-none}" "$((vm_seconds + ${stress_seconds:-5}))" "${expect[@]}" || true
	cat "$OUT/vm/check-only/summary"
	vm_facts check-only "${STRESS:-5x1000 (default)}"
	echo "  VM: $((SECONDS - start)) s"
	passed_failed "$(cat "$OUT/vm/check-only/summary")" >"$WS_STEP_COUNTS"
}

# make check-debug: only the stress test, on the plain dev kernel, with at
# least the minimum number of tasks. A second boot: the debug kernel is
# several times too slow per task for it.
long_stress() {
	local seconds=${LONG_STRESS%%x*} start=$SECONDS vm_fragment="" summary
	BASE=0 run_part check-long-stress world_storage/stress $((seconds + 900)) \
		"ws.only=stress ws.stress=$LONG_STRESS"
	summary=$(WORLD_STORAGE_EXTRA_FRAGMENT= scripts/paths.sh out)/vm/check-long-stress/summary
	cat "$summary"
	vm_facts check-long-stress "$LONG_STRESS"
	echo "  VM: $((SECONDS - start)) s"
	passed_failed "$(cat "$summary")" >"$WS_STEP_COUNTS"
}

# Each planted failure must make the summariser fail, for the right reason.
# "cpus" tells the guest it was given one CPU more than it has. The boots
# share the VM slots.
harness_plants=(
	"kunit-fail|ws.plant=kunit-fail|suite kunit ws_harness: 1 failed"
	"ktap-fail|ws.plant=ktap-fail|suite kselftest harness/ktap_harness: 1 failed"
	"warn|ws.plant=warn|kernel splat"
	"missing|ws.plant=missing|suite kunit ws_harness: expected, produced no result"
	"hang|ws.plant=hang|VM timed out"
	"cpus|ws.cpus=$((WS_VM_CPUS + 1))|suite kselftest harness/cpus: 2 failed"
)
harness_boot() {
	local plant=$1 append=$2 timeout=300
	[ "$plant" != hang ] || timeout=15
	with_vm_slot run_vm "harness-$plant" "ws.only=harness $append" "$timeout" \
		kunit/ws_harness kselftest/harness/ktap_harness kselftest/harness/cpus
}
harness_tests() {
	local entry plant append reason n=0 passed=0 failed=0
	declare -A rcs=()
	for entry in "${harness_plants[@]}"; do
		IFS='|' read -r plant append _ <<<"$entry"
		harness_boot "$plant" "$append" &
		rcs[$plant]=$!
	done
	echo "KTAP version 1"
	echo "1..${#harness_plants[@]}"
	for entry in "${harness_plants[@]}"; do
		IFS='|' read -r plant _ reason <<<"$entry"
		n=$((n + 1))
		if ! wait "${rcs[$plant]}" &&
			grep -qF "$reason" "$OUT/vm/harness-$plant/summary"; then
			echo "ok $n harness_detects_$plant"
			passed=$((passed + 1))
		else
			echo "not ok $n harness_detects_$plant (wanted: $reason)"
			sed 's/^/# /' "$OUT/vm/harness-$plant/summary"
			failed=$((failed + 1))
		fi
	done
	echo "$passed $failed 0" >"$WS_STEP_COUNTS"
}

# The VM steps, at once: they share the VM slots. Each one's output is
# shown when it is done.
if [ -n "$only" ]; then
	WS_CHECK_CACHE=0 cached_step "tests in the VM: $only" "" one_suite
else
	cached_step_bg "tests in the VM$([ "$debug" -eq 0 ] || echo " (debug kernel)")" \
		"$vm_inputs" tests_in_vm
	if [ "$debug" -eq 0 ] && [ "$WS_KERNEL" != debian ]; then
		cached_step_bg "harness self-tests" "$harness_inputs" harness_tests
	fi
fi
steps_wait
# (Steps are never called in an `&&` or `||` list: bash would ignore set -e
# in them.)
if [ "$debug" -eq 1 ] && [ -z "$only" ]; then
	cached_step "long stress on the plain kernel ($LONG_STRESS)" "" long_stress
fi

read -r p f sk < <(steps_total)
[ "$sk" -eq 0 ] || echo "$sk skipped"
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
