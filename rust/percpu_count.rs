// SPDX-License-Identifier: GPL-2.0

//! [`PerCpuCount`]: a count kept per CPU, which only a waiter sums.

use crate::glue::{
    ws_percpu_count_add, ws_percpu_count_alloc, ws_percpu_count_free, ws_percpu_count_sum,
};
use core::ptr::NonNull;
use kernel::{
    ffi::c_long,
    prelude::*,
    time::{delay::fsleep, Delta},
};

/// How long a waiter sleeps between two sums, at most.
const WAIT_STEP_MS: u32 = 10;

/// A count of outstanding things that any CPU changes without writing to a
/// line another CPU writes: each CPU adds to its own count (a CPU may go
/// below zero: a thing counted on one CPU can be dropped on another), and
/// only the sum of every CPU's means anything. Incremented and decremented
/// from any context (hard IRQ and NMI included), never blocking.
///
/// Meant for things that stop being added before anyone waits for them to
/// drain (remote references, after their region is unpublished and a grace
/// period passed): then every CPU's count only goes down while a waiter
/// sums, so a sum read CPU by CPU is never below the true count, and a sum
/// of 0 means none is left.
///
/// # Invariants
///
/// `counts` is a per-CPU `long` from `ws_percpu_count_alloc()`, owned by
/// this value and freed on drop.
pub(crate) struct PerCpuCount {
    counts: NonNull<c_long>,
}

// SAFETY: the per-CPU counts are changed only with `this_cpu_add()` (each
// CPU its own, atomically with respect to interrupts) and summed with
// `READ_ONCE()`, from any thread.
unsafe impl Send for PerCpuCount {}
// SAFETY: as for `Send`: every access through `&self` is one of those.
unsafe impl Sync for PerCpuCount {}

impl PerCpuCount {
    /// A count of zero on every CPU.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: no requirement.
        let counts = unsafe { ws_percpu_count_alloc() };
        // INVARIANT: a new per-CPU `long`, ours.
        Ok(Self {
            counts: NonNull::new(counts).ok_or(ENOMEM)?,
        })
    }

    /// One more, on this CPU.
    pub(crate) fn inc(&self) {
        // SAFETY: `counts` is a live per-CPU `long` (type invariant).
        unsafe { ws_percpu_count_add(self.counts.as_ptr(), 1) };
    }

    /// One fewer, on this CPU.
    pub(crate) fn dec(&self) {
        // SAFETY: as in `inc`.
        unsafe { ws_percpu_count_add(self.counts.as_ptr(), -1) };
    }

    /// The sum of every CPU's count (see the type's doc for when it is
    /// exact).
    pub(crate) fn sum(&self) -> isize {
        // SAFETY: as in `inc`.
        unsafe { ws_percpu_count_sum(self.counts.as_ptr()) as isize }
    }

    /// Sleeps until the sum is zero or below, for at most `timeout_ms`
    /// milliseconds (summing every `WAIT_STEP_MS` at most); whether it is.
    /// Process context only.
    pub(crate) fn wait_for_zero_timeout(&self, timeout_ms: u32) -> bool {
        self.wait(Some(timeout_ms))
    }

    /// Sleeps until the sum is zero or below, however long that takes.
    /// Process context only.
    pub(crate) fn wait_for_zero(&self) {
        self.wait(None);
    }

    /// Sums, then sleeps 1, 2, 4, then `WAIT_STEP_MS` ms between sums until
    /// the sum is zero or below (`true`), or `limit` ms went by (`false`).
    fn wait(&self, limit: Option<u32>) -> bool {
        let mut waited: u32 = 0;
        let mut step = 1;
        loop {
            if self.sum() <= 0 {
                return true;
            }
            if limit.is_some_and(|limit| waited >= limit) {
                return false;
            }
            fsleep(Delta::from_millis(i64::from(step)));
            waited = waited.saturating_add(step);
            step = (step * 2).min(WAIT_STEP_MS);
        }
    }
}

impl Drop for PerCpuCount {
    fn drop(&mut self) {
        // SAFETY: ours, from `ws_percpu_count_alloc()` (type invariant), and
        // no longer used.
        unsafe { ws_percpu_count_free(self.counts.as_ptr()) };
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_percpu_count)]
mod tests {
    use super::*;

    /// Increments and decrements sum up whatever CPU made them; a waiter
    /// sees zero at once, and times out while the sum is above.
    #[test]
    fn counts_sum_and_drain() -> Result {
        let count = PerCpuCount::new()?;
        assert_eq!(count.sum(), 0);
        assert!(count.wait_for_zero_timeout(0));
        count.inc();
        count.inc();
        count.dec();
        assert_eq!(count.sum(), 1);
        assert!(!count.wait_for_zero_timeout(3));
        count.dec();
        assert_eq!(count.sum(), 0);
        assert!(count.wait_for_zero_timeout(1000));
        Ok(())
    }
}
