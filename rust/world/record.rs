// SPDX-License-Identifier: GPL-2.0

//! [`WorldRecord`]: the record of one world, its objects by region slot;
//! [`RecordGuard`]: its lock, the only way to write its entries.

use super::{
    entries::{AtExit, Claim, Dropped, Entries, NewEntries, RecordEntries, Reference},
    layout::WorldLayout,
    refcount::RecordRefcount,
};
use crate::{
    deferred,
    handle::RegionHandle,
    object_cache::{AllocContext, ObjectCache},
    rcu_box::{RcuBox, RcuFreed},
    tasks,
};
// `core`'s atomics, not `kernel::sync::atomic`: lookups and Release read these
// fields (see "Atomics" in Documentation/world-storage.rst).
use core::{
    ops::Range,
    ptr::NonNull,
    sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU8, Ordering},
};
use kernel::{
    bindings, new_spinlock_irq,
    prelude::*,
    sync::{rcu, SpinLockIrq, SpinLockIrqGuard},
    task::Task,
    types::Opaque,
};

/// The record of one world: its objects, by region slot.
///
/// Its first two fields are `struct world_storage_record_v3` of
/// `include/world_storage.h`: the local lookup's fast path reaches them
/// through a per-CPU pointer (`current_cache.rs`).
///
/// # Invariants
///
/// - `refs` counts 1 while the record is in `WorldTable`'s `worlds`, plus
///   one per holder of a `RecordRef`, plus one while `orphans` is not 0
///   (taken by the exit that orphaned an entry first). The record
///   is in an [`RcuBox`] given up with `RcuBox::into_raw` when it entered
///   `worlds`; whoever drops the last count owns the box again, tears the
///   record down (at once, or by a deferred teardown that owns it through
///   `link`) and retires it (freed, with its block, a grace period later).
/// - A reservation in its entries is held by a constructor in progress,
///   which holds a count of the record.
/// - Once `EXITED` is set, no entry is reserved, filled or moved.
#[repr(C)]
#[pin_data]
pub(crate) struct WorldRecord {
    /// The task whose record this is, while the record is in the table: the
    /// fast path's check that a per-CPU pointer is current's. Set when the
    /// record is made; cleared (by `current_cache::forget`) when it leaves
    /// the table, before it is forgotten on every CPU. Read anywhere.
    task: AtomicPtr<bindings::task_struct>,
    /// The entry array, one entry per region slot below its length. Its
    /// rules are at its field, `RecordEntries::array`: replaced under
    /// `lock`, loaded under RCU or with preemption off.
    entries: RecordEntries,
    /// Immutable: the world's ID (global TID) when the record was made.
    first_wid: i32,
    /// The world's ID as last seen: written only by the world's own exec and
    /// exit hooks (a thread that calls `execve()` takes its leader's TID),
    /// read anywhere. Destructors get it.
    wid: AtomicI32,
    /// See the type invariants. Taken only while not zero and below a cap
    /// (`RecordRefcount::try_get`), by Create's scan, the hooks and an exit
    /// with orphans; never by a lookup (remote references are counted on
    /// the entries).
    refs: RecordRefcount,
    /// The record's lock, taken with interrupts off ([`RecordGuard`]):
    /// guards every reservation, fill and move of the entries (and their
    /// replacement) and the setting of `EXITED`.
    #[pin]
    lock: SpinLockIrq<()>,
    /// Entries marked `ORPHAN` whose references are not all dropped, plus
    /// one while the exit that marks them runs. Raised by that exit only;
    /// lowered by it and by the Release (or a lookup undoing its reference)
    /// that drops an orphan's last reference; whoever brings it to 0 drops
    /// the count of `refs` the exit took for it.
    orphans: AtomicU32,
    /// `EXITED` and `POINTED_AT`, each set once, never cleared (bits of one
    /// byte, which keeps the record at 64 bytes):
    ///
    /// - `EXITED`: set under `lock` (sequentially consistent), when the
    ///   world leaves the table: no object is added after. Read under the
    ///   lock, or (sequentially consistent) by a remote lookup after it took
    ///   a reference: with the exit's check for references after the store,
    ///   one sees the other (see `WorldTable::lookup`).
    /// - `POINTED_AT`: whether a CPU may point at this record: set by
    ///   `current_cache::set` before it points a CPU here (the full barrier
    ///   of that protocol comes after it); read by `current_cache::forget`
    ///   after it clears `task` and a full barrier. If the read sees it
    ///   unset, the setter's re-check sees `task` cleared and undoes its
    ///   pointer, so a record no CPU pointed at is forgotten without
    ///   visiting every CPU. A setter that finds it already set (and does
    ///   not write it) read another setter's store before its own barrier;
    ///   full barriers are cumulative, so the same holds for it.
    flags: AtomicU8,
    /// Whether the record is in `WorldTable`'s list of records found by a
    /// former ID (`FormerIds`): written under that list's lock, read under
    /// it, or by the record's teardown, after every writer (see
    /// `FormerIds::remove`).
    in_former_ids: AtomicBool,
    /// The next record in that list: written under its lock, read under
    /// RCU.
    former_next: AtomicPtr<WorldRecord>,
    /// Used only after the last count is dropped: first, if the teardown is
    /// deferred, as the link in the list of deferred teardowns (a `struct
    /// llist_node` at its start), which the teardown has left before it
    /// retires the record; then for the deferred free (`RcuBox::retire`).
    link: Opaque<bindings::callback_head>,
}

// 64 bytes where a spinlock is 4 (no lock debugging): the fixed part of a
// world's memory that the benchmark's goal counts.
#[cfg(not(any(CONFIG_DEBUG_SPINLOCK, CONFIG_DEBUG_LOCK_ALLOC, CONFIG_PREEMPT_RT)))]
const _: () = assert!(core::mem::size_of::<WorldRecord>() == 64);

/// [`WorldRecord::flags`]: the world has exited.
const EXITED: u8 = 1 << 0;
/// [`WorldRecord::flags`]: a CPU may point at the record.
const POINTED_AT: u8 = 1 << 1;

/// The offset of a record's tail (its first entry array) from its
/// `entries` field.
pub(super) const RECORD_TAIL: usize =
    core::mem::size_of::<WorldRecord>() - core::mem::offset_of!(WorldRecord, entries);

// SAFETY: everything is atomic, behind `lock`, or used once by the owner of
// the last count; nothing is tied to the thread that made it.
unsafe impl Send for WorldRecord {}
// SAFETY: shared references read atomics and immutable fields, write the
// entries' states atomically and all else of them and `EXITED` only under
// `lock`, and use `link` only as the owner of the last count.
unsafe impl Sync for WorldRecord {}

// SAFETY: `link` is an `Opaque<bindings::callback_head>` field that only
// `RcuBox::retire` uses once the record is retired (its use as a deferral
// link is over by then).
unsafe impl RcuFreed for WorldRecord {
    const RCU_HEAD: usize = core::mem::offset_of!(WorldRecord, link);
}

/// The offsets of `task` and `entries`, the fields the local lookup's fast
/// path (C) reads, for the layout test (`entries::FAST_PATH_LAYOUT`).
#[cfg(world_storage_kunit)]
pub(super) const RECORD_V3_OFFSETS: (usize, usize) = (
    core::mem::offset_of!(WorldRecord, task),
    core::mem::offset_of!(WorldRecord, entries),
);

impl WorldRecord {
    /// A record for `task`, not yet in the table, counting one reference
    /// (the table's, once attached), with entries for region slots in
    /// `slots` at least.
    pub(crate) fn new(
        task: &Task,
        slots: Range<usize>,
        context: AllocContext,
    ) -> Result<RcuBox<Self>> {
        Self::in_block(task, NewEntries::span_for(slots), None, context)
    }

    /// A record for `task` as [`WorldRecord::new`] makes, in a block of
    /// `layout`: its entries cover the layout's slots exactly.
    pub(crate) fn in_layout(
        task: &Task,
        layout: &WorldLayout,
        context: AllocContext,
    ) -> Result<RcuBox<Self>> {
        Self::in_block(task, layout.span(), Some(layout.cache()), context)
    }

    /// A record whose block holds it and its first entry array, covering
    /// `span`: from `cache` (blocks of that size) or kmalloc.
    fn in_block(
        task: &Task,
        span: Range<usize>,
        cache: Option<&ObjectCache>,
        context: AllocContext,
    ) -> Result<RcuBox<Self>> {
        let size = Self::block_size(&span);
        let wid = tasks::world_id(task);
        RcuBox::pin_init_with_tail(size, cache, context.gfp(), |tail| {
            let entries = RecordEntries::in_tail(tail, span)?;
            // INVARIANT: one count, for the table; no object yet.
            Ok(pin_init!(Self {
                task: AtomicPtr::new(task.as_ptr()),
                entries,
                first_wid: wid,
                wid: AtomicI32::new(wid),
                refs: RecordRefcount::new(),
                lock <- new_spinlock_irq!((), "WorldRecord::lock"),
                orphans: AtomicU32::new(0),
                flags: AtomicU8::new(0),
                in_former_ids: AtomicBool::new(false),
                former_next: AtomicPtr::new(core::ptr::null_mut()),
                link: Opaque::uninit(),
            }))
        })
    }

    /// The bytes of a block holding a record and its first entry array,
    /// covering `span`.
    pub(super) fn block_size(span: &Range<usize>) -> usize {
        core::mem::size_of::<Self>() + RecordEntries::first_bytes(span)
    }

    /// Takes the record's lock: the only way to write its entries.
    pub(super) fn lock(&self) -> RecordGuard<'_> {
        // INVARIANT: the guard of this record's lock.
        RecordGuard {
            record: self,
            _lock: self.lock.lock(),
        }
    }

    /// The record's reference count.
    pub(super) fn refs(&self) -> &RecordRefcount {
        &self.refs
    }

    /// The entries, valid while `guard` is held.
    fn entries<'a>(&self, guard: &'a rcu::Guard) -> Entries<'a> {
        self.entries.get(guard)
    }

    /// Notes that a CPU is about to point at this record.
    pub(super) fn note_pointed_at(&self) {
        // Read first: after the first time, no write to a shared line.
        if self.flags.load(Ordering::Relaxed) & POINTED_AT == 0 {
            self.flags.fetch_or(POINTED_AT, Ordering::Relaxed);
        }
    }

    /// Whether a CPU may have pointed at this record.
    pub(super) fn was_pointed_at(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & POINTED_AT != 0
    }

    /// The world's ID as last seen.
    pub(super) fn wid(&self) -> i32 {
        self.wid.load(Ordering::Relaxed)
    }

    /// Notes the world's ID now. Called only in the world's own context (its
    /// exec and exit hooks), so the writes are ordered.
    pub(super) fn note_wid(&self, task: &Task) {
        self.wid.store(tasks::world_id(task), Ordering::Relaxed);
    }

    /// Whether the world's ID is no longer the one it had when the record
    /// was made (its thread called `execve()`).
    pub(super) fn changed_id(&self) -> bool {
        self.wid() != self.first_wid
    }

    /// Whether `wid` is an ID this world had while a lookup could name it:
    /// when the record was made, or as last noted by its exec and exit
    /// hooks (a thread that calls `execve()` takes its leader's TID). Only
    /// those, also once the world has exited: a live task changes ID at most
    /// once (a thread that calls `execve()` becomes its group's leader), and
    /// the TID `de_thread()` gives an exited leader after its exit hook never
    /// named it for a lookup.
    pub(super) fn had_wid(&self, wid: i32) -> bool {
        wid == self.first_wid || wid == self.wid()
    }

    /// The memory of the object of the region named `handle`, without a
    /// reference: for the current task's own lookup.
    pub(super) fn object_memory(&self, handle: u64, guard: &rcu::Guard) -> Option<NonNull<u8>> {
        let handle = RegionHandle::decode(handle)?;
        let mut entries = self.entries(guard);
        loop {
            match entries.get(handle.slot())?.object_of(handle.generation()) {
                Ok(object) => return object,
                Err(()) => entries = self.entries.after(entries, guard),
            }
        }
    }

    /// Takes a remote reference to the object of the region named
    /// `handle`. The caller then checks [`WorldRecord::has_exited`].
    pub(super) fn take_ref(&self, handle: RegionHandle, guard: &rcu::Guard) -> Reference {
        let mut entries = self.entries(guard);
        loop {
            let Some(entry) = entries.get(handle.slot()) else {
                return Reference::Absent;
            };
            match entry.take_ref(handle.generation()) {
                Reference::Moved => entries = self.entries.after(entries, guard),
                taken => return taken,
            }
        }
    }

    /// Drops a remote reference to the object at `object`, if this world
    /// holds it with a reference; with the object's slot.
    pub(super) fn drop_ref(&self, object: *const u8, guard: &rcu::Guard) -> (Dropped, usize) {
        let mut entries = self.entries(guard);
        'arrays: loop {
            for (slot, entry) in entries.iter() {
                match entry.drop_ref(object) {
                    Dropped::NotHeld => {}
                    Dropped::Moved => {
                        entries = self.entries.after(entries, guard);
                        continue 'arrays;
                    }
                    dropped => return (dropped, slot),
                }
            }
            return (Dropped::NotHeld, 0);
        }
    }

    /// Claims the object of the region named `handle` if it has no
    /// reference (orphaned or not): the caller owns it then.
    pub(super) fn claim(&self, handle: RegionHandle, guard: &rcu::Guard) -> Option<NonNull<u8>> {
        let mut entries = self.entries(guard);
        loop {
            match entries.get(handle.slot())?.claim(handle.generation()) {
                Claim::Claimed(object) => return Some(object),
                Claim::Left => return None,
                Claim::Moved => entries = self.entries.after(entries, guard),
            }
        }
    }

    /// Claims any object left without a reference (orphans whose last
    /// reference was dropped, at the record's teardown), with its slot.
    pub(super) fn claim_any(&self, guard: &rcu::Guard) -> Option<(usize, NonNull<u8>)> {
        let entries = self.entries(guard);
        entries.iter().find_map(|(slot, entry)| {
            let (generation, _) = entry.holding();
            match entry.claim(generation) {
                Claim::Claimed(object) => Some((slot, object)),
                _ => None,
            }
        })
    }

    /// Whether any object has a remote reference. Sequentially consistent:
    /// called by the exit after it set `EXITED`.
    pub(super) fn is_referenced(&self, guard: &rcu::Guard) -> bool {
        self.entries(guard)
            .iter()
            .any(|(_, entry)| entry.is_referenced())
    }

    /// The world has exited (`EXITED` is set): each object without a
    /// reference is handed to `destroy` with its slot; each with references
    /// is marked `ORPHAN` and counted in `orphans`. If orphans are not yet
    /// counted, `first_orphan` runs before the first is marked (and must
    /// call [`WorldRecord::start_orphans`]).
    pub(super) fn orphan_or_claim(
        &self,
        guard: &rcu::Guard,
        mut first_orphan: impl FnMut(),
        mut destroy: impl FnMut(usize, NonNull<u8>),
    ) {
        for (slot, entry) in self.entries(guard).iter() {
            let outcome = entry.at_exit(
                || {
                    if self.orphans.load(Ordering::Relaxed) == 0 {
                        first_orphan();
                    }
                    self.orphans.fetch_add(1, Ordering::Relaxed);
                },
                || {
                    self.orphans.fetch_sub(1, Ordering::Relaxed);
                },
            );
            if let AtExit::Claimed(object) = outcome {
                destroy(slot, object);
            }
        }
    }

    /// Starts counting orphans: the exit's own count, which
    /// [`WorldRecord::orphan_dropped`] drops at its end.
    pub(super) fn start_orphans(&self) {
        self.orphans.store(1, Ordering::Relaxed);
    }

    /// Whether orphans are counted (the exit found references).
    pub(super) fn has_orphans(&self) -> bool {
        self.orphans.load(Ordering::Acquire) != 0
    }

    /// An orphan lost its last reference, or the exit ended; `true` if that
    /// was the last count of `orphans`: the caller drops the record count
    /// taken for them.
    #[must_use = "the last one drops the orphans' count of the record"]
    pub(super) fn orphan_dropped(&self) -> bool {
        self.orphans.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Whether the world has exited. Sequentially consistent: called by a
    /// remote lookup after it took a reference.
    pub(super) fn has_exited(&self) -> bool {
        self.flags.load(Ordering::SeqCst) & EXITED != 0
    }

    /// The next record in the list of records found by a former ID.
    pub(super) fn former_next(&self) -> &AtomicPtr<WorldRecord> {
        &self.former_next
    }

    /// Whether the record is in that list (under its lock).
    pub(super) fn in_former_ids(&self) -> &AtomicBool {
        &self.in_former_ids
    }

    /// Reserves the entry of `slot` if it is empty and the world has not
    /// exited; `Ok(false)` if it is taken or reserved, or the world exited.
    /// Makes the array cover `slot` if it does not (allocating with the
    /// lock released).
    pub(super) fn reserve(&self, slot: usize, context: AllocContext) -> Result<bool> {
        loop {
            let span = {
                let lock = self.lock();
                if lock.exited() {
                    return Ok(false);
                }
                let entries = lock.entries();
                if let Some(entry) = entries.get(slot) {
                    return Ok(entry.reserve(&lock));
                }
                entries.span()
            };
            let wider = span.start.min(slot)..span.end.max(slot + 1);
            let longer = NewEntries::alloc(wider, context)?;
            self.lock().replace_entries(longer, span);
        }
    }

    /// Queues the record, whose last count its caller dropped where it may
    /// not be torn down, for a teardown in process context.
    pub(super) fn defer_teardown(this: RcuBox<Self>) {
        let link = this.link.get().cast::<bindings::llist_node>();
        // The list owns the record now, until `DeferredRecords` takes it.
        let _ = RcuBox::into_raw(this);
        // SAFETY: `link` is the record's deferral link, used once (its last
        // count is gone), in a record that stays alive, owned by the list,
        // until the deferred teardown takes it.
        unsafe { deferred::defer(link) };
    }
}

/// The records of a chain of deferral links queued by
/// [`WorldRecord::defer_teardown`], taken one at a time. Records not taken
/// are leaked.
///
/// # Invariants
///
/// `next` is null or a link of such a chain, owned by this value, whose
/// links are not yet taken.
pub(crate) struct DeferredRecords {
    next: *mut bindings::llist_node,
}

impl DeferredRecords {
    /// The records of `list`.
    ///
    /// # Safety
    ///
    /// `list` is null or a chain of deferral links queued by
    /// [`WorldRecord::defer_teardown`], now owned by the caller, which gives
    /// it up. RCU readers may still see the records: each is torn down and
    /// retired, never just dropped.
    pub(crate) unsafe fn new(list: *mut bindings::llist_node) -> Self {
        // INVARIANT: by the contract.
        Self { next: list }
    }
}

impl Iterator for DeferredRecords {
    type Item = RcuBox<WorldRecord>;

    fn next(&mut self) -> Option<RcuBox<WorldRecord>> {
        let link = NonNull::new(self.next)?;
        // SAFETY: `link` is a live link of the chain we own (type
        // invariant); `next` is read before its record is taken.
        let next = unsafe { (*link.as_ptr()).next };
        // INVARIANT: the rest of the chain, whose links are not yet taken.
        self.next = next;
        let link = link.as_ptr().cast::<Opaque<bindings::callback_head>>();
        // SAFETY: `link` is the `link` field of a record given up by
        // `defer_teardown`'s `RcuBox::into_raw` (type invariant), taken once,
        // here: we own it now.
        Some(unsafe {
            RcuBox::from_raw(NonNull::new_unchecked(kernel::container_of!(
                link,
                WorldRecord,
                link
            )))
        })
    }
}

/// A record's lock, held: the only way to write the record's entries and
/// `EXITED`.
///
/// # Invariants
///
/// `_lock` holds `record.lock`.
#[must_use = "the lock is released when the guard is dropped"]
pub(super) struct RecordGuard<'a> {
    record: &'a WorldRecord,
    _lock: SpinLockIrqGuard<'a, ()>,
}

impl RecordGuard<'_> {
    /// The entries, which only the lock holder replaces.
    pub(super) fn entries(&self) -> Entries<'_> {
        self.record.entries.locked(self)
    }

    /// Whether the world has exited.
    pub(super) fn exited(&self) -> bool {
        self.record.flags.load(Ordering::Relaxed) & EXITED != 0
    }

    /// The world exits: no object is added after this. `false` if it was
    /// marked already (by another path retiring the record).
    #[must_use = "only the first to mark the world retires its record"]
    pub(super) fn mark_exited(&self) -> bool {
        // INVARIANT: under the lock, which every reservation, fill and move
        // takes and checks `EXITED` under.
        self.record.flags.fetch_or(EXITED, Ordering::SeqCst) & EXITED == 0
    }

    /// Replaces the entries by `longer`, moving every entry there, unless
    /// they were replaced since they covered `span` or the world exited
    /// (then `longer` is freed).
    pub(super) fn replace_entries(&self, longer: NewEntries, span: Range<usize>) {
        if !self.exited() {
            self.record.entries.replace(self, longer, span);
        }
    }

    /// Puts `object` (or, if `None`, nothing) in the reserved entry of
    /// `slot`, as the object of the region of `generation`; `false` (and
    /// the reservation dropped) if the world has exited meanwhile: the
    /// caller keeps `object` and must destroy it.
    pub(super) fn fill(&self, slot: usize, generation: u32, object: Option<NonNull<u8>>) -> bool {
        // Reserved, so present: the array only gets longer.
        let Some(entry) = self.entries().get(slot) else {
            return false;
        };
        match object {
            Some(object) if !self.exited() => {
                entry.fill(self, object, generation);
                true
            }
            _ => {
                entry.unreserve(self);
                false
            }
        }
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_world_record)]
mod tests {
    use super::*;
    use crate::world::fixture::TestRegion;
    use core::ptr;

    /// Reserving a slot beyond the entry array grows it (more than once if
    /// need be) and keeps every object where lookups find it, with the
    /// references taken before the growth; a reserved slot is not reserved
    /// twice until the constructor gives it up; an exited world reserves
    /// nothing and refuses a fill.
    #[test]
    fn reserve_grows_the_array_and_keeps_every_object() -> Result {
        let region = TestRegion::new()?;
        let me: &Task = kernel::current!();
        let record = WorldRecord::new(me, 0..1, AllocContext::Sleepable)?;
        let mut filled = KVec::new();
        for slot in Iterator::chain(0..8, [20, 100]) {
            assert!(record.reserve(slot, AllocContext::Sleepable)?);
            assert!(!record.reserve(slot, AllocContext::Sleepable)?);
            let handle = region.handle_at(slot)?;
            let object = region.object()?;
            filled.push((handle, object), GFP_KERNEL)?;
            assert!(record.lock().fill(slot, handle.generation(), Some(object)));
            if slot == 3 {
                let guard = rcu::read_lock();
                assert!(
                    matches!(record.take_ref(handle, &guard), Reference::Taken(o) if o == object)
                );
            }
        }
        let mut lost = 0;
        {
            let guard = rcu::read_lock();
            assert!(record.entries(&guard).span().contains(&100));
            for &(handle, object) in filled.iter() {
                lost += usize::from(record.object_memory(handle.encode(), &guard) != Some(object));
            }
            // The reference taken before the growth is still counted.
            let (handle, object) = filled[3];
            assert!(record.claim(handle, &guard).is_none());
            assert!(matches!(
                record.drop_ref(object.as_ptr(), &guard),
                (Dropped::Released, 3)
            ));
            assert!(matches!(
                record.drop_ref(object.as_ptr(), &guard),
                (Dropped::NotHeld, _)
            ));
        }
        if lost != 0 {
            pr_err!("{lost} objects not found after the entry array grew\n");
        }
        assert_eq!(lost, 0);

        assert!(record.reserve(300, AllocContext::Sleepable)?);
        assert!(!record.lock().fill(300, 1, None));
        assert!(record.reserve(300, AllocContext::Sleepable)?);
        assert!(record.lock().mark_exited());
        let spare = region.object()?;
        assert!(!record.lock().fill(300, 1, Some(spare)));
        region.free(spare);
        assert!(!record.reserve(9, AllocContext::Sleepable)?);
        assert!(!record.reserve(1000, AllocContext::Sleepable)?);
        let mut claimed = KVec::new();
        {
            let guard = rcu::read_lock();
            while let Some((slot, object)) = record.claim_any(&guard) {
                assert!(filled
                    .iter()
                    .any(|&(h, o)| h.slot() == slot && ptr::eq(o.as_ptr(), object.as_ptr())));
                claimed.push(object, GFP_ATOMIC)?;
            }
        }
        assert_eq!(claimed.len(), filled.len());
        // Freed outside RCU: freeing takes the region table's mutex.
        for object in claimed {
            region.free(object);
        }
        Ok(())
    }

    /// An exit claims every object without a reference and orphans each
    /// with one, counting it: the first orphan starts the count; the last
    /// reference of an orphan says so, and a lookup refuses an orphan.
    #[test]
    fn exit_claims_or_orphans_each_object() -> Result {
        let region = TestRegion::new()?;
        let me: &Task = kernel::current!();
        let record = WorldRecord::new(me, 0..1, AllocContext::Sleepable)?;
        let mut objects = KVec::new();
        for slot in 0..4 {
            assert!(record.reserve(slot, AllocContext::Sleepable)?);
            let object = region.object()?;
            assert!(record
                .lock()
                .fill(slot, region.handle_at(slot)?.generation(), Some(object)));
            objects.push(object, GFP_KERNEL)?;
        }
        let guard = rcu::read_lock();
        for slot in [1, 3] {
            assert!(matches!(
                record.take_ref(region.handle_at(slot)?, &guard),
                Reference::Taken(_)
            ));
        }
        assert!(record.lock().mark_exited());
        assert!(!record.lock().mark_exited());
        assert!(record.has_exited());
        assert!(record.is_referenced(&guard));
        let mut started = 0;
        let mut destroyed = KVec::new();
        record.orphan_or_claim(
            &guard,
            || {
                started += 1;
                record.start_orphans();
            },
            |slot, object| {
                let _ = destroyed.push((slot, object), GFP_ATOMIC);
            },
        );
        assert_eq!(started, 1);
        assert_eq!(destroyed.len(), 2);
        assert!(destroyed.iter().all(|&(slot, _)| slot == 0 || slot == 2));
        assert!(matches!(
            record.take_ref(region.handle_at(1)?, &guard),
            Reference::Absent
        ));
        assert!(!record.orphan_dropped());
        assert!(matches!(
            record.drop_ref(objects[1].as_ptr(), &guard),
            (Dropped::LastOfOrphan, 1)
        ));
        assert!(!record.orphan_dropped());
        assert!(matches!(
            record.drop_ref(objects[3].as_ptr(), &guard),
            (Dropped::LastOfOrphan, 3)
        ));
        assert!(record.orphan_dropped());
        let mut left = KVec::new();
        while let Some((_, object)) = record.claim_any(&guard) {
            left.push(object, GFP_ATOMIC)?;
        }
        drop(guard);
        assert_eq!(left.len(), 2);
        // Freed outside RCU: freeing takes the region table's mutex.
        for object in Iterator::chain(left.into_iter(), destroyed.into_iter().map(|(_, o)| o)) {
            region.free(object);
        }
        Ok(())
    }

    /// `DeferredRecords` yields each record of a chain of deferral links
    /// once, from the head (the last queued, as `llist_add()` links them).
    #[test]
    fn deferred_records_yields_each_record_once() -> Result {
        let me: &Task = kernel::current!();
        let mut queued = KVec::new();
        let mut head: *mut bindings::llist_node = ptr::null_mut();
        for _ in 0..3 {
            let record = WorldRecord::new(me, 0..1, AllocContext::Sleepable)?;
            let link = record.link.get().cast::<bindings::llist_node>();
            // SAFETY: `link` is the deferral link of a record no one else
            // sees; it is linked once, before the chain is handed over.
            unsafe { (*link).next = head };
            head = link;
            queued.push(RcuBox::into_raw(record), GFP_KERNEL)?;
        }
        // SAFETY: a chain of the deferral links of records given up by
        // `RcuBox::into_raw`, owned here and given up.
        let records = unsafe { DeferredRecords::new(head) };
        let mut taken = 0;
        for (record, expected) in records.zip(queued.iter().rev()) {
            assert_eq!(record.as_ptr(), expected.as_ptr());
            taken += 1;
        }
        assert_eq!(taken, 3);
        // SAFETY: an empty chain.
        assert!(unsafe { DeferredRecords::new(ptr::null_mut()) }
            .next()
            .is_none());
        Ok(())
    }
}
