#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A kernel build tree that Rust modules can be built against, prepared from
# a distribution kernel's headers and its source.
#
#   rust-tree.sh HEADERS SOURCE OUT
#
# HEADERS: the kernel's headers, as its headers package installs them
# (/lib/modules/<release>/build): its .config, Module.symvers and release.
# SOURCE: the same kernel's source, a directory or a tarball (Debian's
# linux-source-<series> package: /usr/src/linux-source-<series>.tar.xz).
# OUT: the tree to write (a tarball is unpacked into OUT/source).
#
# Debian's headers package has no Rust artefacts (no rust/ directory, no
# .rmeta, no target spec), so `make -C HEADERS M=...` cannot build a Rust
# module. This rebuilds them, configured exactly as the kernel was, with the
# toolchain it was built with: the kernel crate's symbols carry a hash of
# the rustc that built it, and a module links to the kernel's own ones only
# if that hash is the same. So, before anything is built:
#  - rustc, bindgen and the C compiler must be the ones the kernel's .config
#    names (CONFIG_RUSTC_VERSION_TEXT, CONFIG_BINDGEN_VERSION_TEXT,
#    CONFIG_GCC_VERSION), and the source the kernel's version;
#  - the source configured with the kernel's .config must give that .config
#    back, option for option (a missing tool, pahole or openssl, changes
#    options that change structure layouts);
# and after: every Rust symbol the rebuilt kernel crate exports must be in
# the kernel's Module.symvers. Each check fails with what to install.
#
# Run it with the kernel's toolchain on PATH, as root or as any user that
# can write OUT. The kernel's make arguments (ARCH=, CROSS_COMPILE=, CC=)
# come from HEADERS/.kernelvariables where Debian puts them, else from
# $KMAKE_ARGS (they must then be given to each module build too). It does
# nothing if OUT was prepared from the same inputs.

set -euo pipefail

die() {
	echo "error: $*" >&2
	exit 1
}

[ $# -eq 3 ] || die "usage: $0 HEADERS SOURCE OUT"
headers=$(cd "$1" && pwd) || die "no headers directory $1"
source=$2
out=$3

config=$headers/.config
[ -f "$config" ] && [ -f "$headers/Module.symvers" ] && [ -f "$headers/include/config/kernel.release" ] ||
	die "$headers is not a kernel's headers (no .config, Module.symvers or include/config/kernel.release)"
release=$(cat "$headers/include/config/kernel.release")
grep -qx 'CONFIG_RUST=y' "$config" || die "kernel $release is built without Rust (CONFIG_RUST)"

# The kernel's make arguments. Debian's are in the headers'
# .kernelvariables (ARCH, the compiler, the release), which Debian's top
# Makefile reads from the build tree: copied there, they hold for every
# module built against OUT too.
kmake=()
read -r -a kmake <<<"${KMAKE_ARGS:-}"
cc_cmd=gcc
if [ -f "$headers/.kernelvariables" ]; then
	cross=$(sed -n 's/^override CROSS_COMPILE = //p' "$headers/.kernelvariables")
	cc=$(sed -n 's/^CC = .*)\(gcc.*\)$/\1/p' "$headers/.kernelvariables")
	cc_cmd=$cross${cc:-gcc}
else
	kmake+=(KERNELRELEASE="$release")
fi
for a in "${kmake[@]}"; do
	case "$a" in CC=*) cc_cmd=${a#CC=} ;; esac
done

config_value() {
	sed -n "s/^$1=\"\\{0,1\\}\\([^\"]*\\)\"\\{0,1\\}$/\\1/p" "$config"
}

# The toolchain, against what the kernel was built with.
want_rustc=$(config_value CONFIG_RUSTC_VERSION_TEXT)
want_bindgen=$(config_value CONFIG_BINDGEN_VERSION_TEXT)
want_gcc=$(config_value CONFIG_GCC_VERSION)
have_rustc=$(rustc --version 2>/dev/null || echo "no rustc")
have_bindgen=$(bindgen --version 2>/dev/null || echo "no bindgen")
rustc_version=$(echo "$want_rustc" | awk '{print $2}')
[ "$have_rustc" = "$want_rustc" ] ||
	die "kernel $release was built with $want_rustc;
  this rustc is: $have_rustc.
  Install rustc $rustc_version and its rust-src and put them first on PATH (on Debian:
  apt install rustc rust-src, from the suite whose rustc is $rustc_version, not a backports one)."
[ "$have_bindgen" = "$want_bindgen" ] ||
	die "kernel $release was built with $want_bindgen; this bindgen is: $have_bindgen.
  Install that bindgen (on Debian: apt install bindgen) and put it first on PATH."
[ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library/core" ] ||
	die "$want_rustc has no Rust library source: install its rust-src (apt install rust-src)"
have_gcc=$("$cc_cmd" -dumpfullversion 2>/dev/null | awk -F. '{printf "%d%02d%02d", $1, $2, $3}' || true)
[ "$have_gcc" = "$want_gcc" ] ||
	die "kernel $release was built with $(config_value CONFIG_CC_VERSION_TEXT) (CONFIG_GCC_VERSION=$want_gcc);
  $cc_cmd is ${have_gcc:-missing}. Install that compiler (on Debian: apt install gcc-${want_gcc:0:2})."
command -v pahole >/dev/null || ! grep -q '^CONFIG_PAHOLE_VERSION=[1-9]' "$config" ||
	die "kernel $release was configured with pahole: install it (apt install dwarves)"

# What names the source: a directory's path, a tarball's size, time and
# path (dpkg gives each package version's tarball its own time).
source_id() {
	if [ -d "$source" ]; then
		echo "source=$(cd "$source" && pwd)"
	else
		ls -l --time-style=+%s "$source"
	fi
}

# What OUT was prepared from; the same inputs again: nothing to do.
stamp=$(
	echo "release=$release rustc=$have_rustc bindgen=$have_bindgen gcc=$have_gcc"
	echo "kmake=${kmake[*]}"
	sha256sum "$config" "$headers/Module.symvers" "$0" | cut -d' ' -f1
	[ ! -f "$headers/vmlinux" ] || sha256sum "$headers/vmlinux" | cut -d' ' -f1
	source_id
)
if [ -f "$out/.rust-tree" ] && [ "$(cat "$out/.rust-tree")" = "$stamp" ]; then
	echo "kernel tree for $release: $out"
	exit 0
fi
# From here on OUT is not a prepared tree until it is one again.
rm -f "$out/.rust-tree"

# Where both come from packages (Debian's): the same package version, as
# the same upstream version may carry other patches.
package_version() {
	local pkg
	pkg=$(dpkg-query -S "$1" 2>/dev/null | head -n1 | cut -d: -f1) || return 0
	[ -z "$pkg" ] || dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true
}
if command -v dpkg-query >/dev/null; then
	headers_pkg=$(package_version "$(readlink -f "$config")")
	source_pkg=$(package_version "$(readlink -f "$source")")
	[ -z "$headers_pkg" ] || [ -z "$source_pkg" ] || [ "$headers_pkg" = "$source_pkg" ] ||
		die "kernel $release's headers are version $headers_pkg, its source $source_pkg:
  install the source of the same version (apt install linux-source-<series>=$headers_pkg)"
fi
# check_source_version DIR: the source in DIR is the kernel's version.
check_source_version() {
	local version
	version=$(make -s -C "$1" kernelversion 2>/dev/null)
	case "$release" in
	"$version" | "$version"[+-]*) ;;
	*) die "the source in $source is $version, the kernel is $release: install the kernel's own source" ;;
	esac
}

# The source: the kernel's own version.
if [ -d "$source" ]; then
	src=$(cd "$source" && pwd)
else
	[ -f "$source" ] || die "no kernel source $source (on Debian: apt install linux-source-${release%%.*}.$(echo "$release" | cut -d. -f2))"
	src=$out/source
	# Unpacked beside the one there, which stays until this one is the
	# kernel's version.
	if [ "$(cat "$src/.unpacked" 2>/dev/null)" != "$(source_id)" ]; then
		echo "==> unpacking $source"
		rm -rf "$src.new"
		mkdir -p "$src.new"
		tar -xf "$source" -C "$src.new" --strip-components=1
		source_id >"$src.new/.unpacked"
		check_source_version "$src.new"
		rm -rf "$src"
		mv "$src.new" "$src"
	fi
fi
check_source_version "$src"

mkdir -p "$out"
cp "$config" "$out/.config"
[ ! -f "$headers/.kernelvariables" ] || cp "$headers/.kernelvariables" "$out/.kernelvariables"
echo "==> configure ($release, in $out)"
make -s -C "$src" O="$out" "${kmake[@]}" olddefconfig
# The options a toolchain test sets, against the kernel's. The C compiler's
# version text may differ by its package revision (CONFIG_GCC_VERSION may
# not): Debian's own module builds allow that too.
differs=$(diff <(grep -v '^CONFIG_CC_VERSION_TEXT=' "$config") \
	<(grep -v '^CONFIG_CC_VERSION_TEXT=' "$out/.config") | grep '^[<>]' || true)
[ -z "$differs" ] ||
	die "the source configured with kernel $release's .config does not give it back
  (< the kernel's, > this toolchain's):
$(echo "$differs" | head -n 20 | sed 's/^/    /')
  Install what sets these options (pahole: dwarves; openssl; the compilers above)."

echo "==> modules_prepare and the Rust crates ($release)"
make -s -C "$src" O="$out" "${kmake[@]}" -j"$(($(nproc) + 1))" modules_prepare
make -s -C "$src" O="$out" "${kmake[@]}" -j"$(($(nproc) + 1))" rust/
# What the kernel exports (modpost checks a module against it), and the
# BTF-only vmlinux the headers carry for modules' BTF.
cp "$headers/Module.symvers" "$out/Module.symvers"
[ ! -f "$headers/vmlinux" ] || cp "$headers/vmlinux" "$out/vmlinux"

# What the kernel's layouts are generated into (structure offsets, the
# configuration as C and Rust see it) must be the kernel's.
for f in asm-offsets.h bounds.h rq-offsets.h autoconf.h rustc_cfg utsrelease.h; do
	[ ! -f "$headers/include/generated/$f" ] ||
		cmp -s "$headers/include/generated/$f" "$out/include/generated/$f" ||
		die "include/generated/$f of the tree prepared here differs from kernel $release's:
  the source or the toolchain differ from the kernel's"
done

# Every symbol the rebuilt Rust crates export (core, the kernel crate, the
# bindings, the C helpers) must be the kernel's, and the kernel's Rust
# exports must all be theirs: same crate hashes, same names.
ours=$(cat "$out"/rust/exports_*_generated.h | sed -n 's/^EXPORT_SYMBOL_RUST_GPL(\(.*\));$/\1/p' |
	sort -u)
theirs=$(awk '{print $2}' "$headers/Module.symvers" | sort -u)
missing=$(comm -23 <(echo "$ours") <(echo "$theirs"))
extra=$(comm -13 <(echo "$ours") <(awk '$2 ~ /^_R/ {print $2}' "$headers/Module.symvers" | sort -u))
[ -n "$ours" ] || die "the rebuilt Rust crates export nothing"
if [ -n "$missing$extra" ]; then
	die "the Rust crates rebuilt here are not kernel $release's: of their $(echo "$ours" | wc -l)
  exports, $(echo "$missing" | grep -c . || true) are not the kernel's (e.g. $(echo "$missing" | head -n1)),
  and $(echo "$extra" | grep -c . || true) of the kernel's are not theirs (e.g. $(echo "$extra" | head -n1)).
  A module built against them would not load. The toolchain or the source differ
  from the kernel's."
fi
echo "the Rust crates' $(echo "$ours" | wc -l) exports are all kernel $release's, and all its Rust ones"
echo "$stamp" >"$out/.rust-tree"
echo "kernel tree for $release: $out"
