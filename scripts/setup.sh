#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install or fetch everything the project needs, idempotently:
#  - Debian packages of the running release (compiler, QEMU, busybox, ...),
#  - bindgen-cli at a pinned version, into the cache,
#  - the Debian rust-src whose upstream version equals `rustc --version`,
#  - the Debian linux-source of the pinned series,
#  - rustup's rust-analyzer component (for the editor check), where it can.
# The last two come from $WORLD_STORAGE_SUITE (default trixie-backports)
# through a private apt configuration: they are downloaded and unpacked, never
# installed, and the system's apt sources are not touched.

. "$(dirname "$0")/lib.sh"

PACKAGES="clang-$WS_LLVM_VERSION lld-$WS_LLVM_VERSION llvm-$WS_LLVM_VERSION
libclang-$WS_LLVM_VERSION-dev bc flex bison libelf-dev libssl-dev cpio kmod
qemu-system-x86 busybox-static make gcc libc6-dev python3-docutils
xz-utils rsync"

install_packages() {
	local missing=()
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		echo "all Debian packages present"
		return
	fi
	echo "installing: ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_bindgen() {
	if [ -x "$WS_BINDGEN" ]; then
		echo "bindgen $WS_BINDGEN_VERSION present"
		return
	fi
	cargo install --locked --quiet bindgen-cli --version "$WS_BINDGEN_VERSION" \
		--root "$WS_TOOLS/bindgen-$WS_BINDGEN_VERSION"
}

# Private apt: its own source list, lists and cache; the system's untouched.
APT_OPTS=()
private_apt_update() {
	mkdir -p "$WS_APT/lists/partial" "$WS_APT/cache/archives/partial"
	echo "deb $(debian_mirror) $WS_BACKPORTS_SUITE main" >"$WS_APT/sources.list"
	APT_OPTS=(-o "Dir::Etc::SourceList=$WS_APT/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::State::Lists=$WS_APT/lists"
		-o "Dir::Cache=$WS_APT/cache"
		-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
		-o "APT::Default-Release="
		-o "APT::Sandbox::User=$(id -un)")
	# Refresh at most once a day.
	if [ -z "$(find "$WS_APT/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null)" ]; then
		apt-get "${APT_OPTS[@]}" update -qq
	fi
}

# fetch_deb PACKAGE VERSION-PATTERN DEST: download and unpack the newest
# version of PACKAGE in the suite matching the regex, into DEST.
fetch_deb() {
	local pkg=$1 pattern=$2 dest=$3 versions version
	versions=$(apt-cache "${APT_OPTS[@]}" madison "$pkg" 2>/dev/null |
		awk -F'|' '{gsub(/ /, "", $2); print $2}' || true)
	version=$(echo "$versions" | grep -E "$pattern" | head -n1 || true)
	if [ -z "$version" ]; then
		echo "error: $WS_BACKPORTS_SUITE offers no $pkg matching /$pattern/." >&2
		return 1
	fi
	mkdir -p "$WS_DL"
	(cd "$WS_DL" && apt-get "${APT_OPTS[@]}" download -qq "$pkg=$version")
	rm -rf "$dest.tmp"
	mkdir -p "$dest.tmp"
	dpkg-deb -x "$WS_DL/${pkg}_${version//:/%3a}_"*.deb "$dest.tmp"
	echo "$pkg $version" >"$dest.tmp/VERSION"
	rm -rf "$dest"
	mv "$dest.tmp" "$dest"
	rm -f "$WS_DL/${pkg}_"*.deb
	echo "$pkg $version unpacked"
}

install_rust_src() {
	local ver dest
	ver=$(rustc_version)
	dest=$WS_CACHE/rust-src-$ver
	if [ -f "$dest/VERSION" ]; then
		echo "rust-src: $(cat "$dest/VERSION")"
		return
	fi
	private_apt_update
	fetch_deb rust-src "^${ver//./\\.}\+" "$dest" ||
		die "no Debian rust-src for rustc $ver; install a rustc whose version $WS_BACKPORTS_SUITE packages"
}

install_linux_source() {
	local dest=$WS_CACHE/linux-source-$WS_SERIES tarball
	if [ -f "$dest/VERSION" ] && [ -d "$dest/linux-source-$WS_SERIES" ]; then
		echo "linux-source: $(cat "$dest/VERSION")"
		return
	fi
	private_apt_update
	if ! fetch_deb "linux-source-$WS_SERIES" "." "$dest.deb"; then
		local offered
		offered=$(apt-cache "${APT_OPTS[@]}" search --names-only '^linux-source-[0-9.]+$' |
			awk '{print $1}' | sed 's/linux-source-//' | sort -V | tr '\n' ' ')
		die "linux-source-$WS_SERIES is not in $WS_BACKPORTS_SUITE any more.
  Series on offer there: ${offered:-none}
  Choose one with WORLD_STORAGE_KERNEL_SERIES=<series> (or another suite with
  WORLD_STORAGE_SUITE=<suite>), then run this again."
	fi
	tarball=$(ls "$dest.deb"/usr/src/linux-source-"$WS_SERIES".tar.*)
	rm -rf "$dest"
	mkdir -p "$dest"
	tar -xf "$tarball" -C "$dest"
	cp "$dest.deb/VERSION" "$dest/VERSION"
	rm -rf "$dest.deb"
}

# The editor check of `make check` (scripts/doc-clients.sh) needs
# rust-analyzer; rustup's component matches the toolchain. Where rustup cannot
# fetch it, that check is skipped (and says so), nothing else depends on it.
install_rust_analyzer() {
	rustup component add rust-analyzer >/dev/null 2>&1 ||
		echo "warning: rustup could not add rust-analyzer: the editor check will be skipped"
}

# Quiet when everything is already there.
packages_present() {
	local p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || return 1
	done
}

packages_present || step "Debian packages" install_packages
[ -x "$WS_BINDGEN" ] || step "bindgen-cli $WS_BINDGEN_VERSION" install_bindgen
[ -f "$WS_CACHE/rust-src-$(rustc_version)/VERSION" ] ||
	step "rust-src for rustc $(rustc_version)" install_rust_src
rust-analyzer --version >/dev/null 2>&1 || step "rust-analyzer" install_rust_analyzer
[ -d "$(kernel_src_dir)" ] || step "linux-source-$WS_SERIES" install_linux_source
