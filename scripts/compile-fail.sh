#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`'s compile-fail tests of the safe Rust API: client snippets
# that must NOT compile, each with the compiler error it must give, and a
# twin, the smallest change that makes it right, that must compile without
# a warning (so a failure is the type error, not a broken setup). Each is a
# client module of its own, built with the settings and the Rust recipe of
# Documentation/world-storage.rst ("Building a client"), as a real client
# is. Prints KTAP, then "N passed, N failed"; exits 1 if any failed.
#
# Inputs (a cached result stays valid while these are unchanged):
# scripts/compile-fail.sh, scripts/doc-clients.py, scripts/lib.sh,
# scripts/paths.sh, include/world_storage.rs, Documentation/world-storage.rst
# (its settings and Rust recipe), the modules' Module.symvers
# ($(scripts/paths.sh out)/modules/Module.symvers) and the kernel it was
# built against ($(scripts/paths.sh kdir)).

. "$(dirname "$0")/lib.sh"
cd "$WS_TOP"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/doc-clients.py Documentation/world-storage.rst "$tmp/doc"
WS=$WS_TOP
. "$tmp/doc/settings.sh"
[ -f "$WS_SYMVERS" ] || die "no $WS_SYMVERS: build the modules first (make modules)"

# Each case: NAME|WANT|TYPE|BAD|GOOD. The client's module init runs BAD
# (which must fail to compile, its log containing WANT: an error code, or
# the API's message) or GOOD (its twin). TYPE is the region's type, which
# derives Default.
u64='#[derive(Default)] struct Object(u64);'
get='let storage = WorldStorage::<Object>::new(module)?; let object = storage.get(current!().pid())?;'
cases=(
	"ref_held_across_the_drop_of_its_region|error[E0505]|$u64|\
$get drop(storage); pr_info!(\"{}\\n\", object.0);|\
$get pr_info!(\"{}\\n\", object.0); drop(object); drop(storage);"
	"ref_outliving_its_region|error[E0597]|$u64|\
let object; { let storage = WorldStorage::<Object>::new(module)?; \
object = storage.get(current!().pid())?; } pr_info!(\"{}\\n\", object.0);|\
{ $get pr_info!(\"{}\\n\", object.0); }"
	"ref_released_twice|error[E0382]|$u64|\
$get object.release()?; object.release()?;|\
$get object.release()?;"
	"ref_released_then_dropped|error[E0382]|$u64|\
$get object.release()?; drop(object);|\
$get drop(object);"
	"local_ref_held_across_the_drop_of_its_region|error[E0505]|$u64|\
let storage = WorldStorage::<Object>::new(module)?; let mine = storage.local()?; \
drop(storage); pr_info!(\"{}\\n\", mine.0);|\
let storage = WorldStorage::<Object>::new(module)?; let mine = storage.local()?; \
pr_info!(\"{}\\n\", mine.0); drop(storage);"
	"zero_sized_type|a zero-sized type has nothing to store per world|\
#[derive(Default)] struct Object;|\
let _storage = WorldStorage::<Object>::new(module)?;|\
let _storage = WorldStorage::<OneByte>::new(module)?;"
	"over_aligned_type|the type's alignment is above PAGE_SIZE|\
#[derive(Default)] #[repr(align(8192))] struct Object(u8);|\
let _storage = WorldStorage::<Object>::new(module)?;|\
let _storage = WorldStorage::<PageAligned>::new(module)?;"
	"visit_of_a_type_not_sync|cannot be shared between threads safely|$u64|\
struct Cells(core::cell::Cell<u64>); \
impl WorldObject for Cells { fn init(_wid: Pid) -> impl PinInit<Self, Error> { \
Ok::<_, Error>(Cells(core::cell::Cell::new(0))) } } \
fn show(_: Pid, o: &Cells) -> Result { pr_info!(\"{}\\n\", o.0.get()); Ok(()) } \
WorldStorage::<Cells>::new(module)?.for_each(show)?;|\
struct Cells(core::sync::atomic::AtomicU64); \
impl WorldObject for Cells { fn init(_wid: Pid) -> impl PinInit<Self, Error> { \
Ok::<_, Error>(Cells(core::sync::atomic::AtomicU64::new(0))) } } \
fn show(_: Pid, o: &Cells) -> Result { \
pr_info!(\"{}\\n\", o.0.load(core::sync::atomic::Ordering::Relaxed)); Ok(()) } \
WorldStorage::<Cells>::new(module)?.for_each(show)?;"
)

# The twins of the type cases use a type of their own, next to `Object`.
extra_types='
/// A twin of a type case: one byte.
#[derive(Default)]
struct OneByte(u8);

impl WorldObject for OneByte {
    fn init(_wid: Pid) -> impl PinInit<Self, Error> {
        Ok::<_, Error>(Self::default())
    }
}

/// A twin of a type case: aligned to PAGE_SIZE, which is allowed.
#[derive(Default)]
#[repr(align(4096))]
struct PageAligned(u8);

impl WorldObject for PageAligned {
    fn init(_wid: Pid) -> impl PinInit<Self, Error> {
        Ok::<_, Error>(Self::default())
    }
}'

# client DIR NAME TYPE BODY: a client module whose init runs BODY.
client() {
	local dir=$1 name=$2
	mkdir -p "$dir"
	echo "obj-m += $name.o" >"$dir/Kbuild"
	cat >"$dir/$name.rs" <<-EOF
		// SPDX-License-Identifier: GPL-2.0

		//! A snippet of compile-fail.sh.
		#![allow(dead_code, unused_imports)]

		use kernel::prelude::*;

		mod world_storage;
		use world_storage::{Pid, WorldObject, WorldStorage};

		module! {
		    type: Client,
		    name: "$name",
		    authors: ["world storage"],
		    description: "A snippet of compile-fail.sh",
		    license: "GPL",
		}

		$3

		impl WorldObject for Object {
		    fn init(_wid: Pid) -> impl PinInit<Self, Error> {
		        Ok::<Object, Error>(Default::default())
		    }
		}
		$extra_types

		struct Client;

		impl kernel::Module for Client {
		    fn init(module: &'static ThisModule) -> Result<Self> {
		        $4
		        Ok(Client)
		    }
		}
	EOF
}

# build DIR: the document's Rust recipe in DIR; its log in DIR/log, its
# status in DIR/status.
build() {
	local rc=0
	(cd "$1" && KDIR=$KDIR KMAKE_ARGS=$KMAKE_ARGS WS_INCLUDE=$WS_INCLUDE WS_SYMVERS=$WS_SYMVERS \
		bash -e "$tmp/doc/build-rust.sh") >"$1/log" 2>&1 || rc=$?
	echo "$rc" >"$1/status"
}

# Every snippet and twin, two builds at a time.
n=0
for entry in "${cases[@]}"; do
	IFS='|' read -r name want type bad good <<<"$entry"
	n=$((n + 1))
	client "$tmp/$n-bad" "ws_cf_${n}_bad" "$type" "$bad"
	client "$tmp/$n-good" "ws_cf_${n}_good" "$type" "$good"
	for dir in "$tmp/$n-bad" "$tmp/$n-good"; do
		[ "$(jobs -rp | wc -l)" -lt 2 ] || wait -n
		build "$dir" &
	done
done
wait

# show DIR: the build's compiler messages, as KTAP diagnostics.
show() {
	{ grep -E '^(error|warning)|-->' "$1/log" || echo "it built"; } | head -n 20 | sed 's/^/# /'
}

passed=0 failed=0 n=0
echo "KTAP version 1"
echo "1..$((2 * ${#cases[@]}))"
for entry in "${cases[@]}"; do
	IFS='|' read -r name want _ <<<"$entry"
	n=$((n + 1))
	bad=$tmp/$n-bad good=$tmp/$n-good
	# The error must be the one named, in the snippet, not in the API.
	if [ "$(cat "$bad/status")" -ne 0 ] && grep -qF -- "$want" "$bad/log" &&
		grep -qE "ws_cf_${n}_bad\.rs:[0-9]|world storage: " "$bad/log"; then
		echo "ok $((2 * n - 1)) ${name}_does_not_compile ($want)"
		passed=$((passed + 1))
	else
		echo "not ok $((2 * n - 1)) ${name}_does_not_compile (wanted: $want)"
		show "$bad"
		failed=$((failed + 1))
	fi
	if [ "$(cat "$good/status")" -eq 0 ] && ! grep -qiE 'warning|error' "$good/log"; then
		echo "ok $((2 * n)) ${name}_twin_compiles"
		passed=$((passed + 1))
	else
		echo "not ok $((2 * n)) ${name}_twin_compiles"
		show "$good"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
