// SPDX-License-Identifier: GPL-2.0

//! [`IrqsOff`]: this CPU's interrupts off for a scope.

use crate::glue::{ws_local_irq_restore, ws_local_irq_save};
use core::marker::PhantomData;
use kernel::ffi::c_ulong;

/// This CPU's interrupts are off (`local_irq_save()`) until the value is
/// dropped, which restores them as they were. Also on `PREEMPT_RT`, where a
/// `spinlock_t` taken with `_irqsave` leaves them on: for a short, bounded
/// section that other CPUs may spin on and that must not be interrupted or
/// preempted on its own.
///
/// # Invariants
///
/// `flags` is what `ws_local_irq_save()` returned on this CPU (the value is
/// not `Send`), restored exactly once, in `drop`.
pub(crate) struct IrqsOff {
    flags: c_ulong,
    _not_send: PhantomData<*mut ()>,
}

impl IrqsOff {
    /// Turns this CPU's interrupts off.
    pub(crate) fn new() -> Self {
        // SAFETY: no requirement; the flags are restored by `drop`.
        let flags = unsafe { ws_local_irq_save() };
        // INVARIANT: just saved, on this CPU.
        Self {
            flags,
            _not_send: PhantomData,
        }
    }
}

impl Drop for IrqsOff {
    fn drop(&mut self) {
        // SAFETY: the flags saved on this CPU by `new` (type invariant).
        unsafe { ws_local_irq_restore(self.flags) };
    }
}
