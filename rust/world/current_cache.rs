// SPDX-License-Identifier: GPL-2.0

//! The current task's world record, pointed at per CPU for the local
//! lookup's fast path (both in the C glue: Rust in 7.3 has no per-CPU
//! access and calls `preempt_disable()` out of line).
//!
//! Protocol (written out at the C side): the slow path notes that the
//! record is pointed at, points this CPU at current's record, with
//! preemption off, then re-checks that the record still has its task; a
//! record leaving the table has its task cleared, then, if it was ever
//! pointed at, is forgotten on every CPU before its last reference is
//! dropped. A full barrier on each side makes one of them see the other.

use super::record::WorldRecord;
use crate::glue::{ws_current_clear_task, ws_current_forget, ws_current_set};
use core::ptr;

/// Points this CPU at `record`, the current task's record just found in
/// the table; `false` (not kept) if it has left the table meanwhile.
pub(super) fn set(record: &WorldRecord) -> bool {
    // Before the pointer and the C side's full barrier: `forget` reads it
    // after its own.
    record.note_pointed_at();
    // SAFETY: `record` starts with `struct world_storage_record_v3`
    // (`repr(C)`) and stays alive until it is forgotten on every CPU and a
    // grace period has passed; the C side writes only this CPU's pointer.
    unsafe { ws_current_set(ptr::from_ref(record).cast_mut().cast()) }
}

/// Clears `record`'s task and forgets it on every CPU: it has left the
/// table. A record no CPU pointed at touches no CPU's pointer.
pub(super) fn forget(record: &WorldRecord) {
    let record_v3 = ptr::from_ref(record).cast_mut().cast();
    // SAFETY: `record` starts with `struct world_storage_record_v3`
    // (`repr(C)`) and is live (the caller holds a count); the C side writes
    // its `task`, an atomic, then issues a full barrier.
    unsafe { ws_current_clear_task(record_v3) };
    if record.was_pointed_at() {
        // SAFETY: as above; the C side writes the per-CPU pointers, never
        // the record.
        unsafe { ws_current_forget(record_v3) };
    }
}
