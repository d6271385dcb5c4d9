#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the dev kernel (or Debian's own, KERNEL=debian) in QEMU with an
# initramfs of busybox, the project's modules, test programs and guest
# scripts, run one thing, and return its exit status.
#
#   vm.sh --name NAME [--interactive | --script FILE | --cmd CMD]
#         [--extra DIR] [--append KERNEL-ARGS] [--timeout SECONDS]
#         [--quiet | --output-only] [--icount] [--mem SIZE] [--no-rcu-offload]
#
# --quiet: print nothing; --output-only: print only what the guest command
# writes (a third serial port, ttyS2), not the boot.
# --icount: QEMU's -icount shift=0 (one instruction per guest ns; TCG only).
# --no-rcu-offload: boot without rcu_nocbs=all (see below).
#
# Every CPU's RCU callbacks are offloaded (rcu_nocbs=all), which is what
# makes the dev kernel's RCU_LAZY take effect: a plain call_rcu() then
# waits up to 10 s for its grace period, as on Debian's kernel booted with
# rcu_nocbs= or nohz_full=, and a test sees whatever waits for such a
# callback. The benchmark boots without it, as Debian does by default.
#
# The VM gets $WORLD_STORAGE_VM_CPUS CPUs (default 2, at least 2), as that
# many one-core sockets: the dev kernel has no ACPI, and the firmware's MP
# table lists one CPU per socket, so `-smp 2` alone boots one CPU. The
# count reaches the guest as ws.cpus=N; the guest checks it (guest/cpus.sh)
# and refuses to run anything but the test run with the wrong count.
#
# The guest's console (ttyS0) is kept in $OUT/vm/NAME/console.log; a second
# serial port (ttyS1, /dev/results in the guest) is a clean channel for test
# results, kept in results.log. The guest command's exit status comes back
# through it. Exit status: the command's, 123 if the guest refused to run it
# (it does not have the CPUs it was given), 124 on timeout, 125 if the guest
# died without reporting one.

. "$(dirname "$0")/lib.sh"

name=vm mode=cmd cmd="" script="" extra="" append="" quiet=0 output_only=0 icount=0 mem=1G
rcu_offload=rcu_nocbs=all
timeout=${WORLD_STORAGE_VM_TIMEOUT:-900}
while [ $# -gt 0 ]; do
	case "$1" in
	--name) name=$2; shift ;;
	--interactive) mode=interactive ;;
	--script) mode=script script=$2; shift ;;
	--cmd) mode=cmd cmd=$2; shift ;;
	--extra) extra=$2; shift ;;
	--append) append=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--quiet) quiet=1 ;;
	--output-only) output_only=1 ;;
	--icount) icount=1 ;;
	--mem) mem=$2; shift ;;
	--no-rcu-offload) rcu_offload="" ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done

[ -z "$extra" ] || [ -d "$extra" ] || die "extra directory $extra is not a directory"

OUT=$(out_dir)
KBUILD=$(kernel_build_dir)
dir=$OUT/vm/$name
root=$dir/root
bzimage=$(kernel_image)
[ -f "$bzimage" ] || die "no kernel at $bzimage: run make"

check_vm_cpus "$KBUILD"
cpus=$WS_VM_CPUS
smp="$cpus,sockets=$cpus,cores=1,threads=1"

# What goes in here is what scripts/check.sh hashes as the VM tests'
# inputs (vm_inputs): keep them in step.
build_initramfs() {
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,modules,selftests,guest}
	cp /bin/busybox "$root/bin/busybox"
	find "$OUT/modules" -name '*.ko' -exec cp {} "$root/modules/" \;
	# The module DKMS installed (make check KERNEL=debian), which the tests
	# then load.
	[ ! -d "$OUT/dkms" ] || cp -r "$OUT/dkms" "$root/modules/dkms"
	[ ! -d "$OUT/selftests" ] || cp -r "$OUT/selftests/." "$root/selftests/"
	[ ! -d "$OUT/bench" ] || cp -r "$OUT/bench" "$root/bench"
	cp "$WS_TOP"/scripts/guest/*.sh "$root/guest/"
	cp "$WS_TOP/scripts/guest/init" "$root/init"
	chmod +x "$root/init"
	case "$mode" in
	interactive) echo interactive >"$root/guest/mode" ;;
	script) cp "$script" "$root/guest/cmd" ;;
	cmd) printf '%s\n' "$cmd" >"$root/guest/cmd" ;;
	esac
	# The test run reports a wrong CPU count as a failed suite and goes on.
	[ "$mode" != script ] || basename "$script" >"$root/guest/cmd-name"
	[ "$output_only" -eq 0 ] || touch "$root/guest/output-only"
	if [ -n "$extra" ]; then
		mkdir -p "$root/extra"
		cp -r "$extra/." "$root/extra/"
	fi
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initramfs.cpio.gz"
}

# KVM only where a probe boot shows it works (it hangs on some hosts).
accel() {
	if [ -n "${WORLD_STORAGE_ACCEL:-}" ]; then
		echo "$WORLD_STORAGE_ACCEL"
		return
	fi
	local probe=$WS_CACHE/accel-probe-$(kernel_key)
	if [ ! -f "$probe" ]; then
		local result=tcg pdir
		if [ -w /dev/kvm ]; then
			pdir=$(mktemp -d)
			mkdir -p "$pdir/root"
			cp /bin/busybox "$pdir/root/busybox"
			printf '#!/busybox sh\n/busybox echo WS-KVM-PROBE-OK\n/busybox reboot -f\n' >"$pdir/root/init"
			chmod +x "$pdir/root/init"
			(cd "$pdir/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$pdir/probe.cpio.gz"
			if timeout 20 qemu-system-x86_64 -accel kvm -cpu host -smp "$smp" -m 512M \
				-kernel "$bzimage" -initrd "$pdir/probe.cpio.gz" \
				-append "console=ttyS0 panic=-1" -display none -serial stdio \
				-no-reboot </dev/null 2>/dev/null | grep -q WS-KVM-PROBE-OK; then
				result=kvm
			fi
			rm -rf "$pdir"
		fi
		echo "$result" >"$probe"
		echo "accelerator probe: $result" >&2
	fi
	cat "$probe"
}

mkdir -p "$dir"
build_initramfs
acc=$(accel)
cpu=()
clock=""
if [ "$acc" = kvm ]; then
	cpu=(-cpu host)
else
	# Under TCG the guest reads the host's TSC, but a tinyconfig kernel has
	# no PIT/HPET to calibrate it against and falls back to 4 ms jiffies.
	# Tell it the host's TSC rate instead.
	khz=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
	# Under -icount shift=0 the TSC counts guest ns: 1 GHz.
	[ "$icount" -eq 0 ] || khz=1000000
	[ -z "$khz" ] || clock="tsc_early_khz=$khz tsc=reliable"
fi
[ "$icount" -eq 0 ] || [ "$acc" = tcg ] || die "--icount needs TCG"
# ws.cpus first: a later ws.cpus= in --append wins (harness self-test).
qemu=(qemu-system-x86_64 -accel "$acc" "${cpu[@]}" -smp "$smp" -m "$mem"
	-kernel "$bzimage" -initrd "$dir/initramfs.cpio.gz"
	-append "console=ttyS0 panic=-1 oops=panic loglevel=7 ws.cpus=$cpus $clock $rcu_offload $append"
	-no-reboot)
[ "$icount" -eq 0 ] || qemu+=(-icount shift=0)
rm -f "$dir/results.log"

if [ "$mode" = interactive ]; then
	"${qemu[@]}" -nographic -serial mon:stdio -serial "file:$dir/results.log"
	exit 0
fi

start=$(date +%s)
set +e
if [ "$quiet" -eq 1 ]; then
	timeout "$timeout" "${qemu[@]}" -display none -serial "file:$dir/console.log" \
		-serial "file:$dir/results.log" </dev/null >/dev/null 2>&1
	qrc=$?
elif [ "$output_only" -eq 1 ]; then
	timeout "$timeout" "${qemu[@]}" -display none -serial "file:$dir/console.log" \
		-serial "file:$dir/results.log" -serial stdio </dev/null 2>"$dir/qemu.stderr" |
		tr -d '\r'
	qrc=${PIPESTATUS[0]}
else
	timeout "$timeout" "${qemu[@]}" -display none -serial stdio \
		-serial "file:$dir/results.log" </dev/null 2>&1 | tee "$dir/console.log"
	qrc=${PIPESTATUS[0]}
fi
set -e
[ "$output_only" -eq 1 ] ||
	echo "vm $name ($acc, $cpus CPUs): $(($(date +%s) - start)) s, log $dir/console.log" >&2
if [ "$qrc" -eq 124 ]; then
	echo "vm $name: timed out after $timeout s" >&2
	exit 124
fi
refused=$(tr -d '\r' <"$dir/results.log" 2>/dev/null | sed -n 's/^WS-REFUSED //p' | tail -n1)
[ -z "$refused" ] || echo "vm $name: the guest refused to run: $refused" >&2
rc=$(sed -n 's/^WS-EXIT \([0-9]*\).*/\1/p' "$dir/results.log" 2>/dev/null | tail -n1)
[ -n "$rc" ] || { echo "vm $name: the guest reported no exit status" >&2; exit 125; }
exit "$rc"
