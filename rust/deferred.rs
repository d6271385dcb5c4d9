// SPDX-License-Identifier: GPL-2.0

//! Teardowns deferred out of contexts that cannot take a `spinlock_t` (hard
//! IRQ, NMI, under a `raw_spinlock_t`, with preemption or interrupts off).
//!
//! The last Release of an exited world may come from any of them; its
//! teardown takes XArray locks, runs destructors and queues RCU callbacks.
//! There, the record goes on a lock-free list and an `irq_work` hands the
//! list to a work item, which tears each record down in process context.
//! (The C glue holds the list, the `irq_work` and the work item: the kernel
//! crate has no `irq_work`.)

use crate::{
    exports,
    glue::{ws_defer_teardown, ws_flush_deferred, ws_may_take_spinlock},
    world::DeferredRecords,
};
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

/// Called by the C glue's work item with the list of records to tear down.
///
/// # Safety
///
/// `list` is a chain of deferral links queued by [`defer`], now owned by
/// the caller.
#[no_mangle]
pub(crate) unsafe extern "C" fn ws_run_deferred_teardowns(list: *mut bindings::llist_node) {
    // SAFETY: by the contract a chain queued by `defer`, which only
    // `WorldRecord::defer_teardown` calls, owned by us and given up here.
    let records = unsafe { DeferredRecords::new(list) };
    // Records are deferred only while the service is exported, and
    // `Exported::drop` flushes them before it unexports the service.
    let _ = exports::with_service(|service| {
        service.run_deferred_teardowns(records);
        Ok(())
    });
}

#[cfg(world_storage_kunit)]
#[kernel::prelude::kunit_tests(world_storage_deferred)]
mod tests {
    use super::*;
    use crate::{exports::Exported, region::RegionProps, service::Service, tasks, world::World};
    use core::{
        ffi::c_void,
        sync::atomic::{AtomicUsize, Ordering},
    };
    use kernel::{new_spinlock_irq, prelude::*, task::Task};

    /// Destructor calls of the regions made here.
    static DESTRUCTED: AtomicUsize = AtomicUsize::new(0);

    /// Counts in `DESTRUCTED`.
    extern "C" fn count_destructor(_: i32, _: *mut c_void, _: u32, _: *mut c_void) {
        DESTRUCTED.fetch_add(1, Ordering::Relaxed);
    }

    /// A test runs in process context, where teardowns may run; with
    /// interrupts off (a `SpinLockIrq` held) they may not.
    #[test]
    fn teardown_only_where_a_spinlock_may_be_taken() -> Result {
        assert!(may_tear_down_here());
        let lock = KBox::pin_init(new_spinlock_irq!(()), GFP_KERNEL)?;
        let held = lock.lock();
        let under_lock = may_tear_down_here();
        drop(held);
        assert!(!under_lock);
        Ok(())
    }

    /// The last reference of an exited world, dropped with interrupts off,
    /// defers the world's teardown to process context; `flush()` returns
    /// once it has run: the world's object is destructed exactly once.
    #[test]
    fn flush_waits_for_a_deferred_teardown() -> Result {
        let service = KBox::pin_init(Service::new()?, GFP_KERNEL)?;
        // SAFETY: `exported` is dropped at the end, before `service`; the
        // KUnit module has no other `Exported`.
        let exported = unsafe { Exported::new(&service) };
        let mut props = RegionProps::without_callbacks(8, 8)?;
        props.destructor = Some(count_destructor);
        let handle = service.create(props)?;
        let me: &Task = kernel::current!();
        let wid = tasks::world_id(me);
        let object = service.lookup(World::Task(me), handle)?;
        // This world exits (as its exit hook would say): the reference is
        // now its record's last.
        service.task_exited(me);
        let before = DESTRUCTED.load(Ordering::Relaxed);
        let lock = KBox::pin_init(new_spinlock_irq!(()), GFP_KERNEL)?;
        let released = {
            let _irqs_off = lock.lock();
            service.release(wid, object.as_ptr())
        };
        assert!(released.is_ok());
        flush();
        assert_eq!(DESTRUCTED.load(Ordering::Relaxed) - before, 1);
        service.destroy(handle)?;
        drop(exported);
        Ok(())
    }
}
