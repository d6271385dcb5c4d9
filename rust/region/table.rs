// SPDX-License-Identifier: GPL-2.0

//! [`RegionTable`]: the live regions, by handle, and [`LockedTable`], the
//! table under its lock, through which regions are published and
//! unpublished.

use super::{
    slots::{LockedSlots, RegionSlots},
    Region, RegionHold, RegionProps, Unpublished,
};
use crate::handle::{RegionHandle, MAX_REGIONS};
use core::ops::Range;
use kernel::{
    bindings,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        rcu,
    },
};

/// The regions that exist, by slot.
///
/// Lookups read it under RCU without a lock; Create, Destroy and the
/// owner-unload notifier change it under its lock ([`LockedTable`]).
#[pin_data]
pub(crate) struct RegionTable {
    /// The region published at each slot, and the lock.
    #[pin]
    slots: RegionSlots,
    /// Number of published regions; lets the task-creation hook skip work.
    /// Changed under the slots' lock.
    live: Atomic<usize>,
    /// One past the highest slot ever published: walks over live regions
    /// stop there. Only grows, under the slots' lock.
    high_water: Atomic<usize>,
    /// Counts every publication and unpublication, under the slots' lock.
    /// A layout of new worlds' blocks made at one version spans exactly the
    /// live regions' slots as long as the version does not change (a hint
    /// for sizing: a record whose entries miss a slot grows them).
    version: Atomic<u64>,
}

impl RegionTable {
    /// An empty table.
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        Ok(try_pin_init!(Self {
            slots <- RegionSlots::new()?,
            live: Atomic::new(0),
            high_water: Atomic::new(0),
            version: Atomic::new(0),
        }))
    }

    /// Takes the table's lock: held across a whole Create or Destroy.
    pub(crate) fn lock(&self) -> LockedTable<'_> {
        LockedTable {
            table: self,
            slots: self.slots.lock(),
        }
    }

    /// Whether any region is published (a hint: a racing Create is caught
    /// by its own scan).
    pub(crate) fn any_live(&self) -> bool {
        self.live.load(Relaxed) != 0
    }

    /// The slots from the lowest to the highest with a published region
    /// (empty if none): a new world record's entries cover these. Not up to
    /// `high_water`: after a burst of regions every new task would get
    /// entries for slots long unused. A region published meanwhile makes
    /// the record's array cover it when it gets its object.
    pub(crate) fn live_slots(&self) -> Range<usize> {
        let end = self.high_water.load(Relaxed);
        let first = (0..end).position(|slot| self.slots.is_published(slot));
        let last = (0..end).rposition(|slot| self.slots.is_published(slot));
        match (first, last) {
            (Some(first), Some(last)) => first..last + 1,
            _ => 0..0,
        }
    }

    /// The table's version now (see `version`).
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Acquire)
    }

    /// The live region named by `raw`, valid while `guard` is held.
    pub(crate) fn get<'a>(&self, raw: u64, guard: &'a rcu::Guard) -> Result<&'a Region> {
        let handle = RegionHandle::decode(raw).ok_or(EINVAL)?;
        self.slots
            .get(handle.slot(), guard)
            .filter(|region| region.handle() == handle)
            .ok_or(EINVAL)
    }

    /// Holds the live region named by `raw` against its Destroy until the
    /// hold is dropped; `EINVAL` if there is none.
    pub(crate) fn hold(&self, raw: u64) -> Result<RegionHold<'_>> {
        let guard = rcu::read_lock();
        let region = self.get(raw, &guard)?;
        Ok(RegionHold::new(region, self, &guard))
    }

    /// Calls `f` on every live region, valid while `guard` is held.
    pub(crate) fn for_each<'a>(&self, guard: &'a rcu::Guard, f: impl FnMut(&'a Region)) {
        let end = self.high_water.load(Acquire);
        (0..end)
            .filter_map(|slot| self.slots.get(slot, guard))
            .for_each(f);
    }
}

/// The table with its lock held: what Create, Destroy and owner unload
/// work on. Regions it returns live as long as it is borrowed.
#[must_use = "the lock is released when this is dropped"]
pub(crate) struct LockedTable<'a> {
    table: &'a RegionTable,
    slots: LockedSlots<'a>,
}

impl LockedTable<'_> {
    /// Publishes a new region in the lowest free slot and returns its
    /// handle, of the slot's next generation. `settle` sees the region
    /// just before it is published.
    pub(crate) fn publish(
        &mut self,
        props: RegionProps,
        settle: impl FnOnce(&Region),
    ) -> Result<RegionHandle> {
        let slot = (0..MAX_REGIONS)
            .find(|&slot| self.slots.is_free(slot))
            .ok_or(ENOSPC)?;
        let generation = RegionHandle::next_generation(self.slots.generation(slot));
        let handle = RegionHandle::new(slot, generation).ok_or(EINVAL)?;
        let region = Region::new(handle, props)?;
        // Before the region: a walk that finds it covers its slot. Only
        // stored under the lock, which this holds.
        if self.table.high_water.load(Relaxed) <= slot {
            self.table.high_water.store(slot + 1, Release);
        }
        settle(&region);
        self.slots.publish(region)?;
        self.table.version.fetch_add(1, Release);
        self.table.live.add(1, Relaxed);
        Ok(handle)
    }

    /// The table's version now.
    pub(crate) fn version(&self) -> u64 {
        self.table.version.load(Relaxed)
    }

    /// Every live region, in slot order.
    pub(crate) fn live(&self) -> impl Iterator<Item = &Region> + Clone {
        let end = self.table.high_water.load(Relaxed);
        (0..end).filter_map(|slot| self.slots.get(slot))
    }

    /// The live region named by `raw`.
    pub(crate) fn get(&self, raw: u64) -> Result<&Region> {
        let handle = RegionHandle::decode(raw).ok_or(EINVAL)?;
        self.slots
            .get(handle.slot())
            .filter(|region| region.handle() == handle)
            .ok_or(EINVAL)
    }

    /// Unpublishes the region named by `raw`: from now on lookups fail, the
    /// local lookup's fast path included. Its slot is not reused until
    /// [`LockedTable::release_slot`].
    pub(crate) fn unpublish(&mut self, raw: u64) -> Result<Unpublished> {
        let handle = RegionHandle::decode(raw).ok_or(EINVAL)?;
        let region = self.slots.take(handle).ok_or(EINVAL)?;
        self.table.version.fetch_add(1, Release);
        self.table.live.fetch_sub(1, Relaxed);
        Ok(region)
    }

    /// Lets a retired region's slot be used again.
    pub(crate) fn release_slot(&mut self, slot: usize) {
        self.slots.release(slot);
    }

    /// The first live region owned by `module` (`None`: any region).
    pub(crate) fn find_owned_by(&self, module: Option<*mut bindings::module>) -> Option<&Region> {
        let end = self.table.high_water.load(Relaxed);
        (0..end)
            .filter_map(|slot| self.slots.get(slot))
            .find(|region| match module {
                Some(m) => region.is_owned_by(m),
                None => true,
            })
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_region_slots)]
mod tests {
    use super::*;

    fn props() -> Result<RegionProps> {
        RegionProps::without_callbacks(8, 8)
    }

    /// The lowest free slot is taken; a retiring slot is not reused until
    /// released, and then with the next generation, so the old handle never
    /// names the new region; the live slots span the lowest to the highest
    /// published one.
    #[test]
    fn slots_and_generations_are_reused() -> Result {
        let table = KBox::pin_init(RegionTable::new()?, GFP_KERNEL)?;
        let mut locked = table.lock();
        let a = locked.publish(props()?, |_| {})?;
        let b = locked.publish(props()?, |_| {})?;
        assert_eq!((a.slot(), a.generation()), (0, 1));
        assert_eq!((b.slot(), b.generation()), (1, 1));
        assert_eq!(table.live_slots(), 0..2);

        let retired = locked.unpublish(a.encode())?;
        assert_eq!(retired.handle(), a);
        assert!(locked.get(a.encode()).is_err());
        assert_eq!(locked.unpublish(a.encode()).err(), Some(EINVAL));
        let c = locked.publish(props()?, |_| {})?;
        assert_eq!((c.slot(), c.generation()), (2, 1));
        assert_eq!(table.live_slots(), 1..3);

        drop(retired);
        locked.release_slot(a.slot());
        let d = locked.publish(props()?, |_| {})?;
        assert_eq!((d.slot(), d.generation()), (0, 2));
        assert!(locked.get(a.encode()).is_err());
        assert_eq!(locked.get(d.encode())?.handle(), d);
        assert_eq!(table.live_slots(), 0..3);
        {
            let guard = rcu::read_lock();
            assert!(table.get(a.encode(), &guard).is_err());
            assert_eq!(table.get(d.encode(), &guard)?.handle(), d);
        }

        for h in [b, c, d] {
            drop(locked.unpublish(h.encode())?);
        }
        assert!(!table.any_live());
        assert!(table.live_slots().is_empty());
        Ok(())
    }
    /// A hold counts a remote reference for a visit only while its region is
    /// published: once it is unpublished, Destroy's grace period would not
    /// cover a new count. Its own count stays until it is dropped.
    #[test]
    fn a_hold_counts_references_only_while_published() -> Result {
        let table = KBox::pin_init(RegionTable::new()?, GFP_KERNEL)?;
        let handle = table.lock().publish(props()?, |_| {})?;
        let hold = table.hold(handle.encode())?;
        let counted = hold.count_remote_ref(&rcu::read_lock());
        assert!(counted);
        assert_eq!(hold.remote_refs(), 2);
        hold.remote_ref_dropped();
        let retired = table.lock().unpublish(handle.encode())?;
        let counted = hold.count_remote_ref(&rcu::read_lock());
        assert!(!counted);
        assert_eq!(retired.remote_refs(), 1);
        drop(hold);
        assert_eq!(retired.remote_refs(), 0);
        Ok(())
    }
}
