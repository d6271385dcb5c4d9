// SPDX-License-Identifier: GPL-2.0

//! Test-only (the KUnit module): objects of a real region, for the world
//! suites that fill records by hand.

use super::{object::ObjectRecord, record::WorldRecord};
use crate::{
    handle::RegionHandle,
    object_cache::AllocContext,
    rcu_box::RcuBox,
    region::{ObjectMemory, RegionProps, RegionTable},
};
use kernel::prelude::*;

/// A region table with one region of 8-byte objects. Every object made
/// from it must be freed before it is dropped: the region's drop waits for
/// them.
pub(super) struct TestRegion {
    table: Pin<KBox<RegionTable>>,
    handle: RegionHandle,
}

impl TestRegion {
    /// The table and its region.
    pub(super) fn new() -> Result<Self> {
        let table = KBox::pin_init(RegionTable::new()?, GFP_KERNEL)?;
        let handle = table
            .lock()
            .publish(RegionProps::without_callbacks(8, 8)?)?;
        Ok(Self { table, handle })
    }

    /// A new object of the region for `record`'s world, not in it yet.
    pub(super) fn object(&self, record: &WorldRecord) -> Result<RcuBox<ObjectRecord>> {
        let memory = ObjectMemory::alloc(
            self.table.lock().get(self.handle.encode())?,
            AllocContext::Sleepable,
        )?;
        RcuBox::new(ObjectRecord::new(memory, record), GFP_KERNEL)
    }
}

impl Drop for TestRegion {
    fn drop(&mut self) {
        let unpublished = self.table.lock().unpublish(self.handle.encode());
        drop(unpublished);
    }
}

/// The handle a region at `slot` would have (an entry takes any).
pub(super) fn handle_of_slot(slot: usize) -> Result<u64> {
    Ok(RegionHandle::new(slot, 1).ok_or(EINVAL)?.encode())
}
