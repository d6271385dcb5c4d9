#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: on the benchmark kernel (.config.bench.fragment: configured
# like a distribution's), two boots of the same guest benchmark, a normal
# TCG boot (ns per op) and an -icount shift=0 boot (instructions per op),
# merged into one table with ratios to the out-of-line floor of the same
# boot; then each goal of the performance issue with its measured value,
# ratio and met/missed. Both tables are also written to
# $OUT/bench/results-<time>.txt.

. "$(dirname "$0")/lib.sh"
cd "$WS_TOP"

export WORLD_STORAGE_EXTRA_FRAGMENT=.config.bench.fragment
WS_EXTRA_FRAGMENT=$WORLD_STORAGE_EXTRA_FRAGMENT
OUT=$(out_dir)

check_vm_cpus
step "setup" scripts/setup.sh
step "benchmark kernel ($WORLD_STORAGE_EXTRA_FRAGMENT)" scripts/build-kernel.sh
check_vm_cpus "$(kernel_build_dir)"
step "modules" make -s --no-print-directory modules
step "benchmark programs" make -s --no-print-directory -C bench OUTPUT="$OUT/bench" \
	KSFT_DIR="$(kernel_src_dir)/tools/testing/selftests"

boot() {
	local name=$1
	shift
	# 2 GiB: threads-max must allow the 10 000-thread case. No KUnit run
	# at each insmod (distribution kernels have no KUnit): its test threads
	# would take TIDs, and the first remote case needs them below 64.
	scripts/vm.sh --name "$name" --script scripts/guest/run-bench.sh --quiet --mem 2G \
		--append kunit.enable=0 "$@" ||
		die "benchmark boot $name failed: see $OUT/vm/$name/console.log"
	tr -d '\r' <"$OUT/vm/$name/results.log" | sed -n 's/^BENCH //p' >"$OUT/bench/$name.txt"
}

step "benchmark boot (TCG, ns)" boot bench-ns
step "benchmark boot (TCG -icount shift=0, instructions)" boot bench-icount --icount

cases() {
	awk '
	FNR == 1 { file++ }
	# A case measured twice (a remote case at the same depth): the last.
	file == 1 { if (!($1 in ns)) order[++n] = $1; ns[$1] = $2 }
	file == 2 { ins[$1] = $2 }
	END {
		fns = ns["floor_call_current_pid"]; fin = ins["floor_call_current_pid"]
		printf "%-44s %12s %12s %10s\n", "case", "ns/op", "instr/op", "x floor"
		for (i = 1; i <= n; i++) {
			c = order[i]
			ratio = (fin > 0 && c ~ /^(floor|empty|lookup|bare|naive|rust)/ && ins[c] ~ /^[0-9.]+$/) ? sprintf("%.2f", ins[c] / fin) : "-"
			printf "%-44s %12s %12s %10s\n", c, ns[c], ins[c], ratio
		}
	}' "$OUT/bench/bench-ns.txt" "$OUT/bench/bench-icount.txt"
}

# The goals of the performance issue, from the -icount boot (instructions,
# and bytes for memory; the memory figures of both boots are the same
# measurement). A goal is met when the ratio is at most the target.
goals() {
	awk '
	{ v[$1] = $2 }
	function row(goal, value, base, ratio, target) {
		printf "%-58s %10s %-36s %8s %8s  %s\n", goal, value, base,
			sprintf("%.2fx", ratio), "<= " target "x", (ratio <= target + 1e-9) ? "met" : "missed"
	}
	function absent(goal, why) {
		printf "%-58s %s\n", goal, "not measured: " why
	}
	function known(c) { return (c in v) && v[c] ~ /^-?[0-9.]+$/ }
	function bytes(goal, value, limit) {
		printf "%-58s %10s %-36s %8s %8s  %s\n", goal, sprintf("%.1f B", value), "",
			"", "<= " limit " B", (value <= limit) ? "met" : "missed"
	}
	END {
		printf "%-58s %10s %-36s %8s %8s  %s\n", "goal (instructions per op)", "measured", "against", "ratio", "target", ""
		floor = v["floor_call_current_pid"]
		if (known("lookup_local_hit"))
			row("lookup_local hit, exported", v["lookup_local_hit"],
			    "floor (call returning current->pid) " floor, v["lookup_local_hit"] / floor, 3)
		if (known("lookup_local_inlined_hit"))
			row("lookup_local hit, inlined into the client (stretch 1.5x)", v["lookup_local_inlined_hit"],
			    "floor " floor, v["lookup_local_inlined_hit"] / floor, 1.7)
		else
			absent("lookup_local hit, inlined into the client", "no inline fast path in the header")
		a = v["first_lookup_local_after_switch"]; b = v["first_bare_rcu_xa_load_after_switch"]
		if (known("first_lookup_local_after_switch") && b > 0)
			row("first lookup_local after a context switch (depth " v["tid_depth"] ")", a,
			    "bare RCU + xa_load after a switch " b, a / b, 1.2)
		for (d = 1; d <= 3; d++) {
			goal = sprintf("lookup + release by TID, TID depth %d (TID < %d)", d, 64 ^ d)
			if (known("lookup_release_by_tid_depth" d))
				row(goal, v["lookup_release_by_tid_depth" d],
				    "bare remote primitives " v["bare_remote_primitives_depth" d] " (max TID " v["max_tid_depth" d] ")",
				    v["lookup_release_by_tid_depth" d] / v["bare_remote_primitives_depth" d], 1.2)
			else
				absent(goal, "the largest live TID never was below " 64 ^ d)
		}
		if (known("lookup_local_1024_regions") && known("lookup_local_1_regions"))
			row("lookup_local, newest of 1024 regions vs of 1", v["lookup_local_1024_regions"],
			    "1 region " v["lookup_local_1_regions"], v["lookup_local_1024_regions"] / v["lookup_local_1_regions"], 1.05)
		if (known("fork_exit_16_regions") && known("fork_exit_no_module"))
			row("fork+exit, 16 regions x 64 B", v["fork_exit_16_regions"],
			    "without the module " v["fork_exit_no_module"], v["fork_exit_16_regions"] / v["fork_exit_no_module"], 1.05)
		n = split("8 64 4096", sizes, " ")
		for (i = 1; i <= n; i++) {
			s = sizes[i]
			one = v["memory_" s "_1_region_bytes_per_world"]
			sixteen = v["memory_" s "_16_regions_bytes_per_world"]
			if (!known("memory_" s "_1_region_bytes_per_world"))
				continue
			# The bench regions are 8-byte aligned.
			slope = (sixteen - one) / 15
			bytes(sprintf("memory per world per region, %d B objects (1->16 slope)", s), slope, int((s + 7) / 8) * 8 + 16)
			bytes(sprintf("memory per world, fixed part, %d B objects", s), one - slope, 64)
		}
	}' "$OUT/bench/bench-icount.txt"
}

result=$OUT/bench/results-$(date +%Y%m%d-%H%M%S).txt
{
	cases
	echo
	goals
} | tee "$result"
echo "written to $result"
