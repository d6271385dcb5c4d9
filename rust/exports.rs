// SPDX-License-Identifier: GPL-2.0

//! The exported C ABI (`include/world_storage.h`): raw pointers in, errnos
//! out. The `EXPORT_SYMBOL_GPL()` lines are in the C glue.

use crate::{
    client_api::ffi::Props, glue::ws_warn_bad_release, object_layout::ObjectLayout,
    region::RegionProps, service::Service, world::World,
};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
    task::Task,
};

/// The loaded module's service. Set before the hooks are attached and
/// cleared after they are detached and every region is gone.
static STORAGE: AtomicPtr<Service> = AtomicPtr::new(core::ptr::null_mut());

/// Publishes the service for the exported functions.
pub(crate) fn set_storage(storage: Option<&Service>) {
    let p = storage.map_or(core::ptr::null_mut(), |s| core::ptr::from_ref(s).cast_mut());
    STORAGE.store(p, Ordering::Release);
}

/// The loaded module's service, for callers outside the module's own
/// structure (the exported functions, debugfs).
pub(crate) fn storage() -> Result<&'static Service> {
    let p = STORAGE.load(Ordering::Acquire);
    // SAFETY: set only while the module's `Service` is alive; callers
    // of the exported functions are modules that depend on this one, so
    // they run between our init and exit.
    unsafe { p.as_ref() }.ok_or(ENODEV)
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

/// See `world_storage_create()` in `include/world_storage.h`.
///
/// # Safety
///
/// `props` is NULL or a valid `struct world_storage_props`; `handle` is NULL
/// or valid for writes.
#[no_mangle]
unsafe extern "C" fn world_storage_create(props: *const Props, handle: *mut u64) -> c_int {
    // SAFETY: NULL or valid by the contract.
    let Some(props) = (unsafe { props.as_ref() }) else {
        return errno(Err(EINVAL));
    };
    if handle.is_null() {
        return errno(Err(EINVAL));
    }
    errno((|| {
        let layout = ObjectLayout::new(props.kind, props.size, props.align)?;
        let h = storage()?.create(RegionProps {
            layout,
            constructor: props.constructor,
            destructor: props.destructor,
            arg: props.arg,
            owner: props.owner.cast(),
        })?;
        // SAFETY: checked non-null above; valid by the contract.
        unsafe { put(handle, h) }
    })())
}

/// See `world_storage_destroy()` in `include/world_storage.h`.
#[no_mangle]
extern "C" fn world_storage_destroy(handle: u64) -> c_int {
    errno(storage().and_then(|s| s.destroy(handle)))
}

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
    errno(storage().and_then(|s| {
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
    errno(storage().and_then(|s| {
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
    let r = storage().and_then(|s| s.release(wid, object.cast::<u8>()));
    if r == Err(EINVAL) {
        // SAFETY: no requirement; any context.
        unsafe { ws_warn_bad_release() };
    }
    errno(r)
}
