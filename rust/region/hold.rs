// SPDX-License-Identifier: GPL-2.0

//! [`RegionHold`]: a region held against its Destroy outside RCU, for as
//! long as a visit of its objects runs.

use super::{Region, RegionTable};
use core::{ops::Deref, ptr::NonNull};
use kernel::sync::rcu;

/// A region held as a remote reference holds it: counted in its
/// `remote_refs`, so its Destroy, which waits for that count to drain
/// before it sweeps the objects, waits until this is dropped.
///
/// # Invariants
///
/// `region` points to a region on whose `remote_refs` this value owns one
/// count, taken under RCU while the region was published in `table`. An
/// [`super::Unpublished`] region is freed only after a grace period that
/// began once it left the table, and after its `remote_refs` drained, so
/// the region outlives this value.
pub(crate) struct RegionHold<'t> {
    region: NonNull<Region>,
    table: &'t RegionTable,
}

// SAFETY: the hold only reads the region (which is `Sync`) and drops its
// count, from any task.
unsafe impl Send for RegionHold<'_> {}
// SAFETY: shared references only read the region, which is `Sync`.
unsafe impl Sync for RegionHold<'_> {}

impl<'t> RegionHold<'t> {
    /// Holds `region`, found published in `table` under `_guard`.
    pub(super) fn new(region: &Region, table: &'t RegionTable, _guard: &rcu::Guard) -> Self {
        region.remote_refs.inc();
        // INVARIANT: the count just taken, under the RCU section in which
        // the caller found the region published in `table`.
        Self {
            region: NonNull::from(region),
            table,
        }
    }

    /// Counts one more remote reference on the region, as a lookup does,
    /// if it is still published (`false`: its Destroy has begun). Under
    /// `guard`, like a lookup's count, so that Destroy's grace period and
    /// wait cover it: a count taken after that grace period could hide
    /// this hold from Destroy's sum of the per-CPU counts.
    pub(crate) fn count_remote_ref(&self, guard: &rcu::Guard) -> bool {
        let handle = self.handle().encode();
        let published = self
            .table
            .get(handle, guard)
            .is_ok_and(|region| core::ptr::eq(region, &**self));
        if published {
            self.remote_ref_taken();
        }
        published
    }
}

impl Deref for RegionHold<'_> {
    type Target = Region;

    fn deref(&self) -> &Region {
        // SAFETY: the region lives until our count is dropped (type
        // invariants).
        unsafe { self.region.as_ref() }
    }
}

impl Drop for RegionHold<'_> {
    fn drop(&mut self) {
        self.remote_refs.dec();
    }
}
