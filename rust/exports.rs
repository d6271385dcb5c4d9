// SPDX-License-Identifier: GPL-2.0

//! The exported C ABI (`include/world_storage.h`): raw pointers in, errnos
//! out. The `EXPORT_SYMBOL_GPL()` lines are in the C glue.

use crate::{
    client_api::ffi::Props,
    glue::ws_warn_bad_release,
    handle::HANDLE_INVALID,
    object_layout::ObjectLayout,
    region::RegionProps,
    service::Service,
    trace,
    world::{DeferredRecords, World},
};
use core::ops::ControlFlow;
// `core`'s atomics, not `kernel::sync::atomic`: every exported call loads
// `SERVICE` (see "Atomics" in Documentation/world-storage.rst).
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
    str::CString,
    task::Task,
};

/// The loaded module's service, for its entry points outside the module's
/// own structure: the exported functions and the C glue's deferred-teardown
/// work item. Non-null exactly while an [`Exported`] lives.
static SERVICE: AtomicPtr<Service> = AtomicPtr::new(core::ptr::null_mut());

/// The service, exported: the exported functions and the deferred
/// teardowns reach it while this lives.
///
/// Dropping it ends the service ([`Service::shutdown`]: every region left is
/// destroyed, every world detached, every deferred teardown run), then
/// unexports it: from then on the exported functions return `ENODEV`.
///
/// # Invariants
///
/// `SERVICE` points to a service that outlives `self`.
pub(crate) struct Exported(());

impl Exported {
    /// Exports `service`.
    ///
    /// # Safety
    ///
    /// `service` outlives the returned value, and no other `Exported` lives.
    pub(crate) unsafe fn new(service: &Service) -> Self {
        SERVICE.store(core::ptr::from_ref(service).cast_mut(), Ordering::Release);
        // INVARIANT: just stored; the caller keeps `service` alive.
        Self(())
    }
}

impl Drop for Exported {
    fn drop(&mut self) {
        // The deferred teardowns that `shutdown` flushes still find the
        // service, so it is unexported only after.
        with_service(|service| {
            service.shutdown();
            Ok(())
        })
        .ok();
        SERVICE.store(core::ptr::null_mut(), Ordering::Release);
    }
}

/// Calls `f` with the exported service; `ENODEV` if there is none.
pub(crate) fn with_service<R>(f: impl FnOnce(&Service) -> Result<R>) -> Result<R> {
    let p = SERVICE.load(Ordering::Acquire);
    // SAFETY: `SERVICE` is non-null only while an `Exported` lives, and its
    // service outlives it (type invariant). The callers run before that
    // `Exported` is dropped: the exported functions are called by modules
    // that depend on this one, which the module loader unloads first; the
    // deferred-teardown work item is flushed by `Exported::drop` before it
    // clears `SERVICE`. The reference does not leave `f`.
    let service = unsafe { p.as_ref() }.ok_or(ENODEV)?;
    f(service)
}

fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Writes `value` to a caller's out-pointer; `EINVAL` if it is NULL.
///
/// # Safety
///
/// `out` is NULL or valid for writes.
unsafe fn put<T>(out: *mut T, value: T) -> Result {
    if out.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: non-null and valid by the contract.
    unsafe { out.write(value) };
    Ok(())
}

/// See `world_storage_create()` in `include/world_storage.h`: on any
/// failure but a NULL `handle`, `*handle` is `WORLD_STORAGE_HANDLE_INVALID`.
///
/// # Safety
///
/// `props` is NULL or a valid `struct world_storage_props`; `handle` is NULL
/// or valid for writes.
#[no_mangle]
unsafe extern "C" fn world_storage_create(props: *const Props, handle: *mut u64) -> c_int {
    if handle.is_null() {
        return errno(Err(EINVAL));
    }
    let created = (|| {
        // SAFETY: NULL or valid by the contract.
        let props = unsafe { props.as_ref() }.ok_or(EINVAL)?;
        let layout = ObjectLayout::new(props.kind, props.size, props.align)?;
        let owner = props.owner.cast::<bindings::module>();
        let owner_name = if owner.is_null() {
            c"-"
        } else {
            // SAFETY: the caller's own module by the contract, live while it
            // calls; its name is a NUL-terminated array.
            unsafe { CStr::from_char_ptr((*owner).name.as_ptr()) }
        };
        with_service(|s| {
            s.create(RegionProps {
                layout,
                constructor: props.constructor,
                destructor: props.destructor,
                arg: props.arg,
                owner,
                owner_name: CString::try_from(owner_name)?,
            })
        })
    })();
    // SAFETY: checked non-null above; valid for writes by the contract.
    unsafe { handle.write(*created.as_ref().unwrap_or(&HANDLE_INVALID)) };
    errno(created.map(|_| ()))
}

/// See `world_storage_destroy()` in `include/world_storage.h`.
#[no_mangle]
extern "C" fn world_storage_destroy(handle: u64) -> c_int {
    errno(with_service(|s| s.destroy(handle)))
}

/// Called by the C glue's work item with the list of records to tear down.
///
/// # Safety
///
/// `list` is a chain of deferral links queued by `deferred::defer`, now owned by
/// the caller.
#[no_mangle]
pub(crate) unsafe extern "C" fn ws_run_deferred_teardowns(list: *mut bindings::llist_node) {
    // SAFETY: by the contract a chain queued by `deferred::defer`, which only
    // `WorldRecord::defer_teardown` calls, owned by us and given up here.
    let records = unsafe { DeferredRecords::new(list) };
    // Records are deferred only while the service is exported, and
    // `Exported::drop` flushes them before it unexports the service.
    let _ = with_service(|service| {
        service.run_deferred_teardowns(records);
        Ok(())
    });
}

// The functions of the glue's header that this file implements, at the
// header's prototypes: a definition that drifts from its prototype fails
// to build.
const _: unsafe extern "C" fn(u64, *mut *mut c_void) -> c_int = ws_lookup_local_slow;
const _: unsafe extern "C" fn(*mut bindings::llist_node) = ws_run_deferred_teardowns;

/// The slow path of `world_storage_lookup_local()`, whose fast path is in
/// the C glue: answers every case the fast path leaves.
///
/// # Safety
///
/// `object` is NULL or valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn ws_lookup_local_slow(
    handle: u64,
    object: *mut *mut c_void,
) -> c_int {
    errno(with_service(|s| {
        let p = s.lookup_local(handle)?;
        // SAFETY: NULL or valid by the contract.
        unsafe { put(object, p.as_ptr().cast()) }
    }))
}

/// Shared part of the two remote lookups.
///
/// # Safety
///
/// `object` is NULL or valid for writes.
unsafe fn lookup(world: World<'_>, handle: u64, object: *mut *mut c_void) -> c_int {
    if object.is_null() {
        return errno(Err(EINVAL));
    }
    errno(with_service(|s| {
        let p = s.lookup(world, handle)?;
        // SAFETY: checked non-null; valid by the contract.
        unsafe { put(object, p.as_ptr().cast()) }
    }))
}

/// See `world_storage_lookup()` in `include/world_storage.h`.
///
/// # Safety
///
/// `object` is NULL or valid for writes.
#[no_mangle]
unsafe extern "C" fn world_storage_lookup(
    wid: i32,
    handle: u64,
    object: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { lookup(World::Id(wid), handle, object) }
}

/// See `world_storage_lookup_task()` in `include/world_storage.h`.
///
/// # Safety
///
/// `task` is NULL or a valid task; `object` is NULL or valid for writes.
#[no_mangle]
unsafe extern "C" fn world_storage_lookup_task(
    task: *mut bindings::task_struct,
    handle: u64,
    object: *mut *mut c_void,
) -> c_int {
    if task.is_null() {
        return errno(Err(EINVAL));
    }
    // SAFETY: `Task` is a transparent wrapper of `task_struct`; valid by the
    // contract.
    let task = unsafe { &*task.cast::<Task>() };
    // SAFETY: forwarded contract.
    unsafe { lookup(World::Task(task), handle, object) }
}

/// See `world_storage_release()` in `include/world_storage.h`.
#[no_mangle]
extern "C" fn world_storage_release(wid: i32, object: *mut c_void) -> c_int {
    let r = with_service(|s| s.release(wid, object.cast::<u8>()));
    if r == Err(EINVAL) {
        trace::bad_release(wid, object);
        // SAFETY: no requirement; any context.
        unsafe { ws_warn_bad_release() };
    }
    errno(r)
}

/// A visit's callback (see `world_storage_for_each()`): `(world ID,
/// object, arg)`, 0 to go on, any other value to stop the visit with it.
type VisitFn = unsafe extern "C" fn(i32, *mut c_void, *mut c_void) -> c_int;

/// See `world_storage_for_each()` in `include/world_storage.h`.
///
/// # Safety
///
/// `visit` is NULL or callable with `arg` as the header says.
#[no_mangle]
unsafe extern "C" fn world_storage_for_each(
    handle: u64,
    visit: Option<VisitFn>,
    arg: *mut c_void,
) -> c_int {
    let Some(visit) = visit else {
        return errno(Err(EINVAL));
    };
    let visited = with_service(|s| {
        s.visit(handle, |wid, object| {
            // SAFETY: callable with `arg` by the contract; `object` is valid
            // until it returns (`Service::visit`).
            match unsafe { visit(wid, object.as_ptr().cast(), arg) } {
                0 => ControlFlow::Continue(()),
                stop => ControlFlow::Break(stop),
            }
        })
    });
    match visited {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(stop)) => stop,
        Err(e) => e.to_errno(),
    }
}

#[cfg(world_storage_kunit)]
#[kernel::prelude::kunit_tests(world_storage_deferred)]
mod tests {
    use super::*;
    use crate::{deferred, region::RegionProps, tasks};
    use core::{
        ffi::c_void,
        sync::atomic::{AtomicUsize, Ordering},
    };
    use kernel::{new_spinlock_irq, task::Task};

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
        assert!(deferred::may_tear_down_here());
        let lock = KBox::pin_init(new_spinlock_irq!(()), GFP_KERNEL)?;
        let held = lock.lock();
        let under_lock = deferred::may_tear_down_here();
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
        deferred::flush();
        assert_eq!(DESTRUCTED.load(Ordering::Relaxed) - before, 1);
        service.destroy(handle)?;
        drop(exported);
        Ok(())
    }
}
