// SPDX-License-Identifier: GPL-2.0

//! Attaching a handler to the `sched_switch` tracepoint, found by name (it
//! is not exported to modules). The only `unsafe` of the sample lives here.

use core::ptr;
use kernel::{bindings, error::to_result, ffi::c_void, prelude::*, task::Task};

/// What runs at every context switch, on the switching CPU, with
/// preemption off: `prev` is the current task, about to be switched out.
pub(crate) trait SwitchHandler: Send + Sync {
    /// Called for every switch from `prev` to `next`.
    fn on_switch(&self, prev: &Task, next: &Task);
}

/// `for_each_kernel_tracepoint()` callback: remembers `sched_switch`.
///
/// # Safety
///
/// `tp` is a kernel tracepoint; `data` points to a `*mut tracepoint`.
unsafe extern "C" fn find(tp: *mut bindings::tracepoint, data: *mut c_void) {
    // SAFETY: by the contract; tracepoint names are static C strings.
    if unsafe { CStr::from_char_ptr((*tp).name) } == c"sched_switch" {
        // SAFETY: by the contract.
        unsafe { *data.cast::<*mut bindings::tracepoint>() = tp };
    }
}

/// The probe: `(data, preempt, prev, next, prev_state)`.
///
/// # Safety
///
/// Registered with `data` pointing to an `H` that outlives the registration.
unsafe extern "C" fn probe<H: SwitchHandler>(
    data: *mut c_void,
    _preempt: bool,
    prev: *mut bindings::task_struct,
    next: *mut bindings::task_struct,
    _prev_state: u32,
) {
    // SAFETY: `data` is the handler (contract); the tasks are valid for the
    // tracepoint's duration and `Task` is a transparent `task_struct`.
    unsafe { (*data.cast::<H>()).on_switch(&*prev.cast::<Task>(), &*next.cast::<Task>()) };
}

/// A handler attached to `sched_switch`; detached (and every running probe
/// waited for) on drop, before the handler is dropped.
///
/// # Invariants
///
/// `probe::<H>` is registered on `tp` with `handler`'s address as data.
pub(crate) struct SchedSwitchProbe<H: SwitchHandler> {
    tp: *mut bindings::tracepoint,
    handler: Pin<KBox<H>>,
}

// SAFETY: the tracepoint pointer is only handed back to the tracepoint API.
unsafe impl<H: SwitchHandler> Send for SchedSwitchProbe<H> {}
// SAFETY: as above; `&Self` gives access to nothing else.
unsafe impl<H: SwitchHandler> Sync for SchedSwitchProbe<H> {}

impl<H: SwitchHandler> SchedSwitchProbe<H> {
    /// Finds `sched_switch` and attaches `handler` to it.
    pub(crate) fn new(handler: Pin<KBox<H>>) -> Result<Self> {
        let mut tp: *mut bindings::tracepoint = ptr::null_mut();
        // SAFETY: `find` matches the callback type; `tp` outlives the call.
        unsafe { bindings::for_each_kernel_tracepoint(Some(find), (&raw mut tp).cast()) };
        if tp.is_null() {
            return Err(ENOENT);
        }
        let data = ptr::from_ref::<H>(&handler).cast_mut().cast::<c_void>();
        // SAFETY: `probe::<H>` has the tracepoint's prototype plus `data`;
        // the handler is pinned and outlives the registration (see `drop`).
        to_result(unsafe {
            bindings::tracepoint_probe_register(tp, probe::<H> as *mut c_void, data)
        })?;
        // INVARIANT: registered just above.
        Ok(Self { tp, handler })
    }
}

impl<H: SwitchHandler> Drop for SchedSwitchProbe<H> {
    fn drop(&mut self) {
        let data = ptr::from_ref::<H>(&self.handler)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: registered with these arguments (type invariant). Probes of
        // a non-faultable tracepoint such as `sched_switch` run under
        // `tracepoint_srcu`: after its grace period no probe runs, so the
        // handler may be dropped.
        unsafe {
            bindings::tracepoint_probe_unregister(self.tp, probe::<H> as *mut c_void, data);
            bindings::synchronize_srcu(&raw mut bindings::tracepoint_srcu);
        }
    }
}
