// SPDX-License-Identifier: GPL-2.0

//! Test-only (the KUnit module): objects of a real region, for the world
//! suites that fill records by hand.

use crate::{
    handle::RegionHandle,
    object_cache::AllocContext,
    region::{ObjectMemory, RegionProps, RegionTable},
};
use core::ptr::NonNull;
use kernel::prelude::*;

/// A region table with one region of 8-byte objects. Every object made
/// from it must be freed ([`TestRegion::free`]) before it is dropped: the
/// region's drop waits for them.
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
            .publish(RegionProps::without_callbacks(8, 8)?, |_| {})?;
        Ok(Self { table, handle })
    }

    /// A handle of the region's generation at `slot` (an entry takes any
    /// slot).
    pub(super) fn handle_at(&self, slot: usize) -> Result<RegionHandle> {
        RegionHandle::new(slot, self.handle.generation()).ok_or(EINVAL)
    }

    /// A new object of the region, owned by the caller.
    pub(super) fn object(&self) -> Result<NonNull<u8>> {
        let memory = ObjectMemory::alloc(
            self.table.lock().get(self.handle.encode())?,
            AllocContext::Sleepable,
        )?;
        Ok(memory.into_raw())
    }

    /// Frees `object`, one of [`TestRegion::object`]'s, owned by the caller.
    pub(super) fn free(&self, object: NonNull<u8>) {
        let table = self.table.lock();
        if let Ok(region) = table.get(self.handle.encode()) {
            // SAFETY: `object` came from `ObjectMemory::into_raw` of this
            // region's memory and the caller owns it.
            drop(unsafe { ObjectMemory::from_raw(region, object) });
        }
    }
}

impl Drop for TestRegion {
    fn drop(&mut self) {
        let unpublished = self.table.lock().unpublish(self.handle.encode());
        drop(unpublished);
    }
}
