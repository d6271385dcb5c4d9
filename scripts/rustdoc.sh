#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make rustdoc`: the API reference of the safe Rust API
# (include/world_storage.rs), HTML in $(scripts/paths.sh out)/rustdoc/
# (world_storage/index.html), never in the tree. As the kernel's own
# `make rustdoc` documents its crates (rust/Makefile, cmd_rustdoc), with
# the flags and the kernel crates' metadata a module is compiled with:
# kbuild runs rustdoc, from a Kbuild file of this script's, in the module
# build's context. The file is a module of each client's crate, so its
# items are `pub(crate)`: they are documented as private items.
#
# --check (make check): warnings are errors (broken intra-doc links
# included), and every item of the file must have a doc comment (rustdoc's
# documentation coverage).
#
# Inputs (a cached result stays valid while these are unchanged):
# scripts/rustdoc.sh, scripts/lib.sh, include/world_storage.rs and the
# kernel it is documented against ($(scripts/paths.sh kdir): its rust/
# metadata, include/generated/rustc_cfg and build flags).

. "$(dirname "$0")/lib.sh"
cd "$WS_TOP"

check=0
[ "${1:-}" != --check ] || check=1

# Each reads KDIR and KMAKE_ARGS as `make` passes them.
kmake_args=$(kmake_args)
out=$(out_dir)
kdir=$(kdir)
html=$out/rustdoc
build=$out/rustdoc-build
mkdir -p "$build"

# The rustdoc command of a module build: rust_common_cmd of the kernel's
# scripts/Makefile.build, less what only rustc takes (--emit, --out-dir),
# and rust/Makefile's workarounds for target modifiers rustdoc does not save
# (fixed-x18; and, as for its doctests, the sanitizer flags of a KASAN
# kernel, which rustdoc does not apply: rust-lang/rust#146465).
cat >"$build/Kbuild" <<'EOF'
# SPDX-License-Identifier: GPL-2.0
# Written by scripts/rustdoc.sh: runs rustdoc in a module build's context.
always-y := world_storage.doc

rustdoc_api = OBJTREE=$(abspath $(objtree)) $(RUSTDOC) \
	$(filter-out --remap-path-scope=%,$(rust_flags)) \
	-Zallow-features=$(rust_allowed_features) \
	-Zcrate-attr=no_std \
	-Zcrate-attr='feature($(rust_allowed_features))' \
	-Zunstable-options --extern pin_init --extern kernel \
	--extern zerocopy --extern zerocopy_derive \
	--crate-type rlib -L $(objtree)/rust/ \
	--sysroot=/dev/null \
	$(if $(call rustc-min-version,108800),-Cunsafe-allow-abi-mismatch=fixed-x18$(if \
		$(call rustc-min-version,109100),$(comma)sanitizer)) \
	--crate-name world_storage --document-private-items \
	@$(objtree)/include/generated/rustc_cfg $(WS_RUSTDOC_FLAGS) $(WS_API)

$(obj)/world_storage.doc: FORCE
	$(Q)$(rustdoc_api) --output $(WS_HTML)
	$(if $(WS_COVERAGE),$(Q)$(rustdoc_api) --show-coverage --output-format json >$(WS_COVERAGE))
	$(Q)touch $@
EOF

flags="" coverage=""
if [ "$check" -eq 1 ]; then
	flags="-Dwarnings" coverage=$build/coverage.json
fi
rm -rf "$html" "$build/world_storage.doc"
# shellcheck disable=SC2086 # the make arguments are words
make -s --no-print-directory -C "$kdir" M="$build" $kmake_args \
	WS_API="$WS_TOP/include/world_storage.rs" WS_HTML="$html" WS_COVERAGE="$coverage" \
	WS_RUSTDOC_FLAGS="$flags" modules
[ -f "$html/world_storage/index.html" ] || die "rustdoc wrote no $html/world_storage/index.html"

if [ "$check" -eq 1 ]; then
	# {"<file>": {"total": N, "with_docs": N, ...}}
	python3 - "$coverage" <<-'EOF'
		import json, sys
		for path, c in json.load(open(sys.argv[1])).items():
		    if c["with_docs"] != c["total"]:
		        sys.exit(f"rustdoc: {c['total'] - c['with_docs']} of {c['total']} items "
		                 f"of {path} have no doc comment")
		    print(f"  rustdoc: {c['total']} items, each with a doc comment, no warning")
	EOF
fi
echo "  API reference: $html/world_storage/index.html"
