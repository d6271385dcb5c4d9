// SPDX-License-Identifier: GPL-2.0

//! [`WorldLayout`]: the block of a new world's record (the record, then its
//! first entry array, exactly as long as the live regions' slots span);
//! [`BlockCaches`]: the kmem caches of such blocks, one per block size.
//!
//! A new task's record and its entries are one allocation, of exactly
//! their size. Objects are not in the block: each comes from its region's
//! cache, so Destroy frees every object of its region at once, whatever
//! world holds it.

use super::record::WorldRecord;
use crate::{
    object_cache::ObjectCache,
    object_layout::{ObjectLayout, TYPE_SIMPLE},
    rcu_box::RcuFreed,
    region::Region,
};
use core::ops::Range;
use kernel::{
    bindings,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    types::Opaque,
};

/// The block of new worlds' records, made under the region table's lock
/// when the live regions change, immutable; published through
/// `WorldTable`, freed a grace period after it is replaced.
pub(crate) struct WorldLayout {
    /// The region table's version it was made for: while the table is at
    /// that version, `span` is exactly the live regions' slots.
    version: u64,
    /// The region slots of the first entry array: from the first live slot
    /// to the last, when the layout was made.
    span: Range<usize>,
    /// The cache of blocks of a record and an array covering `span`
    /// (`WorldRecord::block_size`; shared with
    /// `BlockCaches`, which keeps it until the module unloads).
    cache: Arc<ObjectCache>,
    /// For the deferred free (`RcuBox::retire`).
    rcu: Opaque<bindings::callback_head>,
}

// SAFETY: `rcu` is an `Opaque<bindings::callback_head>` field that nothing
// but `RcuBox::retire` uses.
unsafe impl RcuFreed for WorldLayout {
    const RCU_HEAD: usize = core::mem::offset_of!(WorldLayout, rcu);
}

// SAFETY: immutable but for `rcu`, which only the owner of the box uses;
// `ObjectCache` is `Send` and `Sync`.
unsafe impl Send for WorldLayout {}
// SAFETY: as above: shared references only read immutable fields.
unsafe impl Sync for WorldLayout {}

impl WorldLayout {
    /// The layout for `regions` (live, in slot order) at region table
    /// version `version`, or `None` if there is no region.
    pub(crate) fn new<'a>(
        regions: impl Iterator<Item = &'a Region>,
        version: u64,
        caches: &mut BlockCaches,
    ) -> Result<Option<Self>> {
        let mut slots = regions.map(Region::slot);
        let Some(first) = slots.next() else {
            return Ok(None);
        };
        let span = first..slots.last().unwrap_or(first) + 1;
        let cache = caches.get(WorldRecord::block_size(&span))?;
        Ok(Some(Self {
            version,
            span,
            cache,
            rcu: Opaque::uninit(),
        }))
    }

    /// The region table's version this layout was made for.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The slots of a block's first entry array.
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The cache of blocks.
    pub(crate) fn cache(&self) -> &ObjectCache {
        &self.cache
    }
}

/// Numbers the block caches, for their names.
static CACHE_SERIAL: Atomic<u32> = Atomic::new(0);

/// The kmem caches of world blocks, by size: made when a layout first
/// needs one, kept until the module unloads (every block is freed before:
/// the last Destroy, or the unload, retires every record, and the unload
/// waits for their frees). A block holds a record and at most 1,024
/// entries, so there are at most 1,024 sizes. Blocks come back through
/// `kfree()`, which takes an object of any kmem cache.
pub(crate) struct BlockCaches {
    /// `(block size, cache)`.
    caches: KVec<(usize, Arc<ObjectCache>)>,
}

impl BlockCaches {
    /// No cache yet.
    pub(crate) fn new() -> Self {
        Self {
            caches: KVec::new(),
        }
    }

    /// The cache of blocks of `size` bytes, made if there is none.
    fn get(&mut self, size: usize) -> Result<Arc<ObjectCache>> {
        if let Some((_, cache)) = self.caches.iter().find(|(s, _)| *s == size) {
            return Ok(cache.clone());
        }
        // Named apart from every other cache (the KUnit module makes its
        // own): two caches of one name are a warning under
        // `CONFIG_DEBUG_VM`.
        let module = if cfg!(world_storage_kunit) {
            "world_storage_kunit"
        } else {
            "world_storage"
        };
        let serial = CACHE_SERIAL.fetch_add(1, Relaxed);
        let name = CString::try_from_fmt(fmt!("{module}-block-{size}-{serial}"))?;
        let layout = ObjectLayout::new(TYPE_SIMPLE, u32::try_from(size)?, 8)?;
        let cache = Arc::new(ObjectCache::new(name, layout, true)?, GFP_KERNEL)?;
        self.caches.push((size, cache.clone()), GFP_KERNEL)?;
        Ok(cache)
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_world_layout)]
mod tests {
    use super::*;
    use crate::{
        object_cache::AllocContext,
        region::{RegionProps, RegionTable},
        world::entries::RecordEntries,
    };
    use core::ptr;
    use kernel::task::Task;

    /// A region table whose regions are unpublished (so dropped) when it
    /// is dropped: a table drops none of its regions itself.
    struct TestTable(Pin<KBox<RegionTable>>);

    impl Drop for TestTable {
        fn drop(&mut self) {
            let mut locked = self.0.lock();
            while let Some(handle) = locked.find_owned_by(None).map(|r| r.handle().encode()) {
                // Dropped at once, as `table` does: a region's drop takes
                // no lock of the table.
                if locked.unpublish(handle).is_err() {
                    break;
                }
            }
        }
    }

    /// A table with regions at slots 0 to 4, of which only 0 and 4 stay
    /// live.
    fn table() -> Result<TestTable> {
        let table = TestTable(KBox::pin_init(RegionTable::new()?, GFP_KERNEL)?);
        let mut locked = table.0.lock();
        let mut handles = KVec::new();
        for _ in 0..5 {
            handles.push(
                locked.publish(RegionProps::without_callbacks(8, 8)?, |_| {})?,
                GFP_KERNEL,
            )?;
        }
        for handle in &handles[1..4] {
            drop(locked.unpublish(handle.encode())?);
        }
        drop(locked);
        Ok(table)
    }

    /// The layout of `table`'s live regions.
    fn layout_of(table: &RegionTable, caches: &mut BlockCaches) -> Result<WorldLayout> {
        let locked = table.lock();
        WorldLayout::new(locked.live(), locked.version(), caches)?.ok_or(EINVAL)
    }

    /// A layout spans the live regions' slots, from the lowest to the
    /// highest; its block is a record and exactly that many entries; blocks
    /// of one size share a cache; no region, no layout.
    #[test]
    fn block_is_a_record_and_its_span_of_entries() -> Result {
        let table = table()?;
        let mut caches = BlockCaches::new();
        let layout = layout_of(&table.0, &mut caches)?;
        assert_eq!(layout.span(), 0..5);
        // Five publications, three unpublications.
        assert_eq!(layout.version(), 8);
        assert_eq!(
            layout.cache().size(),
            core::mem::size_of::<WorldRecord>() + RecordEntries::first_bytes(&(0..5))
        );
        assert_eq!(RecordEntries::first_bytes(&(0..5)), 8 + 5 * 16);
        let again = layout_of(&table.0, &mut caches)?;
        assert!(ptr::eq(layout.cache(), again.cache()));
        assert_eq!(caches.caches.len(), 1);
        assert!(WorldLayout::new(core::iter::empty(), 0, &mut caches)?.is_none());
        Ok(())
    }

    /// A record made in a layout has empty entries over the layout's span.
    #[test]
    fn record_in_a_layout_has_empty_entries_over_its_span() -> Result {
        let table = table()?;
        let mut caches = BlockCaches::new();
        let layout = layout_of(&table.0, &mut caches)?;
        let me: &Task = kernel::current!();
        let record = WorldRecord::in_layout(me, &layout, AllocContext::Sleepable)?;
        let lock = record.lock();
        let entries = lock.entries();
        assert_eq!(entries.span(), layout.span());
        assert!(entries
            .iter()
            .all(|(_, entry)| entry.holding().0 == 0 && !entry.is_referenced()));
        drop(lock);
        Ok(())
    }
}
