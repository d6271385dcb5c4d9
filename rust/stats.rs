// SPDX-License-Identifier: GPL-2.0

//! Lookup counters, per CPU (in the C glue): the lookup paths never write a
//! shared cache line for them.

use kernel::ffi::c_ulong;

extern "C" {
    fn ws_count_lookup_local();
    fn ws_count_lookup_remote();
    fn ws_sum_lookups(local: *mut c_ulong, remote: *mut c_ulong);
}

/// Counts one local lookup on this CPU.
#[inline]
pub(crate) fn count_local_lookup() {
    // SAFETY: no requirement; `this_cpu_inc()` is safe in any context.
    unsafe { ws_count_lookup_local() }
}

/// Counts one remote lookup on this CPU.
#[inline]
pub(crate) fn count_remote_lookup() {
    // SAFETY: as above.
    unsafe { ws_count_lookup_remote() }
}

/// Local and remote lookups so far, summed over every CPU.
pub(crate) fn lookup_totals() -> (u64, u64) {
    let (mut local, mut remote) = (0, 0);
    // SAFETY: both pointers are valid for writes.
    unsafe { ws_sum_lookups(&mut local, &mut remote) };
    (local as u64, remote as u64)
}
