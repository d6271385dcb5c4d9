#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`'s client checks, from Documentation/world-storage.rst
# ("Building a client"), on the dev kernel after `make modules`:
#  - extract the example clients, their Kbuild files, the settings and the
#    build recipes (scripts/doc-clients.py) and build each client with its
#    recipe, as written: no warning allowed (the recipes say W=1, clippy),
#    and the Rust clients are rustfmt-clean;
#  - the same against "your own kernel" (`make KDIR=...`; the dev kernel
#    stands in for it);
#  - `make install` into a temporary DESTDIR and INSTALL_MOD_PATH, and build
#    the clients again against the installed copy;
#  - with rust-analyzer installed: no unresolved name in the project
#    (`make rust-analyzer`) nor in the Rust client (the recipe's
#    rust-project.json);
#  - leave each client's expected output where the doc_clients kselftest
#    finds it, and the clients' modules where the VM's initramfs takes them.
#
# doc-clients.sh [own-kernel | clients | editor]: only one part (make check
# runs them as steps of their own, so that each is skipped while its own
# inputs stay the same): `own-kernel` builds this tree with `make KDIR=...`,
# `clients` everything about the clients (after `own-kernel`), `editor`
# rust-analyzer on the project. Without an argument: all three, in order.
#
# doc-clients.sh dkms (make check KERNEL=debian, in the Debian system of
# scripts/debian.sh): install this tree with DKMS as the README says, for
# Debian's kernel; build the clients against the installed copy with the
# document's settings for it; leave the module DKMS installed in
# $OUT/dkms/ (the VM's tests load it instead of make's) and the clients
# where the doc_clients kselftest finds them.

. "$(dirname "$0")/lib.sh"
cd "$WS_TOP"

part=${1:-all}
case "$part" in
all | own-kernel | clients | editor | dkms) ;;
*) die "usage: $0 [own-kernel | clients | editor | dkms]" ;;
esac
want() { [ "$part" = all ] || [ "$part" = "$1" ]; }

OUT=$(out_dir)
clients=$OUT/modules/doc-clients
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# recipe LANG DIR: run the recipe build-LANG.sh in DIR, as a shell would
# after the settings (which are not exported), stopping at a failure.
recipe() {
	(cd "$2" && KDIR=$KDIR KMAKE_ARGS=$KMAKE_ARGS WS_INCLUDE=$WS_INCLUDE WS_SYMVERS=$WS_SYMVERS \
		bash -e "$clients/build-$1.sh" 2>&1)
}

# build LANG DIR: the recipe in DIR with the current settings; fails on any
# warning or error.
build() {
	local lang=$1 dir=$2 log
	log=$(recipe "$lang" "$dir") ||
		die "the $lang client in $dir does not build:"$'\n'"$log"
	! grep -iE 'warning|error' <<<"$log" || die "the $lang client in $dir builds with warnings"
	ls "$dir"/*.ko >/dev/null
	echo "  $lang client: built, no warning ($dir)"
}

# What the doc_clients kselftest reads: each client's expected output, and
# the shell examples.
leave_expected() {
	mkdir -p "$OUT/selftests/world_storage/doc-clients"
	cp "$clients"/*/*.expected "$clients"/trace/*.sh "$OUT/selftests/world_storage/doc-clients/"
}

# Installed with DKMS for Debian's kernel (in its Debian system): the
# document's commands and settings, with the kernel DKMS built for
# standing in for the running one (`uname -r` in the settings).
dkms_installed() {
	local version release=$WS_DEBIAN_RELEASE log ko
	version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
	# No earlier run's module for the tests, whatever happens below.
	rm -rf "$OUT/dkms"
	dkms remove -m world-storage -v "$version" --all >/dev/null 2>&1 || true
	rm -rf "/usr/src/world-storage-$version"
	dkms add "$WS_TOP" >/dev/null
	log=$(dkms install -m world-storage -v "$version" -k "$release" 2>&1) ||
		die "dkms install failed:"$'\n'"$log"$'\n'"$(cat "/var/lib/dkms/world-storage/$version/build/make.log" 2>/dev/null)"
	ko=$(ls "/lib/modules/$release/updates/dkms/"world_storage.ko*)
	echo "  dkms install: $ko"
	mkdir -p "$OUT/dkms"
	case "$ko" in
	*.xz) xz -dc "$ko" >"$OUT/dkms/world_storage.ko" ;;
	*) cp "$ko" "$OUT/dkms/world_storage.ko" ;;
	esac
	rm -rf "$clients"
	scripts/doc-clients.py Documentation/world-storage.rst "$clients"
	uname() { echo "$release"; }
	. "$clients/settings-dkms.sh"
	unset -f uname
	build c "$clients/c"
	build rust "$clients/rust"
	build rust "$clients/fallible"
	leave_expected
}
if [ "$part" = dkms ]; then
	dkms_installed
	exit 0
fi

# The settings of the document, as written.
WS=$WS_TOP
KDIR=$(scripts/paths.sh kdir) KMAKE_ARGS=$(scripts/paths.sh kmake-args)

# Your own kernel: the tree built with `make KDIR= KMAKE_ARGS=` (the dev
# kernel's tree and toolchain stand in for yours).
own_kdir=$KDIR own_args=$KMAKE_ARGS
if want own-kernel; then
	make -s --no-print-directory KDIR="$own_kdir" KMAKE_ARGS="$own_args" WERROR=1 CLIPPY=1 modules
	echo "  this tree: built with KDIR=$own_kdir"
fi

# rust-analyzer on the project: no unresolved name.
has_rust_analyzer() {
	command -v rust-analyzer >/dev/null && rust-analyzer --version >/dev/null 2>&1
}
unresolved_none() {
	local n
	n=$(scripts/ra-unresolved.sh "$1")
	[ "$n" -eq 0 ] || die "rust-analyzer: $n unresolved names in $1"
	echo "  rust-analyzer: 0 unresolved names in $1"
}
if want editor; then
	if has_rust_analyzer; then
		make -s --no-print-directory rust-analyzer >/dev/null
		unresolved_none "$WS_TOP"
	else
		echo "  rust-analyzer not installed: editor check skipped"
	fi
fi
want clients || exit 0

rm -rf "$clients"
scripts/doc-clients.py Documentation/world-storage.rst "$clients"
. "$clients/settings.sh"
build c "$clients/c"
build rust "$clients/rust"
build rust "$clients/fallible"
rustfmt --edition 2021 --check --config-path "$(kernel_src_dir)/.rustfmt.toml" \
	"$clients/rust/ws_example_rust.rs" "$clients/fallible/ws_example_fallible.rs" ||
		die "a Rust client is not rustfmt-clean"

# Your own kernel (built above): the same settings and recipes with KDIR
# and KMAKE_ARGS exported.
scripts/doc-clients.py Documentation/world-storage.rst "$tmp/own-kernel"
settings_own_kernel() {
	local KDIR=$own_kdir KMAKE_ARGS=$own_args
	export KDIR KMAKE_ARGS
	. "$clients/settings.sh"
	[ "$WS_SYMVERS" != "$OUT/modules/Module.symvers" ] && [ -f "$WS_SYMVERS" ] ||
		die "with KDIR, the settings give $WS_SYMVERS"
	build c "$tmp/own-kernel/c"
	build rust "$tmp/own-kernel/rust"
	build rust "$tmp/own-kernel/fallible"
}
(settings_own_kernel)
. "$clients/settings.sh"

# The installed copy: the same recipes with the installed files.
release=$(cat "$KDIR/include/config/kernel.release")
# The flags of check.sh's build: nothing is rebuilt.
make -s --no-print-directory install WERROR=1 CLIPPY=1 DESTDIR="$tmp/dest" \
	INSTALL_MOD_PATH="$tmp/dest" >/dev/null
dev=$tmp/dest/usr/src/world-storage-$release
for f in "$tmp/dest/lib/modules/$release/updates/world_storage.ko" \
	"$dev/include/world_storage.h" "$dev/include/world_storage.rs" "$dev/Module.symvers"; do
	[ -s "$f" ] || die "make install did not install $f"
done
WS_INCLUDE=$dev/include WS_SYMVERS=$dev/Module.symvers
scripts/doc-clients.py Documentation/world-storage.rst "$tmp/installed"
build c "$tmp/installed/c"
build rust "$tmp/installed/rust"
build rust "$tmp/installed/fallible"

# The Rust client, with the rust-project.json of its recipe.
if has_rust_analyzer; then
	unresolved_none "$clients/rust"
else
	echo "  rust-analyzer not installed: the client's editor check skipped"
fi

leave_expected
