// SPDX-License-Identifier: GPL-2.0

//! [`ThreadList`]: a snapshot of every thread, for Create's scan.

use crate::glue::ws_collect_threads;
use kernel::{bindings, prelude::*, sync::aref::ARef, task::Task};

/// Every thread that was in the system at one moment (not the idle tasks),
/// each kept alive by a reference.
pub(crate) struct ThreadList(KVec<ARef<Task>>);

impl ThreadList {
    /// Takes the snapshot. Process context; may sleep.
    pub(crate) fn collect() -> Result<Self> {
        let mut cap = 256;
        loop {
            let mut raw = KVec::<*mut bindings::task_struct>::with_capacity(cap, GFP_KERNEL)?;
            // SAFETY: `raw` has room for `cap` pointers; the C side walks the
            // task list under RCU and stores at most `cap` referenced tasks.
            let total = unsafe { ws_collect_threads(raw.as_mut_ptr(), cap) };
            let stored = total.min(cap);
            // SAFETY: the C side initialised the first `stored` elements.
            unsafe { raw.inc_len(stored) };
            let mut tasks = KVec::with_capacity(stored, GFP_KERNEL);
            for &p in raw.iter() {
                // SAFETY: each stored task carries a reference that we own;
                // `ARef` takes it over (and drops it on any early return).
                let task =
                    unsafe { ARef::from_raw(core::ptr::NonNull::new_unchecked(p.cast::<Task>())) };
                if let Ok(t) = tasks.as_mut() {
                    // Capacity was reserved, so this cannot fail.
                    let _ = t.push(task, GFP_KERNEL);
                }
            }
            let tasks = tasks?;
            if total <= cap {
                return Ok(Self(tasks));
            }
            // More threads than room: try again with more.
            cap = total + total / 4 + 16;
        }
    }

    /// The threads.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Task> {
        self.0.iter().map(|t| &**t)
    }
}
