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

use super::record::WorldRecord;
use crate::glue::{ws_current_forget, ws_current_set};
use core::ptr;

/// Points this CPU at `record`, the current task's record just found in
/// the table; `false` (not kept) if it has left the table meanwhile.
pub(super) fn set(record: &WorldRecord) -> bool {
    // SAFETY: `record` starts with `struct world_storage_record_v1`
    // (`repr(C)`) and stays alive until it is forgotten on every CPU and a
    // grace period has passed; the C side writes only this CPU's pointer.
    unsafe { ws_current_set(ptr::from_ref(record).cast_mut()) }
}

/// Clears `record`'s task and forgets it on every CPU: it has left the
/// table.
pub(super) fn forget(record: &WorldRecord) {
    // SAFETY: `record` starts with `struct world_storage_record_v1`
    // (`repr(C)`) and is live (the caller holds a count); the C side writes
    // its `task`, an atomic, and the per-CPU pointers, never the record
    // otherwise.
    unsafe { ws_current_forget(ptr::from_ref(record).cast_mut()) };
}
