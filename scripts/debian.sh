#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian's own kernel (make KERNEL=debian): everything needed to build the
# modules for it and boot it, in $WS_DEBIAN (scripts/lib.sh has the
# settings: the release, the suites, the toolchain).
#
#   debian.sh setup     a Debian system of the toolchain suite in root/
#                       (debootstrap): the rustc, rust-src, bindgen and
#                       gcc-N the kernel was built with, pahole and openssl
#                       (they set config options), dkms, and the kernel's
#                       headers and source from the kernel suite, installed
#                       as a Debian user installs them; the kernel image,
#                       unpacked into image/
#   debian.sh kernel    the build tree with Rust in kbuild/
#                       (scripts/rust-tree.sh, run in root/)
#   debian.sh run CMD   run CMD in root/, with the checkout and the cache at
#                       their own paths (how make builds the modules)
#
# This machine's own rustc cannot build them: a module links to the
# kernel's Rust symbols only if built by the very rustc that built the
# kernel (rust-tree.sh says why), and that one is Debian's, built for
# Debian's own C library. So the builds run in root/, with chroot (as
# root). Downloads come from the mirror the system's apt
# configuration names; nothing of the system's is changed.

export WORLD_STORAGE_KERNEL=debian
. "$(dirname "$0")/lib.sh"

# debootstrap, chroot and mounts: root only (the builds' output in the
# cache is then root's too).
[ "$(id -u)" -eq 0 ] || die "$0 (KERNEL=debian) runs as root: it makes and enters a Debian system"

ROOT=$WS_DEBIAN/root
IMAGE=$WS_DEBIAN/image

# The packages of root/, as a Debian user installs them to build Rust
# modules for the kernel: its toolchain (gcc-N, rustc, rust-src, bindgen;
# clippy and rustfmt, as make check builds), what sets config options
# (pahole, openssl), what kbuild runs, and dkms.
ROOT_PACKAGES="rustc rust-src bindgen rust-clippy rustfmt gcc-$WS_DEBIAN_GCC gcc make bc flex
bison libelf-dev libssl-dev openssl dwarves python3 kmod cpio xz-utils dkms"

# What root/ is made of; a change makes a new one.
root_key() {
	echo "packages=$(echo $ROOT_PACKAGES)"
	echo "toolchain=$WS_DEBIAN_TOOLCHAIN_SUITE kernel=$WS_DEBIAN_KERNEL_SUITE" \
		"release=$WS_DEBIAN_RELEASE rustc=$WS_DEBIAN_RUSTC bindgen=$WS_DEBIAN_BINDGEN" \
		"gcc=$WS_DEBIAN_GCC"
}

# run CMD...: CMD in root/, in a mount namespace of its own where /proc,
# /dev, the checkout and the cache are mounted at their own paths, with
# the project's settings (WORLD_STORAGE_*) and make's flags, in the
# directory it was given in (or /, if that is not mounted there).
run() {
	[ -f "$ROOT/.ready" ] || [ -n "${SETTING_UP:-}" ] || die "no Debian root in $ROOT: run $0 setup"
	local envs=(PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8) v
	# make's jobs, without a jobserver named by a path of this system's (a
	# fifo in /tmp, from make 4.4 on): make in the root then runs its own.
	[ -z "${MAKEFLAGS:-}" ] ||
		envs+=("MAKEFLAGS=$(sed 's/--jobserver-auth=fifo:[^ ]*//' <<<"$MAKEFLAGS")")
	while IFS= read -r v; do
		envs+=("$v")
	done < <(env | grep -E '^WORLD_STORAGE_[A-Z_]+=' || true)
	unshare --mount --propagation private bash -c '
		set -e
		root=$1 top=$2 cache=$3 dir=$4 n=$5
		shift 5
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		for p in "$top" "$cache"; do
			mkdir -p "$root$p"
			mount --bind "$p" "$root$p"
		done
		exec chroot "$root" env -i "${@:1:n}" \
			sh -c '"'"'cd "$0" 2>/dev/null || cd /; exec "$@"'"'"' "$dir" "${@:n+1}"' \
		_ "$ROOT" "$WS_TOP" "$WS_CACHE" "$PWD" "${#envs[@]}" "${envs[@]}" "$@"
}

# The packages, at the versions the kernel was built with: the toolchain's
# are checked by upstream version (Debian revisions of one upstream version
# build the same), the kernel's are the release's.
setup_root() {
	local tmp=$ROOT.tmp mirror
	if [ -f "$ROOT/.ready" ] && [ "$(cat "$ROOT/.ready")" = "$(root_key)" ]; then
		echo "Debian root: $(tail -n1 "$ROOT/.ready")"
		return
	fi
	mirror=$(debian_mirror)
	command -v debootstrap >/dev/null || {
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
	}
	rm -rf "$tmp" "$ROOT"
	mkdir -p "$tmp"
	echo "==> debootstrap $WS_DEBIAN_TOOLCHAIN_SUITE into $ROOT"
	debootstrap --variant=minbase \
		--include="$(echo $ROOT_PACKAGES | tr ' ' ,)" \
		"$WS_DEBIAN_TOOLCHAIN_SUITE" "$tmp" "$mirror" >"$WS_DEBIAN/debootstrap.log" 2>&1 ||
		die "debootstrap failed: see $WS_DEBIAN/debootstrap.log"
	echo "deb $mirror $WS_DEBIAN_KERNEL_SUITE main" >"$tmp/etc/apt/sources.list.d/kernel.list"
	cp /etc/resolv.conf "$tmp/etc/resolv.conf"
	mv "$tmp" "$ROOT"
	local SETTING_UP=1
	# The kernel's headers and source, as a Debian user installs them.
	run apt-get update -qq
	if [ -z "$(run apt-cache madison "linux-headers-$WS_DEBIAN_RELEASE")" ]; then
		die "$WS_DEBIAN_KERNEL_SUITE has no kernel $WS_DEBIAN_RELEASE; it has:
$(run apt-cache search --names-only '^linux-headers-[0-9.]+\+deb[0-9]+-amd64$' |
			awk '{print "  " substr($1, 15)}')
  Choose one with WORLD_STORAGE_DEBIAN_RELEASE=<release>."
	fi
	run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"linux-headers-$WS_DEBIAN_RELEASE" "linux-source-$WS_DEBIAN_SERIES" \
		>"$WS_DEBIAN/apt.log" 2>&1 || die "apt in the Debian root failed: see $WS_DEBIAN/apt.log"
	check_toolchain
	root_key >"$ROOT/.ready"
}

# The root's toolchain against the settings (rust-tree.sh checks it
# against the kernel's .config).
check_toolchain() {
	local rustc bindgen
	rustc=$(run rustc --version | awk '{print $2}')
	bindgen=$(run bindgen --version | awk '{print $2}')
	[ "$rustc" = "$WS_DEBIAN_RUSTC" ] ||
		die "$WS_DEBIAN_TOOLCHAIN_SUITE has rustc $rustc, not $WS_DEBIAN_RUSTC
  (WORLD_STORAGE_DEBIAN_TOOLCHAIN_SUITE / WORLD_STORAGE_DEBIAN_RUSTC)"
	[ "$bindgen" = "$WS_DEBIAN_BINDGEN" ] ||
		die "$WS_DEBIAN_TOOLCHAIN_SUITE has bindgen $bindgen, not $WS_DEBIAN_BINDGEN
  (WORLD_STORAGE_DEBIAN_BINDGEN)"
}

# The kernel image, from the package that carries it, unpacked.
setup_image() {
	local version deb
	# The image of the headers' package version.
	version=$(run dpkg-query -W -f='${Version}' "linux-headers-$WS_DEBIAN_RELEASE")
	if [ "$(cat "$IMAGE/VERSION" 2>/dev/null)" = "linux-binary-$WS_DEBIAN_RELEASE $version" ] &&
		[ -f "$(kernel_image)" ]; then
		echo "Debian kernel image: $(cat "$IMAGE/VERSION")"
		return
	fi
	rm -rf "$IMAGE" "$WS_DEBIAN/downloads"
	mkdir -p "$WS_DEBIAN/downloads"
	(cd "$WS_DEBIAN/downloads" && run apt-get -o APT::Sandbox::User=root download -qq "linux-binary-$WS_DEBIAN_RELEASE=$version")
	deb=$(ls "$WS_DEBIAN/downloads"/linux-binary-*.deb)
	dpkg-deb -x "$deb" "$IMAGE"
	echo "linux-binary-$WS_DEBIAN_RELEASE $version" >"$IMAGE/VERSION"
	rm -rf "$WS_DEBIAN/downloads"
	[ -f "$(kernel_image)" ] || die "linux-binary-$WS_DEBIAN_RELEASE has no $(kernel_image)"
	echo "Debian kernel image: $(cat "$IMAGE/VERSION")"
}

# The source tarball of the kernel's series, as linux-source-<series> installs it.
kernel() {
	run "$WS_TOP/scripts/rust-tree.sh" "/usr/src/linux-headers-$WS_DEBIAN_RELEASE" \
		"/usr/src/linux-source-$WS_DEBIAN_SERIES.tar.xz" "$(kernel_build_dir)"
}

case "${1:-}" in
setup)
	setup_root
	setup_image
	;;
kernel) kernel ;;
run)
	shift
	run "$@"
	;;
*) die "usage: $0 setup | kernel | run CMD..." ;;
esac
