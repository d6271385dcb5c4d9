// SPDX-License-Identifier: GPL-2.0

//! [`ChargeToTask`]: the current task's accounted allocations charged to
//! another task's memory cgroup, as if that task had made them.

use crate::glue::{ws_memcg_put, ws_set_active_memcg, ws_task_memcg_get};
use kernel::{bindings, task::Task};

/// While it lives, the allocations that the current task makes with
/// `__GFP_ACCOUNT` are charged to the memory cgroup of the task it was made
/// for (`set_active_memcg()`): that task's cgroup, or the root cgroup (no
/// limit) for a kernel thread, as the kernel charges their own
/// allocations.
///
/// # Invariants
///
/// - `memcg` is null or holds a reference from `ws_task_memcg_get()`, put
///   once, in `drop`, after it stopped being current's active cgroup.
/// - `previous` was current's active cgroup when `memcg` became it; current
///   is the task that made the value (raw pointers make it neither `Send`
///   nor `Sync`), and values made later are dropped first (scopes nest).
pub(crate) struct ChargeToTask {
    /// Current's active memory cgroup while the value lives.
    memcg: *mut bindings::mem_cgroup,
    /// The active memory cgroup to restore in `drop`.
    previous: *mut bindings::mem_cgroup,
}

impl ChargeToTask {
    /// Charges current's accounted allocations to `task`'s memory cgroup
    /// from now until the value is dropped. Process context.
    pub(crate) fn new(task: &Task) -> Self {
        // SAFETY: `task` is a valid task for the call; the reference it
        // returns (if any) is ours.
        let memcg = unsafe { ws_task_memcg_get(task.as_ptr()) };
        // SAFETY: `memcg` is null or referenced, and it stays referenced
        // until `drop` has made `previous` active again.
        let previous = unsafe { ws_set_active_memcg(memcg) };
        // INVARIANT: the reference and the previous active cgroup, taken
        // by the current task.
        Self { memcg, previous }
    }
}

impl Drop for ChargeToTask {
    fn drop(&mut self) {
        // SAFETY: the current task made `self` (not `Send`) and every later
        // value is dropped already, so `previous` is what it had before
        // `self`; `previous` was active before and is still held by whoever
        // made it active.
        unsafe { ws_set_active_memcg(self.previous) };
        // SAFETY: our reference (type invariant), no longer the active
        // cgroup.
        unsafe { ws_memcg_put(self.memcg) };
    }
}
