// SPDX-License-Identifier: GPL-2.0

//! The trace events of the `world_storage` trace system
//! (`rust/world_storage_trace.h`, created in `rust/world_storage_trace.c`),
//! each behind a safe function with typed arguments. See "Trace events" in
//! `Documentation/world-storage.rst`.
//!
//! Cold paths only. The C side is the kernel's `TRACE_EVENT()`: with an
//! event disabled, its `trace_*()` is a static branch that falls through.
//! But Rust cannot expand those inlines, so each function here calls an out
//! of line C wrapper, which costs a call even with the event off: none of
//! them may be called on the fork, exit or lookup paths, except where that
//! path has just failed (a constructor or an allocation for a new task, a
//! bad release). Create, Destroy and an owner's unload are cold already.

use crate::{
    glue::{
        ws_trace_bad_release, ws_trace_constructor_failure, ws_trace_owner_unload,
        ws_trace_region_create, ws_trace_region_destroy, ws_trace_task_failed,
    },
    region::Region,
    service::FailedTask,
};
use kernel::{ffi::c_void, prelude::*, task::Pid, time::Delta};

/// `region_create`: `region` was published by Create.
pub(crate) fn region_created(region: &Region) {
    let layout = region.props_layout();
    let (ctor, dtor) = region.has_callbacks();
    // SAFETY: the owner's name is a NUL-terminated string, valid for the
    // call; the wrapper copies it into the event.
    unsafe {
        ws_trace_region_create(
            region.handle().encode(),
            layout.size(),
            layout.align(),
            region.owner_name().as_char_ptr(),
            ctor,
            dtor,
        )
    };
}

/// `region_destroy`: the Destroy of the region named `handle` has finished;
/// it destructed `objects` objects and waited `waited` for lookups and
/// remote references to drain.
pub(crate) fn region_destroyed(handle: u64, objects: usize, waited: Delta) {
    let waited_us = u64::try_from(waited.as_micros_ceil()).unwrap_or(0);
    // SAFETY: no requirement; plain values.
    unsafe { ws_trace_region_destroy(handle, objects as u64, waited_us) };
}

/// `constructor_failure`: world `wid` got no object of the region named
/// `handle`: its constructor, or an allocation, failed with `err`.
pub(crate) fn constructor_failed(wid: Pid, handle: u64, err: Error) {
    // SAFETY: no requirement; plain values.
    unsafe { ws_trace_constructor_failure(wid, handle, err.to_errno()) };
}

/// `task_failed`: what became of new task `wid` after such a failure.
pub(crate) fn task_failed(wid: Pid, fate: FailedTask) {
    let fate = match fate {
        FailedTask::Kill => c"killed",
        FailedTask::KeepKernelTask => c"kept_kernel_task",
        FailedTask::KeepInitTask => c"kept_init_thread",
    };
    // SAFETY: `fate` is a static NUL-terminated string; the wrapper copies
    // it into the event.
    unsafe { ws_trace_task_failed(wid, fate.as_char_ptr()) };
}

/// `bad_release`: a release of `object` for world `wid` was refused.
/// `object` is only recorded, never read.
pub(crate) fn bad_release(wid: Pid, object: *const c_void) {
    // SAFETY: the wrapper records the pointer's value and never reads it.
    unsafe { ws_trace_bad_release(wid, object) };
}

/// `owner_unload`: module `owner` is unloading and left the region named
/// `handle`, which is destroyed for it.
pub(crate) fn owner_unloaded(owner: &CStr, handle: u64) {
    // SAFETY: `owner` is a NUL-terminated string, valid for the call; the
    // wrapper copies it into the event.
    unsafe { ws_trace_owner_unload(owner.as_char_ptr(), handle) };
}
