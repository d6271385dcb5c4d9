#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: two boots of the same guest benchmark, a normal TCG boot
# (ns per op) and an -icount shift=0 boot (instructions per op), merged
# into one table with ratios to the out-of-line floor of the same boot.
# The table is also written to $OUT/bench/results-<time>.txt.

. "$(dirname "$0")/lib.sh"
cd "$WS_TOP"

OUT=$(out_dir)
mkdir -p "$OUT/bench"

boot() {
	local name=$1
	shift
	# 2 GiB: threads-max must allow the 10 000-thread case.
	scripts/vm.sh --name "$name" --script scripts/guest/run-bench.sh --quiet --mem 2G "$@" ||
		die "benchmark boot $name failed: see $OUT/vm/$name/console.log"
	tr -d '\r' <"$OUT/vm/$name/results.log" | sed -n 's/^BENCH //p' >"$OUT/bench/$name.txt"
}

step "benchmark boot (TCG, ns)" boot bench-ns
step "benchmark boot (TCG -icount shift=0, instructions)" boot bench-icount --icount

result=$OUT/bench/results-$(date +%Y%m%d-%H%M%S).txt
awk '
	FNR == 1 { file++ }
	file == 1 { ns[$1] = $2; order[++n] = $1 }
	file == 2 { ins[$1] = $2 }
	END {
		fns = ns["floor_call_current_pid"]; fin = ins["floor_call_current_pid"]
		printf "%-44s %12s %12s %10s\n", "case", "ns/op", "instr/op", "x floor"
		for (i = 1; i <= n; i++) {
			c = order[i]
			ratio = (fin > 0 && c !~ /^(memory|create|destroy|fork|switch)/) ? sprintf("%.2f", ins[c] / fin) : "-"
			printf "%-44s %12s %12s %10s\n", c, ns[c], ins[c], ratio
		}
	}' "$OUT/bench/bench-ns.txt" "$OUT/bench/bench-icount.txt" | tee "$result"
echo "written to $result"
