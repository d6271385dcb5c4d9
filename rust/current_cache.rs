// SPDX-License-Identifier: GPL-2.0

//! The current task's world record, cached per CPU (in the C glue: Rust
//! cannot express per-CPU variables here), so the local lookup skips the
//! table walk by TID.
//!
//! Protocol (written out at the C side): the lookup fills the cache only
//! for `current`, under RCU, then re-checks the table; a record leaving the
//! table is forgotten on every CPU before its last reference is dropped.
//! A full barrier on each side makes one of them see the other.

use crate::world::WorldRecord;
use kernel::{ffi::c_void, sync::rcu};

extern "C" {
    fn ws_cache_get() -> *const c_void;
    fn ws_cache_set(record: *const c_void);
    fn ws_cache_forget(record: *const c_void);
}

/// The current task's cached record, valid while `guard` is held.
#[inline]
pub(crate) fn get<'a>(_guard: &'a rcu::Guard) -> Option<&'a WorldRecord> {
    // SAFETY: no requirement; reads this CPU's entry.
    let p = unsafe { ws_cache_get() }.cast::<WorldRecord>();
    // SAFETY: a cached record was in the table when cached and is forgotten
    // before it can be freed (a grace period after leaving the table);
    // `_guard` holds this grace period.
    unsafe { p.as_ref() }
}

/// Caches `record`, which the caller found in the table as the current
/// task's, under `guard`. The caller re-checks the table afterwards.
pub(crate) fn set(record: &WorldRecord, _guard: &rcu::Guard) {
    // SAFETY: no requirement; writes this CPU's entry.
    unsafe { ws_cache_set(core::ptr::from_ref(record).cast()) };
}

/// Forgets `record` on every CPU: it has left the table.
pub(crate) fn forget(record: &WorldRecord) {
    // SAFETY: no requirement; only compares and clears entries.
    unsafe { ws_cache_forget(core::ptr::from_ref(record).cast()) };
}
