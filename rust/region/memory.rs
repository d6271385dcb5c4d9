// SPDX-License-Identifier: GPL-2.0

//! [`ObjectMemory`]: one object's memory, from its region's cache.

use super::Region;
use crate::object_cache::AllocContext;
use core::ptr::NonNull;
use kernel::prelude::*;

/// The memory of one object of a region, owned: freed to the region's
/// cache when dropped. It holds one count of the region's `allocated`, so
/// the region, which waits for that count to drain when it is dropped,
/// outlives it.
///
/// # Invariants
///
/// - `data` was allocated from `region`'s cache and is freed only in
///   `drop`.
/// - `region` points at a live region: a region never moves (type
///   invariant of [`Region`]) and its drop waits for its `allocated` to
///   drain, of which this value holds one count, taken before `data` was
///   allocated and dropped after `data` is freed.
pub(crate) struct ObjectMemory {
    /// Immutable.
    data: NonNull<u8>,
    /// Immutable.
    region: NonNull<Region>,
}

// SAFETY: it owns `data` like a box of bytes, which may be freed from any
// thread, and `Region` is `Sync`.
unsafe impl Send for ObjectMemory {}
// SAFETY: shared references only read the two pointers and reach the
// region, which is `Sync`; `data` is never dereferenced here.
unsafe impl Sync for ObjectMemory {}

impl ObjectMemory {
    /// One object's memory from `region`'s cache, zero-filled if the region
    /// has no constructor; `ENOMEM` when memory is short.
    pub(crate) fn alloc(region: &Region, context: AllocContext) -> Result<Self> {
        region.allocated.inc();
        let Some(data) = region.cache.alloc(context) else {
            region.allocated.dec();
            return Err(ENOMEM);
        };
        // INVARIANT: `data` is from `region`'s cache; the count taken above
        // is this value's; `region` is pinned (type invariant of `Region`).
        Ok(Self {
            data,
            region: NonNull::from(region),
        })
    }

    /// The memory, as handed to callers. Never dereferenced here.
    pub(crate) fn as_ptr(&self) -> NonNull<u8> {
        self.data
    }

    /// Gives up the memory, which keeps its count of the region's
    /// `allocated`: [`ObjectMemory::from_raw`] takes it back.
    pub(crate) fn into_raw(self) -> NonNull<u8> {
        core::mem::ManuallyDrop::new(self).data
    }

    /// Takes back memory given up by [`ObjectMemory::into_raw`].
    ///
    /// # Safety
    ///
    /// `data` came from `ObjectMemory::into_raw` of memory of `region`,
    /// and the caller owns it (no one else takes it back).
    pub(crate) unsafe fn from_raw(region: &Region, data: NonNull<u8>) -> Self {
        // INVARIANT: by the contract, `data` is from `region`'s cache and
        // still holds its count of `allocated`.
        Self {
            data,
            region: NonNull::from(region),
        }
    }

    /// The region it belongs to.
    pub(crate) fn region(&self) -> &Region {
        // SAFETY: `region` does not move and is not freed while this value
        // holds its count of `allocated` (type invariant), that is for as
        // long as `self`.
        unsafe { self.region.as_ref() }
    }
}

impl Drop for ObjectMemory {
    /// Gives the memory back to the cache. The caller has made sure no one
    /// refers to it any more (it claimed the object from its entry, after
    /// which no lookup reaches it, or never shared it).
    fn drop(&mut self) {
        let region = self.region();
        // SAFETY: `data` came from `region`'s cache and is freed only here
        // (type invariant).
        unsafe { region.cache.free(self.data) };
        // Last touch of the region: its drop may go on once this drains.
        region.allocated.dec();
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_object_memory)]
mod tests {
    use super::*;
    use crate::{handle::RegionHandle, region::RegionProps};
    use core::ptr;
    use kernel::{
        sync::{
            atomic::{Acquire, Atomic, Release},
            Arc,
        },
        time::{delay::fsleep, Delta},
        workqueue,
    };

    /// Each object's memory holds one count of its region's `allocated`,
    /// from its allocation to its free; a region without a constructor
    /// hands out zero-filled memory at its alignment.
    #[test]
    fn memory_counts_in_its_region() -> Result {
        let props = RegionProps::without_callbacks(24, 64)?;
        let region = Region::new(RegionHandle::new(3, 1).ok_or(EINVAL)?, props)?;
        let a = ObjectMemory::alloc(&region, AllocContext::Sleepable)?;
        let b = ObjectMemory::alloc(&region, AllocContext::Sleepable)?;
        assert_eq!(region.allocated.get(), 2);
        assert!(ptr::eq(a.region(), &*region));
        assert_eq!(a.as_ptr().as_ptr() as usize % 64, 0);
        // SAFETY: `a` is 24 bytes from the cache, owned here.
        let bytes = unsafe { core::slice::from_raw_parts(a.as_ptr().as_ptr(), 24) };
        assert!(bytes.iter().all(|&byte| byte == 0));
        drop(a);
        assert_eq!(region.allocated.get(), 1);
        drop(b);
        assert_eq!(region.allocated.get(), 0);
        Ok(())
    }

    /// A region's drop waits until the memory of each of its objects is
    /// freed, so an `ObjectMemory` never points at a freed region.
    #[test]
    fn region_drop_waits_for_its_memory() -> Result {
        let props = RegionProps::without_callbacks(8, 8)?;
        let region = Region::new(RegionHandle::new(4, 1).ok_or(EINVAL)?, props)?;
        let memory = ObjectMemory::alloc(&region, AllocContext::Sleepable)?;
        let dropped = Arc::new(Atomic::new(false), GFP_KERNEL)?;
        let flag = dropped.clone();
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            drop(region);
            flag.store(true, Release);
        })?;
        fsleep(Delta::from_millis(100));
        assert!(!dropped.load(Acquire));
        drop(memory);
        for _ in 0..500 {
            if dropped.load(Acquire) {
                break;
            }
            fsleep(Delta::from_millis(10));
        }
        assert!(dropped.load(Acquire));
        Ok(())
    }
}
