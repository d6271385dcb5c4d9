// SPDX-License-Identifier: GPL-2.0

//! Lookup counters, per CPU (in the C glue): the lookup paths never write a
//! shared cache line for them.

use crate::glue::{ws_count_lookup_local, ws_count_lookup_remote, ws_sum_lookups};

/// Counts one local lookup on this CPU.
#[inline]
pub(crate) fn count_local_lookup() {
    // SAFETY: no requirement; `this_cpu_inc()` is safe in any context.
    unsafe { ws_count_lookup_local() }
}

/// Counts one remote lookup on this CPU.
#[inline]
pub(crate) fn count_remote_lookup() {
    // SAFETY: no requirement; `this_cpu_inc()` of the remote counter is
    // safe in any context.
    unsafe { ws_count_lookup_remote() }
}

/// Local and remote lookups so far, summed over every CPU.
pub(crate) fn lookup_totals() -> (u64, u64) {
    let (mut local, mut remote) = (0, 0);
    // SAFETY: both pointers are valid for writes.
    unsafe { ws_sum_lookups(&mut local, &mut remote) };
    (local as u64, remote as u64)
}
