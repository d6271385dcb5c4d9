#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest: does the VM have the CPUs the host gave it? scripts/vm.sh
# passes the count as ws.cpus=N on the kernel command line (the last
# ws.cpus= counts). Prints KTAP on stdout (the suite kselftest harness/cpus)
# and, when something is wrong, one line on stderr; exits 0 when the guest
# has exactly N CPUs (nproc and /sys/devices/system/cpu/online) and N >= 2,
# 1 otherwise.

want=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^ws\.cpus=//p' | tail -n1)
have=$(nproc)
online=$(cat /sys/devices/system/cpu/online 2>/dev/null)
# "0-1,3" -> 3
online_count=$(echo "$online" | tr ',' '\n' |
	awk -F- 'NF == 2 { n += $2 - $1 + 1; next } $1 != "" { n++ } END { print n + 0 }')

pass=0 fail=0 n=0
result() { # OK NAME COMMENT
	n=$((n + 1))
	echo "# $3"
	if [ "$1" -eq 1 ]; then
		echo "ok $n $2"
		pass=$((pass + 1))
	else
		echo "not ok $n $2"
		fail=$((fail + 1))
	fi
}
is_num() { case "$1" in '' | *[!0-9]*) return 1 ;; esac; }

echo "KTAP version 1"
echo "1..3"
ok=0
is_num "$want" && [ "$want" -ge 2 ] && ok=1
result $ok given_at_least_2_cpus "ws.cpus=${want:-<missing>}"
ok=0
is_num "$want" && [ "$have" = "$want" ] && ok=1
result $ok nproc_equals_given "nproc $have, given ${want:-<missing>}"
ok=0
is_num "$want" && [ "$online_count" = "$want" ] && ok=1
result $ok online_cpus_equal_given "/sys/devices/system/cpu/online ${online:-<missing>} ($online_count), given ${want:-<missing>}"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"

if [ "$fail" -ne 0 ]; then
	echo "ws: wrong CPU count: given ws.cpus=${want:-<missing>} (must be at least 2)," \
		"the guest has nproc $have, online ${online:-<missing>}" >&2
	exit 1
fi
exit 0
