// SPDX-License-Identifier: GPL-2.0

//! The layout test: Rust's view of kernel structures must match C's.
//!
//! bindgen can get a structure's layout wrong (with `CONFIG_SCHEDSTATS=n`,
//! libclang 19 drops the alignment of the empty `struct sched_statistics` and
//! every later `task_struct` field moves). Every field this module reads
//! through `bindings` is listed here and compared with `offsetof()` from the
//! C half of the module, and so are our own `struct world_storage_props` and
//! the structures the local lookup's fast path reads, both as the crate
//! lays them out and as the Rust client API's `asm!` fast path mirrors them.

use crate::{client_api::ffi::Props, glue::ws_layout_c_offset};
use core::mem::offset_of;
use kernel::{bindings, prelude::*};

/// Every kernel structure field read through bindings, with Rust's offset.
pub(crate) const RUST_LAYOUT: &[(&core::ffi::CStr, usize)] = &[
    (c"task_struct.pid", offset_of!(bindings::task_struct, pid)),
    (c"task_struct.tgid", offset_of!(bindings::task_struct, tgid)),
    (
        c"task_struct.flags",
        offset_of!(bindings::task_struct, flags),
    ),
    (c"tracepoint.name", offset_of!(bindings::tracepoint, name)),
    (c"module.name", offset_of!(bindings::module, name)),
    (
        c"notifier_block.notifier_call",
        offset_of!(bindings::notifier_block, notifier_call),
    ),
    // Our own ABI: the Rust mirror of `struct world_storage_props`, the one
    // in the Rust client API, which the crate uses too.
    (c"world_storage_props.type", offset_of!(Props, kind)),
    (c"world_storage_props.owner", offset_of!(Props, owner)),
    (c"world_storage_props.size", offset_of!(Props, size)),
    (c"world_storage_props.align", offset_of!(Props, align)),
    (
        c"world_storage_props.constructor",
        offset_of!(Props, constructor),
    ),
    (
        c"world_storage_props.destructor",
        offset_of!(Props, destructor),
    ),
    (c"world_storage_props.arg", offset_of!(Props, arg)),
    (
        c"world_storage_handles_v3.sizeof",
        core::mem::size_of::<[core::sync::atomic::AtomicU64; crate::handle::MAX_REGIONS]>(),
    ),
];

/// The offset of `name` ("struct.field") as the C compiler sees it, or
/// `usize::MAX` if the C table does not list it.
pub(crate) fn c_offset(name: &core::ffi::CStr) -> usize {
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the
    // call; the C function only reads it.
    unsafe { ws_layout_c_offset(name.as_char_ptr()) }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_abi_layout)]
mod tests {
    use super::*;

    #[test]
    fn rust_offsets_match_c() {
        let fast_paths = Iterator::chain(
            crate::world::FAST_PATH_LAYOUT.iter(),
            crate::client_api::FAST_PATH_MIRROR_LAYOUT,
        );
        for (name, rust) in Iterator::chain(RUST_LAYOUT.iter(), fast_paths) {
            let c = c_offset(name);
            if c != *rust {
                pr_err!("{name:?}: C offset {c}, Rust offset {rust}\n");
            }
            assert_eq!(c, *rust);
        }
    }

    #[test]
    fn unknown_field_is_reported() {
        assert_eq!(c_offset(c"task_struct.no_such_field"), usize::MAX);
    }
}
