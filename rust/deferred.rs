// SPDX-License-Identifier: GPL-2.0

//! Teardowns deferred out of contexts that cannot take a `spinlock_t` (hard
//! IRQ, NMI, under a `raw_spinlock_t`, with preemption or interrupts off).
//!
//! The last Release of an exited world may come from any of them; its
//! teardown takes XArray locks, runs destructors and queues RCU callbacks.
//! There, the record goes on a lock-free list and an `irq_work` hands the
//! list to a work item, which tears each record down in process context.
//! (The C glue holds the list, the `irq_work` and the work item: the kernel
//! crate has no `irq_work`. The work item calls back into the service
//! through `exports::ws_run_deferred_teardowns`.)

use crate::glue::{ws_defer_teardown, ws_flush_deferred, ws_may_take_spinlock};
use kernel::bindings;

/// Whether this context may take a `spinlock_t` and call destructors: not
/// atomic in any way (`preemptible()`). Always `false` on a kernel without
/// a preemption count (no x86 kernel since `PREEMPT_LAZY`), where every
/// last-reference teardown is deferred, at exit and in Destroy too.
pub(crate) fn may_tear_down_here() -> bool {
    // SAFETY: no requirement; reads this CPU's state.
    unsafe { ws_may_take_spinlock() }
}

/// Queues the record linked by `node` for teardown in process context.
/// Any context.
///
/// # Safety
///
/// `node` is the deferral link of a record whose last reference the caller
/// dropped; the record stays alive until the work item tears it down.
pub(crate) unsafe fn defer(node: *mut bindings::llist_node) {
    // SAFETY: by the contract `node` is linked once and outlives the list.
    unsafe { ws_defer_teardown(node) }
}

/// Waits until every teardown deferred so far has run, the objects and
/// records it retired are freed, and every deferred wake-up of a drain
/// waiter has run: after this, nothing of the module's is queued anywhere.
/// Process context.
pub(crate) fn flush() {
    // SAFETY: no requirement; may sleep, which the caller allows.
    unsafe { ws_flush_deferred() }
}
