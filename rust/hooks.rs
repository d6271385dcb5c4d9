// SPDX-License-Identifier: GPL-2.0

//! The task lifecycle hooks ([`TaskHooks`]) and the owner-unload notifier
//! ([`OwnerNotifier`]).
//!
//! None of `task_newtask`, `sched_process_exec` and `sched_process_exit` is
//! exported to modules: they are found by name with
//! `for_each_kernel_tracepoint()` and attached with
//! `tracepoint_probe_register()`, both exported.

use crate::{glue::ws_tracepoint_synchronize_unregister, service::Service};
use core::ptr;
use kernel::{
    bindings,
    error::to_result,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    task::{Pid, Task},
    types::{Opaque, ScopeGuard},
};

/// A probe: a tracepoint's name and the function attached to it.
struct Probe {
    name: &'static CStr,
    function: *mut c_void,
}

/// The probes, in the order they are attached.
const PROBES: [Probe; 3] = [
    Probe {
        name: c"task_newtask",
        function: ws_probe_task_newtask as *mut c_void,
    },
    Probe {
        name: c"sched_process_exec",
        function: ws_probe_sched_process_exec as *mut c_void,
    },
    Probe {
        name: c"sched_process_exit",
        function: ws_probe_sched_process_exit as *mut c_void,
    },
];

/// The tracepoints of [`PROBES`], by index, once found.
type Tracepoints = [*mut bindings::tracepoint; PROBES.len()];

/// `for_each_kernel_tracepoint()` callback.
///
/// # Safety
///
/// `tp` is a kernel tracepoint; `data` points to a `Tracepoints`.
unsafe extern "C" fn find_tracepoint(tp: *mut bindings::tracepoint, data: *mut c_void) {
    // SAFETY: by the contract; a tracepoint's name is a static C string.
    let (found, name) = unsafe {
        (
            &mut *data.cast::<Tracepoints>(),
            CStr::from_char_ptr((*tp).name),
        )
    };
    for (slot, probe) in found.iter_mut().zip(PROBES.iter()) {
        if name == probe.name {
            *slot = tp;
        }
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

// The probes, at the glue header's prototypes: a definition that drifts
// from its prototype fails to build.
const _: unsafe extern "C" fn(*mut c_void, *mut bindings::task_struct, u64) = ws_probe_task_newtask;
const _: unsafe extern "C" fn(
    *mut c_void,
    *mut bindings::task_struct,
    kernel::task::Pid,
    *mut bindings::linux_binprm,
) = ws_probe_sched_process_exec;
const _: unsafe extern "C" fn(*mut c_void, *mut bindings::task_struct, bool) =
    ws_probe_sched_process_exit;

/// Probe of `task_newtask(task, clone_flags)`.
///
/// # Safety
///
/// Called by the tracepoint with the `Service` registered as `data`.
#[no_mangle]
pub(crate) unsafe extern "C" fn ws_probe_task_newtask(
    data: *mut c_void,
    task: *mut bindings::task_struct,
    _flags: u64,
) {
    // SAFETY: `data` is the registered `Service`, alive until after the
    // probes are unregistered and synchronised; `task` is the new task.
    unsafe { (*data.cast::<Service>()).task_created(task_ref(task)) };
}

/// Probe of `sched_process_exec(task, old_pid, bprm)`, in `task`'s context.
///
/// # Safety
///
/// Called by the tracepoint with the `Service` registered as `data`.
#[no_mangle]
pub(crate) unsafe extern "C" fn ws_probe_sched_process_exec(
    data: *mut c_void,
    task: *mut bindings::task_struct,
    _old_pid: Pid,
    _bprm: *mut bindings::linux_binprm,
) {
    // `task` is current: `exec_binprm()` passes `current`.
    debug_assert!(task == kernel::current!().as_ptr());
    // SAFETY: `data` is the registered `Service`, alive until after the
    // probes are unregistered and synchronised.
    let service = unsafe { &*data.cast::<Service>() };
    service.task_execed(kernel::current!());
}

/// Probe of `sched_process_exit(task, group_dead)`, in `task`'s context.
///
/// # Safety
///
/// Called by the tracepoint with the `Service` registered as `data`.
#[no_mangle]
pub(crate) unsafe extern "C" fn ws_probe_sched_process_exit(
    data: *mut c_void,
    task: *mut bindings::task_struct,
    _group_dead: bool,
) {
    // `task` is current: `do_exit()` passes `current`.
    debug_assert!(task == kernel::current!().as_ptr());
    // SAFETY: `data` is the registered `Service`, alive until after the
    // probes are unregistered and synchronised.
    let service = unsafe { &*data.cast::<Service>() };
    service.task_exited(kernel::current!());
}

/// Detaches the first `n` probes of `tracepoints` and waits until none of
/// them runs any more.
///
/// # Safety
///
/// Those probes are attached to `tracepoints` with `data`.
unsafe fn detach(tracepoints: &Tracepoints, n: usize, data: *mut c_void) {
    for (tp, probe) in tracepoints.iter().zip(PROBES.iter()).take(n) {
        // SAFETY: attached with these arguments, by the contract.
        unsafe { bindings::tracepoint_probe_unregister(*tp, probe.function, data) };
    }
    // SAFETY: no requirement; may sleep, as every caller can.
    unsafe { ws_tracepoint_synchronize_unregister() };
}

/// The probes attached to the task lifecycle; detached on drop.
///
/// # Invariants
///
/// Every probe of [`PROBES`] is attached to its tracepoint in
/// `tracepoints` with `storage` as data, and `storage` outlives `self`.
pub(crate) struct TaskHooks {
    tracepoints: Tracepoints,
    storage: *const Service,
}

// SAFETY: the pointers are only handed back to the tracepoint API.
unsafe impl Send for TaskHooks {}
// SAFETY: `&TaskHooks` gives access to nothing: its fields are read only by
// its drop, which hands them back to the tracepoint API.
unsafe impl Sync for TaskHooks {}

impl TaskHooks {
    /// Attaches the probes.
    ///
    /// # Safety
    ///
    /// `storage` must outlive the returned value.
    pub(crate) unsafe fn register(storage: &Service) -> Result<Self> {
        let mut tracepoints: Tracepoints = [ptr::null_mut(); PROBES.len()];
        // SAFETY: the callback matches the expected signature and
        // `tracepoints` lives across the call.
        unsafe {
            bindings::for_each_kernel_tracepoint(
                Some(find_tracepoint),
                (&raw mut tracepoints).cast(),
            )
        };
        if let Some(i) = tracepoints.iter().position(|tp| tp.is_null()) {
            pr_err!(
                "tracepoint {} not found\n",
                PROBES[i].name.to_str().unwrap_or("?")
            );
            return Err(ENOENT);
        }
        let data = ptr::from_ref(storage).cast_mut().cast::<c_void>();
        let mut attached = ScopeGuard::new_with_data(0, |n| {
            // SAFETY: the first `n` probes were attached just below.
            unsafe { detach(&tracepoints, n, data) }
        });
        for (tp, probe) in tracepoints.iter().zip(PROBES.iter()) {
            // SAFETY: the probe has the tracepoint's prototype plus `data`.
            to_result(unsafe { bindings::tracepoint_probe_register(*tp, probe.function, data) })?;
            *attached += 1;
        }
        attached.dismiss();
        // INVARIANT: every probe attached; the caller keeps `storage` alive.
        Ok(Self {
            tracepoints,
            storage,
        })
    }
}

impl Drop for TaskHooks {
    fn drop(&mut self) {
        let data = self.storage.cast_mut().cast::<c_void>();
        // SAFETY: every probe is attached with `data` (type invariant).
        unsafe { detach(&self.tracepoints, PROBES.len(), data) };
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
    storage: *const Service,
}

// SAFETY: the notifier block is only touched by the notifier chain.
unsafe impl Send for OwnerNotifier {}
// SAFETY: `&OwnerNotifier` gives access to nothing: the notifier block is
// touched only by the notifier chain and by the drop, which unregisters it.
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
    pub(crate) unsafe fn register(storage: &Service) -> impl PinInit<Self, Error> + '_ {
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
