// SPDX-License-Identifier: GPL-2.0

//! The current task's world record, pointed at per CPU for the local
//! lookup's fast path (both in the C glue: Rust in 7.3 has no per-CPU
//! access and calls `preempt_disable()` out of line).
//!
//! Protocol (written out at the C side): the slow path points this CPU at
//! current's record, with preemption off, then re-checks that the record
//! still has its task; a record leaving the table has its task cleared,
//! then is forgotten on every CPU before its last reference is dropped. A
//! full barrier on each side makes one of them see the other.

use crate::world::WorldRecord;
use kernel::ffi::c_void;

extern "C" {
    fn ws_current_set(record: *mut c_void) -> bool;
    fn ws_current_forget(record: *mut c_void);
}

/// Points this CPU at `record`, the current task's record just found in
/// the table; `false` (not kept) if it has left the table meanwhile.
pub(crate) fn set(record: &WorldRecord) -> bool {
    // SAFETY: `record` starts with `struct world_storage_record_v1` (`repr(C)`) and
    // stays alive until forgotten on every CPU and a grace period has
    // passed; the C side writes only the per-CPU pointer.
    unsafe { ws_current_set(core::ptr::from_ref(record).cast_mut().cast()) }
}

/// Clears `record`'s task and forgets it on every CPU: it has left the
/// table.
pub(crate) fn forget(record: &WorldRecord) {
    // SAFETY: as in `set`; the C side writes the record's `task` (an
    // atomic) and the per-CPU pointers.
    unsafe { ws_current_forget(core::ptr::from_ref(record).cast_mut().cast()) };
}
