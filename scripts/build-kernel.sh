#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build the dev kernel into the cache, once per key.
# Usage: build-kernel.sh [EXTRA_FRAGMENT]   (a path relative to the repository,
# merged after .config.fragment: where both set an option, it wins)
# Prints nothing but progress; the build directory is `kernel_build_dir`.

. "$(dirname "$0")/lib.sh"

extra=${1:-$WS_EXTRA_FRAGMENT}
src=$(kernel_src_dir)
out=$(kernel_build_dir "$extra")
read -r -a margs <<<"$(kmake_args)"

[ -d "$src" ] || die "no kernel source in $src: run scripts/setup.sh"

[ ! -f "$out/.built" ] || exit 0

# One build per key at a time: a second caller (another checkout, another
# make) waits for the first and then finds the kernel built.
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
if ! flock -n 9; then
	echo "==> waiting for another build of $out"
	flock 9
fi
[ ! -f "$out/.built" ] || exit 0

configure() {
	mkdir -p "$out"
	make -s -C "$src" O="$out" "${margs[@]}" tinyconfig
	local frags=("$WS_TOP/.config.fragment")
	[ -z "$extra" ] || frags+=("$WS_TOP/$extra")
	(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" .config "${frags[@]}" >/dev/null)
	make -s -C "$src" O="$out" "${margs[@]}" olddefconfig
	# Kconfig silently drops options whose dependencies are missing. An
	# option set by several fragments is checked as the last one sets it.
	local lost=0 line name
	local -A last=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) name=${line%%=*} ;;
		"# CONFIG_"*" is not set") name=${line#\# } name=${name%% *} ;;
		*) continue ;;
		esac
		last[$name]=$line
	done < <(cat "${frags[@]}")
	for name in "${!last[@]}"; do
		if ! grep -qxF "${last[$name]}" "$out/.config"; then
			echo "error: '${last[$name]}' did not survive olddefconfig" >&2
			lost=1
		fi
	done
	[ "$lost" -eq 0 ] || die "kernel configuration lost options (see above)"
}

build() {
	make -s -C "$src" O="$out" "${margs[@]}" -j"$(($(nproc) + 1))" bzImage modules
	touch "$out/.built"
}

step "rust available" make -s -C "$src" O="$out" "${margs[@]}" rustavailable
step "configure kernel ($out)" configure
step "build kernel" build
