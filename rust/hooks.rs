// SPDX-License-Identifier: GPL-2.0

//! The task lifecycle hooks ([`TaskHooks`]) and the owner-unload notifier
//! ([`OwnerNotifier`]).
//!
//! Neither `task_newtask` nor `sched_process_exit` is exported to modules:
//! they are found by name with `for_each_kernel_tracepoint()` and attached
//! with `tracepoint_probe_register()`, both exported.

use crate::storage::WorldStorage;
use core::ptr;
use kernel::{
    bindings,
    error::to_result,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    task::Task,
    types::Opaque,
};

extern "C" {
    fn ws_tracepoint_synchronize_unregister();
}

/// The two tracepoints, once found.
struct Found {
    newtask: *mut bindings::tracepoint,
    exit: *mut bindings::tracepoint,
}

/// `for_each_kernel_tracepoint()` callback.
///
/// # Safety
///
/// `tp` is a kernel tracepoint; `data` points to a `Found`.
unsafe extern "C" fn find_tracepoint(tp: *mut bindings::tracepoint, data: *mut c_void) {
    // SAFETY: by the contract; a tracepoint's name is a static C string.
    let (found, name) = unsafe { (&mut *data.cast::<Found>(), CStr::from_char_ptr((*tp).name)) };
    if name == c"task_newtask" {
        found.newtask = tp;
    } else if name == c"sched_process_exit" {
        found.exit = tp;
    }
}

/// Converts a tracepoint's task argument.
///
/// # Safety
///
/// `task` is a valid task for the probe's duration.
unsafe fn task_ref<'a>(task: *mut bindings::task_struct) -> &'a Task {
    // SAFETY: `Task` is a transparent wrapper of `task_struct`.
    unsafe { &*task.cast::<Task>() }
}

/// Probe of `task_newtask(task, clone_flags)`.
///
/// # Safety
///
/// Called by the tracepoint with the `WorldStorage` registered as `data`.
unsafe extern "C" fn on_task_newtask(
    data: *mut c_void,
    task: *mut bindings::task_struct,
    _flags: u64,
) {
    // SAFETY: `data` is the registered `WorldStorage`, alive until after the
    // probes are unregistered and synchronised; `task` is the new task.
    unsafe { (*data.cast::<WorldStorage>()).task_created(task_ref(task)) };
}

/// Probe of `sched_process_exit(task, group_dead)`.
///
/// # Safety
///
/// As for `on_task_newtask`.
unsafe extern "C" fn on_sched_process_exit(
    data: *mut c_void,
    task: *mut bindings::task_struct,
    _group_dead: bool,
) {
    // SAFETY: as in `on_task_newtask`; `task` is the exiting task.
    unsafe { (*data.cast::<WorldStorage>()).task_exited(task_ref(task)) };
}

/// The probes attached to the task lifecycle; detached on drop.
///
/// # Invariants
///
/// Both probes are registered on `newtask` and `exit` with `storage` as
/// data, and `storage` outlives `self`.
pub(crate) struct TaskHooks {
    newtask: *mut bindings::tracepoint,
    exit: *mut bindings::tracepoint,
    storage: *const WorldStorage,
}

// SAFETY: the pointers are only handed back to the tracepoint API.
unsafe impl Send for TaskHooks {}
// SAFETY: as above; `&TaskHooks` gives access to nothing.
unsafe impl Sync for TaskHooks {}

impl TaskHooks {
    /// Attaches the probes.
    ///
    /// # Safety
    ///
    /// `storage` must outlive the returned value.
    pub(crate) unsafe fn register(storage: &WorldStorage) -> Result<Self> {
        let mut found = Found {
            newtask: ptr::null_mut(),
            exit: ptr::null_mut(),
        };
        // SAFETY: the callback matches the expected signature and `found`
        // lives across the call.
        unsafe {
            bindings::for_each_kernel_tracepoint(Some(find_tracepoint), (&raw mut found).cast())
        };
        if found.newtask.is_null() || found.exit.is_null() {
            pr_err!("task_newtask or sched_process_exit tracepoint not found\n");
            return Err(ENOENT);
        }
        let data = ptr::from_ref(storage).cast_mut().cast::<c_void>();
        // SAFETY: the probe has the tracepoint's prototype plus `data`.
        to_result(unsafe {
            bindings::tracepoint_probe_register(found.newtask, on_task_newtask as *mut c_void, data)
        })?;
        // SAFETY: as above.
        let ret = unsafe {
            bindings::tracepoint_probe_register(
                found.exit,
                on_sched_process_exit as *mut c_void,
                data,
            )
        };
        if ret != 0 {
            // SAFETY: registered just above with these arguments.
            unsafe {
                bindings::tracepoint_probe_unregister(
                    found.newtask,
                    on_task_newtask as *mut c_void,
                    data,
                );
                ws_tracepoint_synchronize_unregister();
            }
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: both registered; the caller keeps `storage` alive.
        Ok(Self {
            newtask: found.newtask,
            exit: found.exit,
            storage,
        })
    }
}

impl Drop for TaskHooks {
    fn drop(&mut self) {
        let data = self.storage.cast_mut().cast::<c_void>();
        // SAFETY: both probes are registered with `data` (type invariant);
        // after the synchronisation no probe runs any more.
        unsafe {
            bindings::tracepoint_probe_unregister(
                self.newtask,
                on_task_newtask as *mut c_void,
                data,
            );
            bindings::tracepoint_probe_unregister(
                self.exit,
                on_sched_process_exit as *mut c_void,
                data,
            );
            ws_tracepoint_synchronize_unregister();
        }
    }
}

/// A module notifier that destroys the regions of an unloading module.
///
/// # Invariants
///
/// While `self` is pinned and alive, `nb` is registered and `storage`
/// outlives it.
#[pin_data(PinnedDrop)]
pub(crate) struct OwnerNotifier {
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    storage: *const WorldStorage,
}

// SAFETY: the notifier block is only touched by the notifier chain.
unsafe impl Send for OwnerNotifier {}
// SAFETY: as above.
unsafe impl Sync for OwnerNotifier {}

/// Module notifier callback.
///
/// # Safety
///
/// `nb` is the `nb` field of a registered `OwnerNotifier`; `data` is the
/// module changing state.
unsafe extern "C" fn on_module_state(
    nb: *mut bindings::notifier_block,
    state: c_ulong,
    data: *mut c_void,
) -> c_int {
    if state == bindings::module_state_MODULE_STATE_GOING as c_ulong {
        // SAFETY: by the contract `nb` is inside a live `OwnerNotifier`.
        let this = unsafe {
            &*kernel::container_of!(
                nb.cast::<Opaque<bindings::notifier_block>>(),
                OwnerNotifier,
                nb
            )
        };
        let module = data.cast::<bindings::module>();
        // SAFETY: the module is valid during its notifier call; its name is a
        // NUL-terminated array.
        let name = unsafe { CStr::from_char_ptr((*module).name.as_ptr()) };
        // SAFETY: `storage` outlives the notifier (type invariant).
        unsafe { (*this.storage).owner_going(module, name) };
    }
    bindings::NOTIFY_OK as c_int
}

impl OwnerNotifier {
    /// Registers the notifier.
    ///
    /// # Safety
    ///
    /// `storage` must outlive the returned value.
    pub(crate) unsafe fn register(storage: &WorldStorage) -> impl PinInit<Self, Error> + '_ {
        // `storage` is written first: the notifier may fire as soon as it is
        // registered.
        try_pin_init!(Self {
            storage,
            nb <- Opaque::try_ffi_init(|nb: *mut bindings::notifier_block| {
                // SAFETY: `nb` is the field being initialised in place; it
                // stays pinned until `drop` unregisters it.
                unsafe {
                    nb.write(bindings::notifier_block {
                        notifier_call: Some(on_module_state),
                        next: ptr::null_mut(),
                        priority: 0,
                    });
                    to_result(bindings::register_module_notifier(nb))
                }
            }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for OwnerNotifier {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: registered in `register` (type invariant).
        unsafe { bindings::unregister_module_notifier(self.nb.get()) };
    }
}
