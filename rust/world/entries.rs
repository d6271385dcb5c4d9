// SPDX-License-Identifier: GPL-2.0

//! A record's entries, one per region slot: the per-world slot map, which
//! the local lookup's fast path (C) reads with preemption off and no lock,
//! and on which every remote reference is counted.
//!
//! [`Entry`] and [`EntryArray`] are `struct world_storage_entry_v3` and
//! `struct world_storage_entries_v3` of `include/world_storage.h`. A
//! record's first array lies in the record's block; the C glue allocates
//! and frees the arrays that replace it. [`RecordEntries`] is the record's
//! pointer to its current array; [`Entries`] a view of one array for as
//! long as it cannot be freed.
//!
//! An entry's `state` says what it holds:
//!
//! | state | meaning |
//! |---|---|
//! | `EMPTY` | no object |
//! | `RESERVED` | a constructor is building the object |
//! | `MOVED` | the array is being replaced: read the record's new one |
//! | generation, `ORPHAN`, count | the object of the region of that generation, with `count` remote references; `ORPHAN`: its world has exited |
//!
//! `EMPTY`, `RESERVED` and `MOVED` have generation 0, which no region has,
//! so the fast path, which compares the generation only, never matches
//! them. Only the holder of the record's lock reserves, fills and moves
//! entries (every such method takes its [`RecordGuard`]); references are
//! taken and dropped, and objects claimed, by compare-and-exchange on
//! `state` without the lock.

use super::record::{RecordGuard, RECORD_TAIL};
use crate::{
    glue::{ws_entries_free, ws_entries_free_rcu, ws_entries_new},
    handle::MAX_REGIONS,
    irqs_off::IrqsOff,
    object_cache::AllocContext,
    rcu_box::Tail,
};
// `core`'s atomics, not `kernel::sync::atomic`: the local lookup's paths, C's
// fast path included, read the entries, and every remote lookup and Release
// counts here (see "Atomics" in Documentation/world-storage.rst).
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::Range,
    ptr::{self, NonNull},
    sync::atomic::{AtomicPtr, AtomicU64, Ordering},
};
use kernel::{prelude::*, sync::rcu};

/// No object.
const EMPTY: u64 = 0;
/// A constructor is building the entry's object.
const RESERVED: u64 = 1;
/// The entry was copied to the record's next array: read that one.
const MOVED: u64 = 2;
/// The world has exited with references outstanding: no new reference;
/// the object is destructed when the count is back to 0.
const ORPHAN: u64 = 1 << 31;
/// The remote references.
const COUNT: u64 = ORPHAN - 1;
/// The most remote references one object takes: a lookup past it fails
/// with `EOVERFLOW` (only a client leaking about 2^30 references gets
/// there), far below the count's bits.
const MAX_REFS: u64 = 1 << 30;

/// Entries a record's array has at least: small worlds never grow it.
const MIN_ENTRIES: usize = 8;

/// The generation of the region whose object a state holds (0: none).
fn generation_of(state: u64) -> u32 {
    (state >> 32) as u32
}

/// What a remote lookup got of an entry.
pub(super) enum Reference {
    /// A reference to the object, at this address.
    Taken(NonNull<u8>),
    /// No object of that region (or its world exited).
    Absent,
    /// The object has `MAX_REFS` references.
    Overflow,
    /// The entry moved to a longer array: look it up again.
    Moved,
}

/// What dropping a remote reference did.
pub(super) enum Dropped {
    /// The entry holds no object at that address with a reference.
    NotHeld,
    /// One reference fewer.
    Released,
    /// The last reference of an object whose world has exited: the entry
    /// is an orphan without references now, left for its claimer.
    LastOfOrphan,
    /// The entry moved to a longer array: look it up again.
    Moved,
}

/// What claiming an entry's object got.
pub(super) enum Claim {
    /// The object, which the claimer now owns: the entry is empty.
    Claimed(NonNull<u8>),
    /// Not claimed: no object of that generation, or one with references.
    Left,
    /// The entry moved to a longer array: look it up again.
    Moved,
}

/// What an exiting world did with an entry.
pub(super) enum AtExit {
    /// The object, unreferenced, which the caller now owns and destructs.
    Claimed(NonNull<u8>),
    /// The object has references: marked `ORPHAN`, destructed later.
    Orphaned,
    /// No object.
    Empty,
}

/// One region slot of one world: `struct world_storage_entry_v3`.
///
/// # Invariants
///
/// - While `state` holds a generation, `object` is the memory of an object
///   of the region of that generation in the entry's slot, owned by the
///   entry: allocated from the region's cache, constructed, and not freed
///   until a claimer has taken it (set `state` to `EMPTY` from a state
///   with no reference).
/// - A reference counted in `state` keeps the object: no one claims an
///   object whose count is not 0.
#[repr(C)]
pub(crate) struct Entry {
    /// The object's memory. Written under the record's lock before `state`
    /// (release) when the entry is filled; left in place when the entry is
    /// emptied (a stale pointer, never dereferenced by a reader that did not
    /// take a reference or see its generation under the fast path's rules).
    object: AtomicPtr<u8>,
    /// See the module doc. Stored (release) under the record's lock when
    /// the entry is reserved, filled, unreserved or moved; changed by
    /// compare-and-exchange without the lock when a reference is taken or
    /// dropped and when the object is claimed or orphaned. Loaded (acquire)
    /// under RCU or with preemption off.
    state: AtomicU64,
}

impl Entry {
    /// The object, if the entry holds one of the region of `generation`:
    /// `Err(())` if the entry moved.
    pub(super) fn object_of(&self, generation: u32) -> Result<Option<NonNull<u8>>, ()> {
        match self.state.load(Ordering::Acquire) {
            MOVED => Err(()),
            state if generation_of(state) == generation => {
                Ok(NonNull::new(self.object.load(Ordering::Relaxed)))
            }
            _ => Ok(None),
        }
    }

    /// The generation of the region whose object the entry holds, with
    /// that object (0 and null if none).
    pub(super) fn holding(&self) -> (u32, *mut u8) {
        let state = self.state.load(Ordering::Acquire);
        (generation_of(state), self.object.load(Ordering::Relaxed))
    }

    /// Takes a remote reference to the object of the region of
    /// `generation`, unless its world has exited.
    ///
    /// Sequentially consistent, for the caller's check that the world has
    /// not exited after it (see `WorldTable::lookup`).
    pub(super) fn take_ref(&self, generation: u32) -> Reference {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state == MOVED {
                return Reference::Moved;
            }
            if generation_of(state) != generation || state & ORPHAN != 0 {
                return Reference::Absent;
            }
            if state & COUNT >= MAX_REFS {
                return Reference::Overflow;
            }
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                // The object stays while the reference is held (type
                // invariant); acquire (in `SeqCst`): its address, written
                // before the state, is read after.
                Ok(_) => {
                    return match NonNull::new(self.object.load(Ordering::Relaxed)) {
                        Some(object) => Reference::Taken(object),
                        None => Reference::Absent,
                    }
                }
                Err(now) => state = now,
            }
        }
    }

    /// Drops a remote reference to the object at `object`, if the entry
    /// holds that object with a reference.
    pub(super) fn drop_ref(&self, object: *const u8) -> Dropped {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state == MOVED {
                return Dropped::Moved;
            }
            if generation_of(state) == 0
                || state & COUNT == 0
                || !ptr::eq(self.object.load(Ordering::Relaxed), object)
            {
                return Dropped::NotHeld;
            }
            // Release: the holder's last uses of the object come before a
            // claimer's destructor.
            match self.state.compare_exchange_weak(
                state,
                state - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if (state - 1) & (ORPHAN | COUNT) == ORPHAN => return Dropped::LastOfOrphan,
                Ok(_) => return Dropped::Released,
                Err(now) => state = now,
            }
        }
    }

    /// Claims the object of the region of `generation` if no reference is
    /// held on it (orphaned or not): the caller owns it then.
    pub(super) fn claim(&self, generation: u32) -> Claim {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state == MOVED {
                return Claim::Moved;
            }
            if generation_of(state) != generation || generation == 0 || state & COUNT != 0 {
                return Claim::Left;
            }
            match self.state.compare_exchange_weak(
                state,
                EMPTY,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return match NonNull::new(self.object.load(Ordering::Relaxed)) {
                        Some(object) => Claim::Claimed(object),
                        None => Claim::Left,
                    }
                }
                Err(now) => state = now,
            }
        }
    }

    /// The world exits: claims the object if it has no reference, else
    /// marks it `ORPHAN` (no new reference; its last Release's caller
    /// learns it). `on_orphan` runs just before an entry is marked, and
    /// `undo_orphan` if the marking then fails. Never sees `MOVED`: the
    /// array is not replaced once the world is marked exited.
    pub(super) fn at_exit(
        &self,
        mut on_orphan: impl FnMut(),
        mut undo_orphan: impl FnMut(),
    ) -> AtExit {
        let mut state = self.state.load(Ordering::SeqCst);
        loop {
            let generation = generation_of(state);
            if generation == 0 || state & ORPHAN != 0 {
                return AtExit::Empty;
            }
            if state & COUNT == 0 {
                match self.claim(generation) {
                    Claim::Claimed(object) => return AtExit::Claimed(object),
                    _ => {
                        state = self.state.load(Ordering::SeqCst);
                        continue;
                    }
                }
            }
            on_orphan();
            match self.state.compare_exchange(
                state,
                state | ORPHAN,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return AtExit::Orphaned,
                Err(now) => {
                    undo_orphan();
                    state = now;
                }
            }
        }
    }

    /// Whether a remote reference is held on the entry's object.
    pub(super) fn is_referenced(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        generation_of(state) != 0 && state & COUNT != 0
    }

    /// Reserves the entry for a constructor if it is empty; `false` if it
    /// holds an object or a reservation.
    pub(super) fn reserve(&self, _lock: &RecordGuard<'_>) -> bool {
        if self.state.load(Ordering::Relaxed) != EMPTY {
            return false;
        }
        self.state.store(RESERVED, Ordering::Relaxed);
        true
    }

    /// Puts `object`, an object of the region of `generation` that the
    /// entry owns from now on, in the entry, which is reserved.
    pub(super) fn fill(&self, _lock: &RecordGuard<'_>, object: NonNull<u8>, generation: u32) {
        self.object.store(object.as_ptr(), Ordering::Relaxed);
        // INVARIANT: the entry owns `object` now; release: whoever sees the
        // generation sees the address.
        self.state
            .store(u64::from(generation) << 32, Ordering::Release);
    }

    /// Drops the entry's reservation: the constructor failed, or the world
    /// exited meanwhile.
    pub(super) fn unreserve(&self, _lock: &RecordGuard<'_>) {
        self.state.store(EMPTY, Ordering::Relaxed);
    }

    /// Moves the entry to `to`, the same slot's entry of the array that
    /// replaces this one: readers of this entry see `MOVED` from now on.
    fn move_to(&self, _lock: &RecordGuard<'_>, to: &Entry) {
        let state = self.state.swap(MOVED, Ordering::AcqRel);
        to.object
            .store(self.object.load(Ordering::Relaxed), Ordering::Relaxed);
        to.state.store(state, Ordering::Relaxed);
    }
}

/// A record's entries: `struct world_storage_entries_v3`, `nr` entries
/// after the header, in the record's block (the first,
/// `RecordEntries::in_tail`) or allocated by the C glue (`ws_entries_new`).
#[repr(C)]
pub(crate) struct EntryArray {
    /// Immutable: how many entries follow.
    nr: u32,
    /// Immutable: the slot of the first entry. `base + nr` is at most
    /// `MAX_REGIONS`: the fast paths rely on it to index the published
    /// handles by any slot an entry has.
    base: u32,
    entries: [Entry; 0],
}

/// What the local lookup's fast path (C) reads of the world records, with
/// Rust's offsets: the layout test compares them with C's.
#[cfg(world_storage_kunit)]
pub(crate) const FAST_PATH_LAYOUT: &[(&CStr, usize)] = &[
    (
        c"world_storage_record_v3.task",
        super::record::RECORD_V3_OFFSETS.0,
    ),
    (
        c"world_storage_record_v3.entries",
        super::record::RECORD_V3_OFFSETS.1,
    ),
    (
        c"world_storage_entries_v3.nr",
        core::mem::offset_of!(EntryArray, nr),
    ),
    (
        c"world_storage_entries_v3.base",
        core::mem::offset_of!(EntryArray, base),
    ),
    (
        c"world_storage_entries_v3.entry",
        core::mem::offset_of!(EntryArray, entries),
    ),
    (
        c"world_storage_entry_v3.object",
        core::mem::offset_of!(Entry, object),
    ),
    (
        c"world_storage_entry_v3.state",
        core::mem::offset_of!(Entry, state),
    ),
    (
        c"world_storage_entry_v3.sizeof",
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
    /// The slots the array has entries for.
    pub(super) fn span(self) -> Range<usize> {
        // SAFETY: the array is alive for `'a` (type invariant); `nr` and
        // `base` are immutable.
        let (nr, base) = unsafe {
            let array = self.array.as_ptr();
            ((*array).nr as usize, (*array).base as usize)
        };
        base..base + nr
    }

    /// The entry of region slot `slot`, if the array has it.
    pub(super) fn get(self, slot: usize) -> Option<&'a Entry> {
        let span = self.span();
        if !span.contains(&slot) {
            return None;
        }
        // SAFETY: `slot - base < nr`, and the array has `nr` initialised
        // entries after its header, alive for `'a` (type invariant).
        Some(unsafe {
            &*(&raw const (*self.array.as_ptr()).entries)
                .cast::<Entry>()
                .add(slot - span.start)
        })
    }

    /// Every entry, with its slot.
    pub(super) fn iter(self) -> impl Iterator<Item = (usize, &'a Entry)> {
        self.span()
            .filter_map(move |slot| Some((slot, self.get(slot)?)))
    }

    /// Whether this is the array `array` points at.
    fn is(self, array: *mut EntryArray) -> bool {
        ptr::eq(self.array.as_ptr(), array)
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
    /// A new array of empty entries for the slots of `slots` at least
    /// (within `MAX_REGIONS`): it starts at a multiple of `MIN_ENTRIES` and
    /// has a power of two of them. Sized by what the world holds, not by
    /// the highest slot: a world whose only region is at slot 600 gets 8
    /// entries, not 1024 (a 24 KiB allocation, order 3, where a new task
    /// may not sleep).
    pub(super) fn alloc(slots: Range<usize>, context: AllocContext) -> Result<Self> {
        let span = Self::span_for(slots);
        let (nr, base) = (span.len(), span.start);
        // SAFETY: `ws_entries_new` has no requirement; `nr` and `base` are
        // below `MAX_REGIONS`, so they fit in a `u32`.
        let array = unsafe { ws_entries_new(nr as u32, base as u32, context.gfp()) }.cast();
        // INVARIANT: a new array, initialised by `ws_entries_new`.
        Ok(Self {
            array: NonNull::new(array).ok_or(ENOMEM)?,
        })
    }

    /// The slots an array for `slots` covers: from a multiple of
    /// `MIN_ENTRIES`, a power of two of them, within `MAX_REGIONS`.
    pub(super) fn span_for(slots: Range<usize>) -> Range<usize> {
        let base = slots.start.min(MAX_REGIONS - 1) & !(MIN_ENTRIES - 1);
        let nr = (slots.end.max(slots.start + 1) - base)
            .next_power_of_two()
            .max(MIN_ENTRIES)
            .min(MAX_REGIONS - base);
        base..base + nr
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
        unsafe { ws_entries_free(self.array.as_ptr().cast()) };
    }
}

/// A record's entry array (`struct world_storage_record_v3.entries`), one
/// entry per region slot of its span.
///
/// # Invariants
///
/// It is the `entries` field of a `WorldRecord`, whose tail
/// (`RECORD_TAIL` bytes past this field) starts with the record's first
/// array. `array` is never null: it points to that first array (freed with
/// the record), or to an array from `ws_entries_new` owned by this value.
/// An array from `ws_entries_new` it pointed to before is freed a grace
/// period after it was replaced. A `RecordEntries` is dropped only with its
/// record, when no reader can reach it (a grace period after the record's
/// teardown, or never shared).
#[repr(transparent)]
pub(super) struct RecordEntries {
    /// Replaced (release) under the record's lock by a wider array when a
    /// region outside its span gets an object: every entry is first moved
    /// there (`MOVED` left behind); the old array is freed a grace period
    /// later (`call_rcu`; the first, in the record's block, with the
    /// record), the last one with the record. Loaded (acquire) under RCU or
    /// with preemption off. A reader that finds `MOVED` loads it again until
    /// it changes: the mover keeps this CPU's interrupts off (`IrqsOff`, on
    /// `PREEMPT_RT` too) from the first move to the publication, at most
    /// `MAX_REGIONS` entries, so the wait is short and never on an
    /// interrupted or preempted mover of the same CPU (no lookup is made
    /// from NMI context).
    array: AtomicPtr<EntryArray>,
}

impl RecordEntries {
    /// The bytes of a first array covering `span`, at the start of a
    /// record's tail.
    pub(super) fn first_bytes(span: &Range<usize>) -> usize {
        core::mem::size_of::<EntryArray>() + span.len() * core::mem::size_of::<Entry>()
    }

    /// The record's entries, starting with an array covering `span` (at
    /// most `MAX_REGIONS` slots) at the start of `tail`, the tail of the
    /// record's block. The caller makes it the record's `entries` field.
    pub(super) fn in_tail(tail: Tail, span: Range<usize>) -> Result<Self> {
        if span.end > MAX_REGIONS || span.is_empty() {
            return Err(EINVAL);
        }
        let array = tail
            .at(0, Self::first_bytes(&span))
            .ok_or(EINVAL)?
            .cast::<EntryArray>();
        // SAFETY: `array` is zero-filled memory of the tail, aligned to 8,
        // large enough for the header and `span.len()` entries (checked by
        // `at`), used by nothing else; zero-filled entries are `EMPTY`.
        unsafe {
            (*array.as_ptr()).nr = span.len() as u32;
            (*array.as_ptr()).base = span.start as u32;
        }
        // INVARIANT: the first array, at the start of the record's tail.
        Ok(Self {
            array: AtomicPtr::new(array.as_ptr()),
        })
    }

    /// Whether `array` is the record's first array, in its block.
    fn is_first(&self, array: *mut EntryArray) -> bool {
        // The record's tail, `RECORD_TAIL` bytes past this field (type
        // invariant); only addresses are compared.
        let tail = ptr::from_ref(self).cast::<u8>().wrapping_add(RECORD_TAIL);
        ptr::eq(array.cast::<u8>(), tail)
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

    /// The entries after `moved`, an array whose entries moved: once the
    /// mover has published the next one.
    pub(super) fn after<'a>(&self, moved: Entries<'_>, guard: &'a rcu::Guard) -> Entries<'a> {
        loop {
            let entries = self.get(guard);
            if !entries.is(moved.array.as_ptr()) {
                return entries;
            }
            core::hint::spin_loop();
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

    /// Replaces the entries by `longer`, which covers their slots, moving
    /// every entry there, if they still cover `span` (if they were replaced
    /// meanwhile, `longer` is freed).
    pub(super) fn replace(&self, lock: &RecordGuard<'_>, longer: NewEntries, span: Range<usize>) {
        let old = self.locked(lock);
        let new = longer.entries().span();
        if old.span() != span || new.start > span.start || new.end < span.end {
            return;
        }
        // Readers that meet `MOVED` spin until the new array is published:
        // nothing interrupts or preempts this on its CPU meanwhile (the
        // record's lock does not keep interrupts off on `PREEMPT_RT`).
        let irqs_off = IrqsOff::new();
        for (slot, from) in old.iter() {
            if let Some(to) = longer.entries().get(slot) {
                from.move_to(lock, to);
            }
        }
        // Release: readers of the new array see its entries.
        // INVARIANT: `longer` is new and ours; `old` is freed a grace period
        // after this.
        self.array.store(longer.into_raw(), Ordering::Release);
        drop(irqs_off);
        if !self.is_first(old.array.as_ptr()) {
            // SAFETY: `old`, not the first array, came from `ws_entries_new`
            // and was ours; it is no longer reachable but for readers under
            // RCU or with preemption off, which the grace period waits for.
            unsafe { ws_entries_free_rcu(old.array.as_ptr().cast()) };
        }
    }
}

impl Drop for RecordEntries {
    fn drop(&mut self) {
        let last = *self.array.get_mut();
        if !self.is_first(last) {
            // SAFETY: the last array, not the first, so from
            // `ws_entries_new`, ours; no reader can reach it (type
            // invariant: dropped only with the record, when no reader can).
            unsafe { ws_entries_free(last.cast()) };
        }
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_entries)]
mod tests {
    use super::*;
    use crate::world::record::WorldRecord;
    use kernel::task::Task;

    /// Two distinct addresses for objects: entries never dereference them.
    fn objects() -> (NonNull<u8>, NonNull<u8>) {
        static A: u64 = 0;
        static B: u64 = 0;
        (NonNull::from(&A).cast(), NonNull::from(&B).cast())
    }

    /// An entry is empty, reserved or full; a reservation blocks another
    /// and holds no object; the fast path's generation appears with the
    /// fill; references are counted on the entry, refused past the cap,
    /// and an object with one is not claimed; a claim empties the entry.
    #[test]
    fn entry_reserve_fill_count_claim() -> Result {
        let me: &Task = kernel::current!();
        let record = WorldRecord::new(me, 0..1, AllocContext::Sleepable)?;
        let lock = record.lock();
        let entry = lock.entries().get(0).ok_or(EINVAL)?;
        let (object, other) = objects();
        assert_eq!(entry.object_of(5), Ok(None));
        assert!(matches!(entry.take_ref(5), Reference::Absent));
        assert!(matches!(entry.claim(5), Claim::Left));
        assert!(entry.reserve(&lock));
        assert!(!entry.reserve(&lock));
        assert_eq!(entry.holding().0, 0);
        assert!(matches!(entry.take_ref(0), Reference::Absent));
        entry.unreserve(&lock);
        assert!(entry.reserve(&lock));

        entry.fill(&lock, object, 5);
        assert_eq!(entry.state.load(Ordering::Relaxed) >> 32, 5);
        assert_eq!(entry.object_of(5), Ok(Some(object)));
        assert_eq!(entry.object_of(4), Ok(None));
        assert!(!entry.reserve(&lock));
        assert!(matches!(entry.take_ref(5), Reference::Taken(o) if o == object));
        assert!(matches!(entry.take_ref(5), Reference::Taken(_)));
        assert!(entry.is_referenced());
        assert!(matches!(entry.claim(5), Claim::Left));
        assert!(matches!(entry.drop_ref(other.as_ptr()), Dropped::NotHeld));
        assert!(matches!(entry.drop_ref(object.as_ptr()), Dropped::Released));
        assert!(matches!(entry.drop_ref(object.as_ptr()), Dropped::Released));
        assert!(matches!(entry.drop_ref(object.as_ptr()), Dropped::NotHeld));
        assert!(!entry.is_referenced());

        entry
            .state
            .store((5 << 32) | (MAX_REFS - 1), Ordering::Relaxed);
        assert!(matches!(entry.take_ref(5), Reference::Taken(_)));
        assert!(matches!(entry.take_ref(5), Reference::Overflow));
        entry.state.store(5 << 32, Ordering::Relaxed);

        assert!(matches!(entry.claim(4), Claim::Left));
        assert!(matches!(entry.claim(5), Claim::Claimed(o) if o == object));
        assert_eq!(entry.state.load(Ordering::Relaxed), EMPTY);
        assert_eq!(entry.object_of(5), Ok(None));
        assert!(matches!(entry.claim(5), Claim::Left));
        Ok(())
    }

    /// An array spans the slots asked for, from a multiple of 8, a power
    /// of two of entries, never past the last slot: a world whose only
    /// region is at slot 600 gets 8 entries, not 601 or 1,024.
    #[test]
    fn arrays_span_the_slots_held() -> Result {
        for (asked, spans) in [
            (600..601, 600..608),
            (0..1, 0..8),
            (1023..1024, 1016..1024),
            (5..700, 0..1024),
            (900..1000, 896..1024),
            (8..9, 8..16),
        ] {
            let array = NewEntries::alloc(asked.clone(), AllocContext::Sleepable)?;
            let span = array.entries().span();
            assert_eq!(span, spans);
            assert!(span.start <= asked.start && asked.end <= span.end);
            assert!(span.end <= MAX_REGIONS);
            assert!(array
                .entries()
                .iter()
                .all(|(_, e)| e.holding() == (0, ptr::null_mut())));
        }
        Ok(())
    }

    /// At exit an unreferenced object is claimed and a referenced one
    /// orphaned (counted once); an orphan takes no new reference, its last
    /// Release says so, and it is claimed after. A moved entry sends every
    /// reader to the next array, which holds the same state and object.
    #[test]
    fn entry_exit_orphan_and_move() -> Result {
        let me: &Task = kernel::current!();
        let record = WorldRecord::new(me, 0..1, AllocContext::Sleepable)?;
        // Allocated before the lock, which keeps interrupts off.
        let longer = NewEntries::alloc(0..MIN_ENTRIES * 2, AllocContext::Sleepable)?;
        let lock = record.lock();
        let (a, b) = (
            lock.entries().get(0).ok_or(EINVAL)?,
            lock.entries().get(1).ok_or(EINVAL)?,
        );
        let (object, other) = objects();
        for (entry, o) in [(a, object), (b, other)] {
            assert!(entry.reserve(&lock));
            entry.fill(&lock, o, 7);
        }
        assert!(matches!(b.take_ref(7), Reference::Taken(_)));
        let mut marked = 0;
        let mut undone = 0;
        assert!(
            matches!(a.at_exit(|| marked += 1, || undone += 1), AtExit::Claimed(o) if o == object)
        );
        assert!(matches!(
            b.at_exit(|| marked += 1, || undone += 1),
            AtExit::Orphaned
        ));
        assert!(matches!(
            b.at_exit(|| marked += 1, || undone += 1),
            AtExit::Empty
        ));
        assert_eq!((marked, undone), (1, 0));
        assert!(matches!(b.take_ref(7), Reference::Absent));
        assert!(matches!(b.claim(7), Claim::Left));
        assert!(matches!(b.drop_ref(other.as_ptr()), Dropped::LastOfOrphan));
        assert!(matches!(b.claim(7), Claim::Claimed(o) if o == other));

        assert!(a.reserve(&lock));
        a.fill(&lock, object, 9);
        assert!(matches!(a.take_ref(9), Reference::Taken(_)));
        let to = longer.entries().get(0).ok_or(EINVAL)?;
        a.move_to(&lock, to);
        assert_eq!(a.object_of(9), Err(()));
        assert!(matches!(a.take_ref(9), Reference::Moved));
        assert!(matches!(a.drop_ref(object.as_ptr()), Dropped::Moved));
        assert!(matches!(a.claim(9), Claim::Moved));
        assert_eq!(to.object_of(9), Ok(Some(object)));
        assert!(matches!(to.drop_ref(object.as_ptr()), Dropped::Released));
        assert!(matches!(to.claim(9), Claim::Claimed(_)));
        // The moved-from entry is abandoned with its array; the record's
        // own entry is emptied for its drop.
        a.state.store(EMPTY, Ordering::Relaxed);
        Ok(())
    }
}
