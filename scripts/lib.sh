# SPDX-License-Identifier: GPL-2.0
#
# Common paths and helpers for the project's scripts. Sourced, never run.
#
# Everything downloaded or built lives under $WORLD_STORAGE_CACHE, outside the
# repository. The kernel build directory is keyed by everything that changes
# the kernel: series, exact source version, fragment, rustc, bindgen, clang.

set -euo pipefail

WS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WS_CACHE=${WORLD_STORAGE_CACHE:-$HOME/.cache/world-storage}
WS_SERIES=${WORLD_STORAGE_KERNEL_SERIES:-7.3}
WS_BINDGEN_VERSION=0.73.2
WS_LLVM_VERSION=19
WS_BACKPORTS_SUITE=${WORLD_STORAGE_SUITE:-trixie-backports}
# The VM's CPU count: at least 2 (check_vm_cpus).
WS_VM_CPUS=${WORLD_STORAGE_VM_CPUS:-2}
# An extra kernel config fragment (the debug kernel), relative to the tree.
WS_EXTRA_FRAGMENT=${WORLD_STORAGE_EXTRA_FRAGMENT:-}

# The kernel the modules are built for and the VM boots (make KERNEL=...):
# "dev", the dev kernel built here from the fragments, or "debian",
# Debian's own kernel image (scripts/debian.sh). Debian's kernel is named by
# its release; its packages come from one suite, the toolchain it was built
# with (its .config names it) from another. The next point release is one
# variable away; a toolchain that does not match fails early.
WS_KERNEL=${WORLD_STORAGE_KERNEL:-dev}
WS_DEBIAN_RELEASE=${WORLD_STORAGE_DEBIAN_RELEASE:-7.3.4+deb13-amd64}
WS_DEBIAN_KERNEL_SUITE=${WORLD_STORAGE_DEBIAN_KERNEL_SUITE:-trixie-backports}
WS_DEBIAN_TOOLCHAIN_SUITE=${WORLD_STORAGE_DEBIAN_TOOLCHAIN_SUITE:-trixie}
WS_DEBIAN_RUSTC=${WORLD_STORAGE_DEBIAN_RUSTC:-1.85.1}
WS_DEBIAN_BINDGEN=${WORLD_STORAGE_DEBIAN_BINDGEN:-0.71.1}
WS_DEBIAN_GCC=${WORLD_STORAGE_DEBIAN_GCC:-14}
# Everything of Debian's kernel in the cache: root/ (a Debian system of
# the toolchain suite, with the kernel's headers and source), image/ (the
# kernel image, unpacked), kbuild/ (the build tree with Rust, prepared by
# scripts/rust-tree.sh).
WS_DEBIAN=$WS_CACHE/debian-$WS_DEBIAN_RELEASE
# Its series: 7.3 of 7.3.4+deb13-amd64 (linux-source-<series>).
WS_DEBIAN_SERIES=$(echo "$WS_DEBIAN_RELEASE" | cut -d. -f1,2)

WS_TOOLS=$WS_CACHE/tools
WS_BINDGEN=$WS_TOOLS/bindgen-$WS_BINDGEN_VERSION/bin/bindgen
WS_APT=$WS_CACHE/apt
WS_DL=$WS_CACHE/downloads

export LIBCLANG_PATH=/usr/lib/llvm-$WS_LLVM_VERSION/lib

mkdir -p "$WS_CACHE"

case "$WS_KERNEL" in
dev | debian) ;;
*) echo "error: KERNEL=$WS_KERNEL: it is dev (the default) or debian" >&2 && exit 1 ;;
esac

# step NAME CMD...: run CMD, announcing it and how long it took.
step() {
	local name=$1 start end
	shift
	echo "==> $name"
	start=$(date +%s)
	"$@"
	end=$(date +%s)
	echo "==> $name: done in $((end - start)) s"
}

die() {
	echo "error: $*" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The Debian mirror the system already uses, read from its apt configuration.
debian_mirror() {
	local uri
	uri=$(grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list |
			awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' |
			grep -E '/debian/?$' | head -n1 || true)
	fi
	[ -n "$uri" ] || die "no Debian mirror found in the system's apt configuration"
	echo "${uri%/}"
}

# check_vm_cpus [KERNEL-BUILD-DIR]: die unless $WS_VM_CPUS is a number >= 2
# (and, given a built kernel, at most its CONFIG_NR_CPUS).
check_vm_cpus() {
	local nr
	case "$WS_VM_CPUS" in
	'' | *[!0-9]*) die "WORLD_STORAGE_VM_CPUS=$WS_VM_CPUS is not a number" ;;
	esac
	[ "$WS_VM_CPUS" -ge 2 ] || die "WORLD_STORAGE_VM_CPUS=$WS_VM_CPUS: the VM needs at least 2 CPUs"
	[ -n "${1:-}" ] && [ -f "$1/.config" ] || return 0
	nr=$(sed -n 's/^CONFIG_NR_CPUS=//p' "$1/.config")
	[ -z "$nr" ] || [ "$WS_VM_CPUS" -le "$nr" ] ||
		die "WORLD_STORAGE_VM_CPUS=$WS_VM_CPUS: the kernel has CONFIG_NR_CPUS=$nr"
}

# The rustc version string, e.g. "1.95.0".
rustc_version() {
	rustc --version | awk '{print $2}'
}

# The directory holding the unpacked Rust standard library source.
rust_src_dir() {
	echo "$WS_CACHE/rust-src-$(rustc_version)/usr/lib/rustlib/src/rust/library"
}

# The directory holding the unpacked kernel source of $WS_SERIES.
kernel_src_dir() {
	echo "$WS_CACHE/linux-source-$WS_SERIES/linux-source-$WS_SERIES"
}

# The key of a kernel build: any change to an input gives a new directory.
# $1 is the name of an optional extra fragment (the debug kernel). The key
# must not depend on what setup has fetched yet (the Makefile computes it
# before setup runs): the series pins the source, whose exact Debian version
# is recorded in the source directory's VERSION file.
kernel_key() {
	local extra=${1:-$WS_EXTRA_FRAGMENT}
	if [ "$WS_KERNEL" = debian ]; then
		echo "debian-$WS_DEBIAN_RELEASE"
		return
	fi
	{
		echo "series=$WS_SERIES"
		cat "$WS_TOP/.config.fragment"
		[ -z "$extra" ] || cat "$WS_TOP/$extra"
		rustc --version
		echo "bindgen=$WS_BINDGEN_VERSION llvm=$WS_LLVM_VERSION"
	} | sha256sum | cut -c1-16
}

kernel_build_dir() {
	if [ "$WS_KERNEL" = debian ]; then
		echo "$WS_DEBIAN/kbuild"
	else
		echo "$WS_CACHE/kernel-$WS_SERIES-$(kernel_key "${1:-$WS_EXTRA_FRAGMENT}")"
	fi
}

# The kernel image the VM boots.
kernel_image() {
	if [ "$WS_KERNEL" = debian ]; then
		echo "$WS_DEBIAN/image/usr/lib/modules/$WS_DEBIAN_RELEASE/vmlinuz"
	else
		echo "$(kernel_build_dir "$@")/arch/x86/boot/bzImage"
	fi
}

# The kernel the modules are built against: $KDIR (your own, as with
# `make KDIR=...`), else the cached dev kernel.
kdir() {
	if [ -n "${KDIR:-}" ]; then
		(cd "$KDIR" 2>/dev/null && pwd) || die "KDIR=$KDIR is not a directory"
	else
		kernel_build_dir
	fi
}

# Arguments every kernel and module make needs: $KMAKE_ARGS if set; for
# your own kernel (KDIR), nothing else (it was built with a toolchain of
# yours: say which in KMAKE_ARGS, e.g. KMAKE_ARGS=LLVM=1); for the dev
# kernel, the cached toolchain.
kmake_args() {
	if [ -n "${KMAKE_ARGS+set}" ]; then
		echo "$KMAKE_ARGS"
	elif [ "$WS_KERNEL" = debian ]; then
		# None: the tree has Debian's (scripts/rust-tree.sh).
		:
	elif [ -z "${KDIR:-}" ]; then
		echo "LLVM=-$WS_LLVM_VERSION BINDGEN=$WS_BINDGEN RUST_LIB_SRC=$(rust_src_dir)"
	fi
}

# This checkout's build outputs: modules, test programs, initramfs, logs.
# Keyed by the checkout's path and the kernel (the dev kernel's key, or
# your own kernel's path with KDIR), so clones and kernels do not collide.
out_dir() {
	if [ -n "${KDIR:-}" ]; then
		kdir_out_dir "$(kdir)"
	else
		echo "$WS_CACHE/out/$(checkout_tag)-$(kernel_key "${1:-$WS_EXTRA_FRAGMENT}")"
	fi
}

# What names this checkout in its output directories.
checkout_tag() {
	echo "$WS_TOP" | sha256sum | cut -c1-8
}

# The output directory of this checkout built against the kernel tree DIR
# (a path as kdir prints it), which need not exist yet.
kdir_out_dir() {
	echo "$WS_CACHE/out/$(checkout_tag)-kdir-$(echo "$1" | sha256sum | cut -c1-8)"
}
