// SPDX-License-Identifier: GPL-2.0

//! A record's entries, one per region slot: the per-world slot map, which
//! the local lookup's fast path (C) reads with preemption off and no lock.
//!
//! [`Entry`] and [`EntryArray`] are `struct world_storage_entry_v1` and
//! `struct world_storage_entries_v1` of `include/world_storage.h`; the C
//! glue allocates and frees the arrays. [`RecordEntries`] is the record's
//! pointer to its current array; [`Entries`] a view of one array for as
//! long as it cannot be freed. Entries are written only by the holder of
//! the record's lock: every writing method takes its [`RecordGuard`].

use super::{object::ObjectRecord, record::RecordGuard};
use crate::{
    glue::{ws_entries_free, ws_entries_free_rcu, ws_entries_new},
    handle::{HANDLE_INVALID, MAX_REGIONS},
    object_cache::AllocContext,
    rcu_box::RcuBox,
};
// `core`'s atomics, not `kernel::sync::atomic`: the local lookup's paths, C's
// fast path included, read the entries (see "Atomics" in
// Documentation/world-storage.rst).
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ptr::{self, NonNull},
    sync::atomic::{AtomicPtr, AtomicU64, Ordering},
};
use kernel::{bindings, prelude::*, sync::rcu, types::Opaque};

/// The `owner` of an entry reserved by a constructor in progress: not an
/// object, never dereferenced (no object lives at the dangling address).
const RESERVED: *mut ObjectRecord = ptr::dangling_mut();

/// The handle of an empty entry: no region's (its slot is out of range).
const ENTRY_EMPTY: u64 = HANDLE_INVALID;

/// Entries a record's array has at least: small worlds never grow it.
const MIN_ENTRIES: usize = 8;

/// One region slot of one world: `struct world_storage_entry_v1`.
///
/// # Invariants
///
/// - `owner` is null, [`RESERVED`] or an object this entry owns: an
///   [`RcuBox`] given up with [`RcuBox::into_raw`], retired (freed a grace
///   period later) only after the entry stops holding it.
/// - `handle` is not `ENTRY_EMPTY` only while `owner` is an object, and
///   then `object` is that object's memory.
#[repr(C)]
pub(crate) struct Entry {
    /// The handle of the region whose object `owner` is, or `ENTRY_EMPTY`.
    /// Stored (release) under the record's lock after `object` and
    /// `owner`; set to `ENTRY_EMPTY` under it before `owner` is cleared.
    /// Loaded (acquire) under RCU or with preemption off: whoever sees a
    /// handle sees its object. It outlives its region's publication until
    /// Destroy sweeps the object: the fast path also checks the slot's
    /// published handle (`RegionTable::handles`).
    handle: AtomicU64,
    /// The object's memory, for the local lookup. Written under the
    /// record's lock before `handle`; left in place when the entry is
    /// cleared, for a reader that saw the handle just before (the object is
    /// freed a grace period after).
    object: AtomicPtr<u8>,
    /// The [`ObjectRecord`] (pointing back at this entry's record),
    /// `RESERVED` or null. Written under the record's lock; read under it,
    /// or under RCU by remote lookups once they have seen `handle`.
    owner: AtomicPtr<ObjectRecord>,
}

impl Entry {
    /// The handle of the region whose object this entry holds, or
    /// `ENTRY_EMPTY`.
    pub(super) fn handle(&self) -> u64 {
        self.handle.load(Ordering::Acquire)
    }

    /// The memory of the object, for a reader that saw its handle.
    pub(super) fn object_memory(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.object.load(Ordering::Relaxed))
    }

    /// The object this entry holds (none if it is empty or reserved).
    pub(super) fn object(&self) -> Option<&ObjectRecord> {
        let owner = self.owner.load(Ordering::Acquire);
        if owner == RESERVED {
            return None;
        }
        // SAFETY: `owner` is null or an object, freed only a grace period
        // after this entry stops holding it (type invariant); `self` is
        // reached through an `Entries`, within an RCU read-side critical
        // section, so that grace period has not passed while `self` lives.
        unsafe { owner.as_ref() }
    }

    /// Reserves the entry for a constructor if it is empty; `false` if it
    /// holds an object or a reservation.
    pub(super) fn reserve(&self, _lock: &RecordGuard<'_>) -> bool {
        if !self.owner.load(Ordering::Relaxed).is_null() {
            return false;
        }
        // INVARIANT: `RESERVED`, with `handle` still empty.
        self.owner.store(RESERVED, Ordering::Relaxed);
        true
    }

    /// Puts `obj`, whose region is named `handle`, in the entry, which is
    /// reserved.
    pub(super) fn fill(&self, _lock: &RecordGuard<'_>, obj: RcuBox<ObjectRecord>, handle: u64) {
        self.object.store(obj.data().as_ptr(), Ordering::Relaxed);
        // INVARIANT: the entry owns `obj` now; the handle follows it.
        self.owner
            .store(RcuBox::into_raw(obj).as_ptr(), Ordering::Relaxed);
        self.handle.store(handle, Ordering::Release);
    }

    /// Drops the entry's reservation: the constructor failed.
    pub(super) fn unreserve(&self, _lock: &RecordGuard<'_>) {
        self.owner.store(ptr::null_mut(), Ordering::Relaxed);
    }

    /// Whether the entry holds `obj`.
    pub(super) fn holds(&self, obj: &ObjectRecord) -> bool {
        ptr::eq(self.owner.load(Ordering::Relaxed), obj)
    }

    /// Empties the entry and returns its object, if it held one, which the
    /// caller now owns (and retires: readers may still see it).
    pub(super) fn take(&self, _lock: &RecordGuard<'_>) -> Option<RcuBox<ObjectRecord>> {
        let owner = NonNull::new(self.owner.load(Ordering::Relaxed))?;
        if owner.as_ptr() == RESERVED {
            return None;
        }
        self.handle.store(ENTRY_EMPTY, Ordering::Relaxed);
        self.owner.store(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: `owner` is an object this entry owned (type invariant),
        // given up by `RcuBox::into_raw` in `fill`; the entry, emptied
        // under the record's lock, no longer does, so the caller is its
        // only owner.
        Some(unsafe { RcuBox::from_raw(owner) })
    }

    /// Makes the entry a copy of `from`, an entry of the array being
    /// replaced, which hands over what it owns.
    fn copy_from(&self, _lock: &RecordGuard<'_>, from: &Entry) {
        self.object
            .store(from.object.load(Ordering::Relaxed), Ordering::Relaxed);
        self.owner
            .store(from.owner.load(Ordering::Relaxed), Ordering::Relaxed);
        self.handle
            .store(from.handle.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// A record's entries: `struct world_storage_entries_v1`, allocated by the
/// C glue (`ws_entries_new`) with `nr` entries after the header.
#[repr(C)]
pub(crate) struct EntryArray {
    /// For the deferred free of an array a larger one replaced.
    rcu: Opaque<bindings::callback_head>,
    /// Immutable: how many entries follow.
    nr: u32,
    entries: [Entry; 0],
}

/// What the local lookup's fast path (C) reads of the world records, with
/// Rust's offsets: the layout test compares them with C's.
#[cfg(world_storage_kunit)]
pub(crate) const FAST_PATH_LAYOUT: &[(&CStr, usize)] = &[
    (
        c"world_storage_record_v1.task",
        super::record::RECORD_V1_OFFSETS.0,
    ),
    (
        c"world_storage_record_v1.entries",
        super::record::RECORD_V1_OFFSETS.1,
    ),
    (
        c"world_storage_entries_v1.nr",
        core::mem::offset_of!(EntryArray, nr),
    ),
    (
        c"world_storage_entries_v1.entry",
        core::mem::offset_of!(EntryArray, entries),
    ),
    (
        c"world_storage_entry_v1.handle",
        core::mem::offset_of!(Entry, handle),
    ),
    (
        c"world_storage_entry_v1.object",
        core::mem::offset_of!(Entry, object),
    ),
    (
        c"world_storage_entry_v1.internal",
        core::mem::offset_of!(Entry, owner),
    ),
    (
        c"world_storage_entry_v1.sizeof",
        core::mem::size_of::<Entry>(),
    ),
];

/// An entry array, alive for `'a`.
///
/// # Invariants
///
/// `array` points to an `EntryArray` from `ws_entries_new` whose `nr`
/// entries are initialised, alive for `'a`, which lies within an RCU
/// read-side critical section (an `rcu::Guard`, or the record's lock,
/// which keeps interrupts off) or in which no one else sees the array.
#[derive(Clone, Copy)]
pub(super) struct Entries<'a> {
    array: NonNull<EntryArray>,
    _life: PhantomData<&'a EntryArray>,
}

impl<'a> Entries<'a> {
    /// How many entries the array has.
    pub(super) fn len(self) -> usize {
        // SAFETY: the array is alive for `'a` (type invariant); `nr` is
        // immutable.
        unsafe { (*self.array.as_ptr()).nr as usize }
    }

    /// The entry of region slot `slot`, if the array has it.
    pub(super) fn get(self, slot: usize) -> Option<&'a Entry> {
        if slot >= self.len() {
            return None;
        }
        // SAFETY: `slot < nr`, and the array has `nr` initialised entries
        // after its header, alive for `'a` (type invariant).
        Some(unsafe {
            &*(&raw const (*self.array.as_ptr()).entries)
                .cast::<Entry>()
                .add(slot)
        })
    }

    /// Every entry, by slot.
    pub(super) fn iter(self) -> impl Iterator<Item = &'a Entry> {
        (0..self.len()).filter_map(move |slot| self.get(slot))
    }
}

/// A new entry array that no one else sees yet: freed on drop.
///
/// # Invariants
///
/// `array` comes from `ws_entries_new`, has its `nr` entries empty or
/// written by the owner, and is owned by this value and shared with no one.
pub(super) struct NewEntries {
    array: NonNull<EntryArray>,
}

impl NewEntries {
    /// A new array of at least `nr` empty entries (at most `MAX_REGIONS`).
    pub(super) fn alloc(nr: usize, context: AllocContext) -> Result<Self> {
        let nr = nr.max(MIN_ENTRIES).next_power_of_two().min(MAX_REGIONS);
        // SAFETY: `ws_entries_new` has no requirement; `nr` is at most
        // `MAX_REGIONS`, so it fits in a `u32`.
        let array = unsafe { ws_entries_new(nr as u32, context.gfp()) };
        // INVARIANT: a new array, initialised by `ws_entries_new`.
        Ok(Self {
            array: NonNull::new(array).ok_or(ENOMEM)?,
        })
    }

    /// The entries, for the owner to fill before it shares them.
    fn entries(&self) -> Entries<'_> {
        // INVARIANT: owned and unshared while `self` is borrowed.
        Entries {
            array: self.array,
            _life: PhantomData,
        }
    }

    /// Gives up the array to a [`RecordEntries`].
    fn into_raw(self) -> *mut EntryArray {
        ManuallyDrop::new(self).array.as_ptr()
    }
}

impl Drop for NewEntries {
    fn drop(&mut self) {
        // SAFETY: an array from `ws_entries_new` that we own and no one else
        // sees (type invariant), so it may be freed at once.
        unsafe { ws_entries_free(self.array.as_ptr()) };
    }
}

/// A record's entry array (`struct world_storage_record_v1.entries`), one
/// entry per region slot below its length.
///
/// # Invariants
///
/// `array` is never null and points to an array from `ws_entries_new`,
/// owned by this value. An array it pointed to before is freed a grace
/// period after it was replaced. A `RecordEntries` is dropped only with
/// its record, when no reader can reach it (a grace period after the
/// record's teardown, or never shared).
#[repr(transparent)]
pub(super) struct RecordEntries {
    /// Replaced (release) under the record's lock by a longer copy when a
    /// region in a higher slot gets an object; the old array is freed a
    /// grace period later (`call_rcu`), the last one with the record.
    /// Loaded (acquire) under RCU or with preemption off.
    array: AtomicPtr<EntryArray>,
}

impl RecordEntries {
    /// The record's entries, starting with `first`.
    pub(super) fn new(first: NewEntries) -> Self {
        // INVARIANT: `first` is a new array, not null, and ours now.
        Self {
            array: AtomicPtr::new(first.into_raw()),
        }
    }

    /// The entries, valid while `_guard` is held.
    pub(super) fn get<'a>(&self, _guard: &'a rcu::Guard) -> Entries<'a> {
        // INVARIANT: an array is freed only a grace period after it is
        // replaced, or with the record; `_guard` holds off that grace
        // period.
        Entries {
            // SAFETY: `array` is never null (type invariant).
            array: unsafe { NonNull::new_unchecked(self.array.load(Ordering::Acquire)) },
            _life: PhantomData,
        }
    }

    /// The entries, valid while `_lock`, the record's lock, is held.
    pub(super) fn locked<'a>(&self, _lock: &'a RecordGuard<'_>) -> Entries<'a> {
        // INVARIANT: only the holder of the record's lock replaces the
        // array, which is then freed only a grace period later; the lock
        // keeps interrupts off, so a grace period cannot pass while it is
        // held.
        Entries {
            // SAFETY: `array` is never null (type invariant).
            array: unsafe { NonNull::new_unchecked(self.array.load(Ordering::Relaxed)) },
            _life: PhantomData,
        }
    }

    /// Replaces the entries by `longer`, a copy, if they are still `len`
    /// long (if they were replaced meanwhile, `longer` is freed).
    pub(super) fn replace(&self, lock: &RecordGuard<'_>, longer: NewEntries, len: usize) {
        let old = self.locked(lock);
        if old.len() != len {
            return;
        }
        for (from, to) in old.iter().zip(longer.entries().iter()) {
            to.copy_from(lock, from);
        }
        // Release: readers of the new array see its entries.
        // INVARIANT: `longer` is new and ours; `old` is freed a grace period
        // after this.
        self.array.store(longer.into_raw(), Ordering::Release);
        // SAFETY: `old` came from `ws_entries_new` and was ours; it is no
        // longer reachable but for readers under RCU or with preemption
        // off, which the grace period waits for.
        unsafe { ws_entries_free_rcu(old.array.as_ptr()) };
    }
}

impl Drop for RecordEntries {
    fn drop(&mut self) {
        // SAFETY: the last array, ours; no reader can reach it (type
        // invariant: dropped only with the record, when no reader can).
        unsafe { ws_entries_free(*self.array.get_mut()) };
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_entries)]
mod tests {
    use super::*;
    use crate::world::{
        fixture::{handle_of_slot, TestRegion},
        record::WorldRecord,
    };
    use kernel::task::Task;

    /// An entry is empty, reserved or full. A reservation blocks another
    /// one and holds no object (`take` gives nothing and leaves it);
    /// `fill` makes the object and its handle visible; `take` empties it
    /// and hands the object back.
    #[test]
    fn entry_reserve_fill_take() -> Result {
        let region = TestRegion::new()?;
        let me: &Task = kernel::current!();
        let record = WorldRecord::new(me, 1, AllocContext::Sleepable)?;
        let obj = region.object(&record)?;
        let data = obj.data();
        let handle = handle_of_slot(0)?;
        let taken = {
            let lock = record.lock();
            let entry = lock.entries().get(0).ok_or(EINVAL)?;
            assert_eq!(entry.handle(), ENTRY_EMPTY);
            assert!(entry.object().is_none());
            assert!(entry.reserve(&lock));
            assert!(!entry.reserve(&lock));
            assert!(entry.take(&lock).is_none());
            assert!(!entry.reserve(&lock));
            assert_eq!(entry.handle(), ENTRY_EMPTY);
            entry.unreserve(&lock);
            assert!(entry.reserve(&lock));

            entry.fill(&lock, obj, handle);
            assert_eq!(entry.handle(), handle);
            assert_eq!(entry.object_memory(), Some(data));
            assert!(entry.object().is_some_and(|o| o.data() == data));
            assert!(!entry.reserve(&lock));

            let taken = entry.take(&lock).ok_or(ENOENT)?;
            assert_eq!(entry.handle(), ENTRY_EMPTY);
            assert!(entry.object().is_none());
            assert!(entry.take(&lock).is_none());
            assert!(entry.reserve(&lock));
            entry.unreserve(&lock);
            taken
        };
        assert_eq!(taken.data(), data);
        drop(taken);
        Ok(())
    }

    /// Growing the entry array copies every entry: each slot of the longer
    /// array holds what the shorter one held (handle and object), the
    /// slots beyond are empty, and a reader that found the shorter array
    /// before still reads it whole until its grace period ends. A replace
    /// that lost the race (the length changed) leaves the array alone.
    #[test]
    fn entry_array_growth_copies_every_entry() -> Result {
        let region = TestRegion::new()?;
        let me: &Task = kernel::current!();
        let record = WorldRecord::new(me, 1, AllocContext::Sleepable)?;
        let entries = RecordEntries::new(NewEntries::alloc(MIN_ENTRIES, AllocContext::Sleepable)?);
        let mut filled = KVec::with_capacity(MIN_ENTRIES, GFP_KERNEL)?;
        for slot in 0..MIN_ENTRIES {
            let obj = region.object(&record)?;
            let handle = handle_of_slot(slot)?;
            filled.push((handle, obj.data()), GFP_KERNEL)?;
            let lock = record.lock();
            let entry = entries.locked(&lock).get(slot).ok_or(EINVAL)?;
            assert!(entry.reserve(&lock));
            entry.fill(&lock, obj, handle);
        }
        let longer = NewEntries::alloc(MIN_ENTRIES + 1, AllocContext::Sleepable)?;
        let stale = NewEntries::alloc(MIN_ENTRIES + 1, AllocContext::Sleepable)?;

        let guard = rcu::read_lock();
        let before = entries.get(&guard);
        let mut wrong = 0;
        {
            let lock = record.lock();
            entries.replace(&lock, longer, MIN_ENTRIES);
            let after = entries.locked(&lock);
            assert_eq!(after.len(), 2 * MIN_ENTRIES);
            for (slot, &(handle, data)) in filled.iter().enumerate() {
                let entry = after.get(slot).ok_or(EINVAL)?;
                if entry.handle() != handle || entry.object_memory() != Some(data) {
                    wrong += 1;
                }
            }
            assert!(after
                .iter()
                .skip(MIN_ENTRIES)
                .all(|entry| entry.handle() == ENTRY_EMPTY && entry.object().is_none()));
            entries.replace(&lock, stale, MIN_ENTRIES);
            assert_eq!(entries.locked(&lock).len(), 2 * MIN_ENTRIES);
        }
        if wrong != 0 {
            pr_err!("{wrong} of {MIN_ENTRIES} entries not copied when the array grew\n");
        }
        assert_eq!(wrong, 0);
        assert_eq!(before.len(), MIN_ENTRIES);
        for (slot, &(handle, data)) in filled.iter().enumerate() {
            let entry = before.get(slot).ok_or(EINVAL)?;
            assert_eq!(entry.handle(), handle);
            assert_eq!(entry.object_memory(), Some(data));
        }
        drop(guard);

        loop {
            let lock = record.lock();
            let obj = entries
                .locked(&lock)
                .iter()
                .find_map(|entry| entry.take(&lock));
            drop(lock);
            let Some(obj) = obj else {
                break;
            };
            drop(obj);
        }
        Ok(())
    }
}
