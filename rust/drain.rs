// SPDX-License-Identifier: GPL-2.0

//! [`DrainCount`]: a count that a destroyer waits to see drain to zero.

use crate::glue::{ws_drained, ws_wait_var_zero};
// `core`'s atomics, not `kernel::sync::atomic`: every remote lookup and Release
// counts here (see "Atomics" in Documentation/world-storage.rst).
use core::sync::atomic::{AtomicUsize, Ordering};

/// A count of outstanding things (references, objects) with a waiter that
/// sleeps until it drops to zero, on the kernel's `wait_var_event()`.
///
/// Incremented and decremented from any context (NMI, hard IRQ, under
/// `rq->lock` included), never blocking: the wake-up of a decrement to zero
/// is deferred where it could not take the wait queue's lock (C glue,
/// `ws_drained()`). Only [`DrainCount::wait_for_zero`] sleeps.
#[repr(transparent)]
pub(crate) struct DrainCount(AtomicUsize);

impl DrainCount {
    /// A count of zero.
    pub(crate) const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// The current value (for tests).
    #[cfg(world_storage_kunit)]
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// One more.
    pub(crate) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// One fewer; wakes the waiter if that was the last.
    ///
    /// The caller must not touch what the count guards after this: the
    /// waiter may free it as soon as it sees zero.
    pub(crate) fn dec(&self) {
        // SeqCst: the decrement is ordered before the waiter's recheck, as
        // `wake_up_var()` requires (a full barrier between condition and wake).
        if self.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            // SAFETY: no requirement; wakes every waiter, in any context,
            // without touching `self`, which the waiter may free at once.
            unsafe { ws_drained() };
        }
    }

    /// Sleeps until the count is zero. Process context only.
    pub(crate) fn wait_for_zero(&self) {
        if self.0.load(Ordering::Acquire) == 0 {
            return;
        }
        // SAFETY: the counter lives at least as long as `&self`; the C side
        // only reads it with READ_ONCE() inside `wait_var_event()`.
        unsafe { ws_wait_var_zero(self.0.as_ptr()) };
    }
}

#[cfg(world_storage_kunit)]
#[kernel::prelude::kunit_tests(world_storage_drain)]
mod tests {
    use super::*;
    use kernel::{
        prelude::*,
        sync::{
            atomic::{Atomic, Relaxed},
            Arc,
        },
        time::{delay::fsleep, Delta},
        workqueue,
    };

    #[test]
    fn counts() {
        let count = DrainCount::new();
        assert_eq!(count.get(), 0);
        count.inc();
        count.inc();
        assert_eq!(count.get(), 2);
        count.dec();
        assert_eq!(count.get(), 1);
        count.dec();
        assert_eq!(count.get(), 0);
    }

    /// The waiter sleeps until a work item brings the count to zero, and
    /// sees what the work item did before its last decrement.
    #[test]
    fn waiter_returns_after_the_last_decrement() -> Result {
        let state = Arc::new((DrainCount::new(), Atomic::new(false)), GFP_KERNEL)?;
        state.0.inc();
        let worker = state.clone();
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            fsleep(Delta::from_millis(20));
            worker.1.store(true, Relaxed);
            worker.0.dec();
        })?;
        state.0.wait_for_zero();
        assert!(state.1.load(Relaxed));
        assert_eq!(state.0.get(), 0);
        Ok(())
    }
}
