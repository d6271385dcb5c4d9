// SPDX-License-Identifier: GPL-2.0

//! [`WorldLayout`]: how the block of a new world holds its record, its
//! first entry array and the objects of the regions that were live when
//! the layout was made; [`BlockCaches`]: the kmem caches of such blocks,
//! one per block size.
//!
//! A new task's hook allocates one block from the current layout's cache
//! and constructs each placed object in it: one allocation per world, not
//! one per object, and no entry reserved (no one else constructs a placed
//! region's objects: Create's scan of a region ends before a layout holds
//! it). Regions created later, and large or over-aligned objects, get their
//! own allocation from their region's cache.

use super::{entries::RecordEntries, record::WorldRecord};
use crate::{
    handle::RegionHandle,
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

/// The largest object placed in a block; larger ones are allocated apart.
const MAX_PLACED_SIZE: usize = 512;
/// The largest alignment of a placed object (a block is aligned to 8).
const MAX_PLACED_ALIGN: usize = 8;
/// The largest block: regions that would not fit are allocated apart.
const MAX_BLOCK: usize = 4096;
/// The most objects a block places (the hook tracks them in a `u64`).
pub(crate) const MAX_PLACED: usize = 64;

/// An object a block holds in place.
#[derive(Clone, Copy)]
pub(crate) struct PlacedObject {
    /// The region whose object it is.
    pub(crate) handle: RegionHandle,
    /// Its offset from the block's start.
    pub(crate) offset: usize,
    /// Its size.
    pub(crate) size: usize,
}

/// The layout of the blocks of new worlds, made under the region table's
/// lock for one version of the table (`RegionTable::version`) and
/// immutable; published through `WorldTable`, freed a grace period after
/// it is replaced.
pub(crate) struct WorldLayout {
    /// The region table's version it was made for: while the table is at
    /// that version, its regions are exactly the live ones.
    version: u64,
    /// The region slots of the first entry array: from the first live slot
    /// to the last.
    span: Range<usize>,
    /// The bytes of a block.
    block_size: usize,
    /// The cache of blocks of `block_size` bytes (shared with
    /// `BlockCaches`, which keeps it until the module unloads).
    cache: Arc<ObjectCache>,
    /// The objects a block holds, in slot order, at most `MAX_PLACED`.
    objects: KVec<PlacedObject>,
    /// The other live regions, whose objects are allocated apart.
    apart: KVec<RegionHandle>,
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
    /// The layout for `regions` (live, in slot order) at table version
    /// `version`, or `None` if there is no region.
    pub(crate) fn new<'a>(
        regions: impl Iterator<Item = &'a Region> + Clone,
        version: u64,
        caches: &mut BlockCaches,
    ) -> Result<Option<Self>> {
        let mut slots = regions.clone().map(Region::slot);
        let Some(first) = slots.next() else {
            return Ok(None);
        };
        let span = first..slots.last().unwrap_or(first) + 1;
        let mut end = round_up(
            core::mem::size_of::<WorldRecord>() + RecordEntries::first_bytes(&span),
            8,
        );
        let mut objects = KVec::new();
        let mut apart = KVec::new();
        for region in regions {
            let layout = region.props_layout();
            let (size, align) = (layout.size() as usize, layout.align() as usize);
            if objects.len() == MAX_PLACED
                || size > MAX_PLACED_SIZE
                || align > MAX_PLACED_ALIGN
                || end + size > MAX_BLOCK
            {
                apart.push(region.handle(), GFP_KERNEL)?;
                continue;
            }
            objects.push(
                PlacedObject {
                    handle: region.handle(),
                    offset: end,
                    size,
                },
                GFP_KERNEL,
            )?;
            end = round_up(end + size, 8);
        }
        let cache = caches.get(end)?;
        Ok(Some(Self {
            version,
            span,
            block_size: end,
            cache,
            objects,
            apart,
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

    /// The bytes of a block.
    pub(crate) fn block_size(&self) -> usize {
        self.block_size
    }

    /// The cache of blocks.
    pub(crate) fn cache(&self) -> &ObjectCache {
        &self.cache
    }

    /// The objects a block holds in place, in slot order.
    pub(crate) fn objects(&self) -> &[PlacedObject] {
        &self.objects
    }

    /// The live regions whose objects are allocated apart, in slot order.
    pub(crate) fn apart(&self) -> &[RegionHandle] {
        &self.apart
    }
}

/// `n` rounded up to a multiple of `to`, a power of two.
fn round_up(n: usize, to: usize) -> usize {
    (n + to - 1) & !(to - 1)
}

/// Numbers the block caches, for their names.
static CACHE_SERIAL: Atomic<u32> = Atomic::new(0);

/// The kmem caches of world blocks, by size: made when a layout first
/// needs one, kept until the module unloads (every block is freed before:
/// the last Destroy, or the unload, retires every record, and the unload
/// waits for their frees). Blocks come back through `kfree()`, which takes
/// an object of any kmem cache.
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
    };
    use core::ptr::{self, NonNull};
    use kernel::task::Task;

    /// Regions of these sizes and alignments, at slots 0 to 4.
    const REGIONS: [(u32, u32); 5] = [(8, 8), (1024, 8), (20, 4), (16, 64), (64, 8)];

    /// A table holding [`REGIONS`].
    fn table() -> Result<Pin<KBox<RegionTable>>> {
        let table = KBox::pin_init(RegionTable::new()?, GFP_KERNEL)?;
        let mut locked = table.lock();
        for (size, align) in REGIONS {
            locked.publish(RegionProps::without_callbacks(size, align)?, |_| {})?;
        }
        drop(locked);
        Ok(table)
    }

    /// A layout places the small objects of the live regions in slot order,
    /// each at a multiple of 8 after the record and its first entry array,
    /// and leaves large and over-aligned ones apart; its block is exactly
    /// as large as what it holds, and blocks of one size share a cache.
    #[test]
    fn places_small_objects_in_slot_order() -> Result {
        let table = table()?;
        let locked = table.lock();
        let mut caches = BlockCaches::new();
        let layout =
            WorldLayout::new(locked.live(), locked.version(), &mut caches)?.ok_or(EINVAL)?;
        assert_eq!(layout.span(), 0..5);
        assert_eq!(layout.version(), 5);
        let header = core::mem::size_of::<WorldRecord>() + RecordEntries::first_bytes(&(0..5));
        assert_eq!(header % 8, 0);
        let mut placed = KVec::new();
        for p in layout.objects() {
            placed.push((p.handle.slot(), p.offset, p.size), GFP_KERNEL)?;
        }
        assert_eq!(
            &placed[..],
            &[(0, header, 8), (2, header + 8, 20), (4, header + 32, 64)]
        );
        assert_eq!(layout.block_size(), header + 96);
        let apart: KVec<usize> = {
            let mut slots = KVec::new();
            for h in layout.apart() {
                slots.push(h.slot(), GFP_KERNEL)?;
            }
            slots
        };
        assert_eq!(&apart[..], &[1, 3]);
        let again =
            WorldLayout::new(locked.live(), locked.version(), &mut caches)?.ok_or(EINVAL)?;
        assert!(ptr::eq(layout.cache(), again.cache()));
        assert_eq!(caches.caches.len(), 1);
        Ok(())
    }

    /// A record made in a layout has its first entries over the layout's
    /// span and each placed object's memory inside its block, at its
    /// offset; memory elsewhere is not held in place.
    #[test]
    fn record_in_a_layout_holds_its_objects_in_place() -> Result {
        let table = table()?;
        let locked = table.lock();
        let mut caches = BlockCaches::new();
        let layout =
            WorldLayout::new(locked.live(), locked.version(), &mut caches)?.ok_or(EINVAL)?;
        let me: &Task = kernel::current!();
        let record = WorldRecord::in_layout(me, &layout, AllocContext::Sleepable)?;
        let start = record.as_ptr().addr();
        assert_eq!(record.lock().entries().span(), layout.span());
        for p in layout.objects() {
            let memory = record.memory_at(p.offset, p.size).ok_or(EINVAL)?;
            assert_eq!(memory.as_ptr().addr() - start, p.offset);
            assert!(record.holds_in_place(memory));
        }
        assert!(record.memory_at(layout.block_size() - 4, 8).is_none());
        assert!(record.memory_at(0, 8).is_none());
        let elsewhere = KBox::new(0u64, GFP_KERNEL)?;
        assert!(!record.holds_in_place(NonNull::from(&*elsewhere).cast()));
        Ok(())
    }
}
