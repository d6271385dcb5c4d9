// SPDX-License-Identifier: GPL-2.0

//! [`WorldRecord`]: the record of one world, its objects by region slot;
//! [`RecordGuard`]: its lock, the only way to write its entries.

use super::{
    entries::{Entries, Entry, NewEntries, RecordEntries},
    object::ObjectRecord,
    refcount::RecordRefcount,
};
use crate::{
    deferred,
    object_cache::AllocContext,
    rcu_box::{RcuBox, RcuFreed},
    tasks,
};
// `core`'s atomics, not `kernel::sync::atomic`: lookups and Release read these
// fields (see "Atomics" in Documentation/world-storage.rst).
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering},
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
/// Its first two fields are `struct world_storage_record_v1` of
/// `include/world_storage.h`: the local lookup's fast path reaches them
/// through a per-CPU pointer (`current_cache.rs`).
///
/// # Invariants
///
/// - `refs` counts 1 while the record is in `WorldTable`'s `worlds`, plus
///   one per holder of a `RecordRef` and per remote reference. The record
///   is in an [`RcuBox`] given up with `RcuBox::into_raw` when it entered
///   `worlds`; whoever drops the last count owns the box again, tears the
///   record down (at once, or by a deferred teardown that owns it through
///   `deferred`) and retires it (freed a grace period later).
/// - Its entries hold objects that point back at this record. A
///   reservation is held by a constructor in progress, which holds a count
///   of the record.
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
    /// (`RecordRefcount::try_get`), by lookups.
    refs: RecordRefcount,
    /// The record's lock, taken with interrupts off ([`RecordGuard`]):
    /// guards every write to the entries (and their replacement) and to
    /// `exited`.
    #[pin]
    lock: SpinLockIrq<()>,
    /// Set once under `lock` at exit: no object is added after. Read and
    /// written only under that lock.
    exited: AtomicBool,
    /// Whether a CPU may point at this record: set, never cleared, by
    /// `current_cache::set` before it points a CPU here (the full barrier
    /// of that protocol comes after it); read by `current_cache::forget`
    /// after it clears `task` and a full barrier. If the read sees it
    /// unset, the setter's re-check sees `task` cleared and undoes its
    /// pointer, so a record no CPU pointed at is forgotten without visiting
    /// every CPU. A setter that finds it already set (and does not write
    /// it) read another setter's store before its own barrier; full
    /// barriers are cumulative, so the same holds for it.
    pointed_at: AtomicBool,
    /// Link in the list of deferred teardowns: used once, after the last
    /// reference is dropped where the teardown may not run.
    deferred: Opaque<bindings::llist_node>,
    /// For the deferred free (`RcuBox::retire`).
    rcu: Opaque<bindings::callback_head>,
}

// SAFETY: everything is atomic, behind `lock`, or used once by the owner of
// the last count; nothing is tied to the thread that made it.
unsafe impl Send for WorldRecord {}
// SAFETY: shared references read atomics and immutable fields, write the
// entries and `exited` only under `lock`, and use `deferred` and `rcu` only
// as the owner of the last count.
unsafe impl Sync for WorldRecord {}

// SAFETY: `rcu` is an `Opaque<bindings::callback_head>` field that nothing
// but `RcuBox::retire` uses.
unsafe impl RcuFreed for WorldRecord {
    const RCU_HEAD: usize = core::mem::offset_of!(WorldRecord, rcu);
}

/// The offsets of `task` and `entries`, the fields the local lookup's fast
/// path (C) reads, for the layout test (`entries::FAST_PATH_LAYOUT`).
#[cfg(world_storage_kunit)]
pub(super) const RECORD_V1_OFFSETS: (usize, usize) = (
    core::mem::offset_of!(WorldRecord, task),
    core::mem::offset_of!(WorldRecord, entries),
);

impl WorldRecord {
    /// A record for `task`, not yet in the table, counting one reference
    /// (the table's, once attached), with entries for region slots below
    /// `slots` at least.
    pub(crate) fn new(task: &Task, slots: usize, context: AllocContext) -> Result<RcuBox<Self>> {
        let wid = tasks::world_id(task);
        let entries = NewEntries::alloc(slots, context)?;
        RcuBox::pin_init(
            // INVARIANT: one count, for the table; no object yet.
            pin_init!(Self {
                task: AtomicPtr::new(task.as_ptr()),
                entries: RecordEntries::new(entries),
                first_wid: wid,
                wid: AtomicI32::new(wid),
                refs: RecordRefcount::new(),
                lock <- new_spinlock_irq!((), "WorldRecord::lock"),
                exited: AtomicBool::new(false),
                pointed_at: AtomicBool::new(false),
                deferred: Opaque::uninit(),
                rcu: Opaque::uninit(),
            }),
            context.flags(),
        )
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
        if !self.pointed_at.load(Ordering::Relaxed) {
            self.pointed_at.store(true, Ordering::Relaxed);
        }
    }

    /// Whether a CPU may have pointed at this record.
    pub(super) fn was_pointed_at(&self) -> bool {
        self.pointed_at.load(Ordering::Relaxed)
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

    /// The entry of the region named `handle`, if this world has its
    /// object, valid while `guard` is held.
    #[inline]
    fn entry<'a>(&self, handle: u64, guard: &'a rcu::Guard) -> Option<&'a Entry> {
        let entry = self.entries(guard).get(slot_of(handle))?;
        (entry.handle() == handle).then_some(entry)
    }

    /// The object of the region named `handle`, valid while `guard` is held.
    pub(super) fn object<'a>(
        &self,
        handle: u64,
        guard: &'a rcu::Guard,
    ) -> Option<&'a ObjectRecord> {
        self.entry(handle, guard)?.object()
    }

    /// The memory of the object of the region named `handle`.
    pub(super) fn object_memory(&self, handle: u64, guard: &rcu::Guard) -> Option<NonNull<u8>> {
        self.entry(handle, guard)?.object_memory()
    }

    /// Reserves the entry of `slot` if it is empty and the world has not
    /// exited; `Ok(false)` if it is taken or reserved, or the world exited.
    /// Makes the array longer if it has no entry for `slot` (allocating
    /// with the lock released).
    pub(super) fn reserve(&self, slot: usize, context: AllocContext) -> Result<bool> {
        loop {
            let len = {
                let lock = self.lock();
                if lock.exited() {
                    return Ok(false);
                }
                let entries = lock.entries();
                if let Some(entry) = entries.get(slot) {
                    return Ok(entry.reserve(&lock));
                }
                entries.len()
            };
            let longer = NewEntries::alloc(slot + 1, context)?;
            self.lock().replace_entries(longer, len);
        }
    }

    /// Queues the record, whose last count its caller dropped where it may
    /// not be torn down, for a teardown in process context.
    pub(super) fn defer_teardown(this: RcuBox<Self>) {
        let link = this.deferred.get();
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
        let link = link.as_ptr().cast::<Opaque<bindings::llist_node>>();
        // SAFETY: `link` is the `deferred` field of a record given up by
        // `defer_teardown`'s `RcuBox::into_raw` (type invariant), taken once,
        // here: we own it now.
        Some(unsafe {
            RcuBox::from_raw(NonNull::new_unchecked(kernel::container_of!(
                link,
                WorldRecord,
                deferred
            )))
        })
    }
}

/// The slot of the region named `handle`.
pub(super) fn slot_of(handle: u64) -> usize {
    (handle & 0xffff_ffff) as usize
}

/// A record's lock, held: the only way to write the record's entries and
/// `exited`.
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
        self.record.exited.load(Ordering::Relaxed)
    }

    /// The world exits: no object is added after this.
    pub(super) fn mark_exited(&self) {
        self.record.exited.store(true, Ordering::Relaxed);
    }

    /// Replaces the entries by `longer`, a copy, unless they were replaced
    /// since their length was `len` (then `longer` is freed).
    pub(super) fn replace_entries(&self, longer: NewEntries, len: usize) {
        self.record.entries.replace(self, longer, len);
    }

    /// Puts `obj` (or, if `None`, nothing) in the reserved entry of `slot`,
    /// as the object of the region named `handle`.
    pub(super) fn fill(&self, slot: usize, handle: u64, obj: Option<RcuBox<ObjectRecord>>) {
        // Reserved, so present: the array only gets longer.
        let Some(entry) = self.entries().get(slot) else {
            return;
        };
        match obj {
            Some(obj) => entry.fill(self, obj, handle),
            None => entry.unreserve(self),
        }
    }

    /// Removes `obj` from the entry of `slot` if it is still there; the
    /// caller then owns it (and must destruct and retire it).
    pub(super) fn claim(&self, slot: usize, obj: &ObjectRecord) -> Option<RcuBox<ObjectRecord>> {
        let entry = self.entries().get(slot)?;
        if !entry.holds(obj) {
            return None;
        }
        entry.take(self)
    }

    /// Removes and returns any one object, which the caller now owns.
    pub(super) fn take_any(&self) -> Option<RcuBox<ObjectRecord>> {
        self.entries().iter().find_map(|entry| entry.take(self))
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_world_record)]
mod tests {
    use super::*;
    use crate::world::fixture::{handle_of_slot, TestRegion};
    use core::ptr;

    /// Empties `record`, dropping its objects (never seen by a reader).
    fn empty(record: &WorldRecord) {
        loop {
            let obj = record.lock().take_any();
            let Some(obj) = obj else {
                break;
            };
            drop(obj);
        }
    }

    /// Reserving a slot beyond the entry array grows it (more than once if
    /// need be) and keeps every object where lookups find it; a reserved
    /// slot is not reserved twice until the constructor gives it up; an
    /// exited world reserves nothing.
    #[test]
    fn reserve_grows_the_array_and_keeps_every_object() -> Result {
        let region = TestRegion::new()?;
        let me: &Task = kernel::current!();
        let record = WorldRecord::new(me, 1, AllocContext::Sleepable)?;
        let mut filled = KVec::new();
        for slot in Iterator::chain(0..8, [20, 100]) {
            assert!(record.reserve(slot, AllocContext::Sleepable)?);
            assert!(!record.reserve(slot, AllocContext::Sleepable)?);
            let obj = region.object(&record)?;
            let handle = handle_of_slot(slot)?;
            filled.push((handle, obj.data()), GFP_KERNEL)?;
            record.lock().fill(slot, handle, Some(obj));
        }
        let mut lost = 0;
        {
            let guard = rcu::read_lock();
            assert!(record.entries(&guard).len() > 100);
            for &(handle, data) in filled.iter() {
                let found = record.object_memory(handle, &guard) == Some(data)
                    && record
                        .object(handle, &guard)
                        .is_some_and(|obj| obj.data() == data && ptr::eq(obj.record(), &*record));
                lost += usize::from(!found);
            }
        }
        if lost != 0 {
            pr_err!("{lost} objects not found after the entry array grew\n");
        }
        assert_eq!(lost, 0);

        assert!(record.reserve(300, AllocContext::Sleepable)?);
        record.lock().fill(300, handle_of_slot(300)?, None);
        assert!(record.reserve(300, AllocContext::Sleepable)?);
        record.lock().fill(300, handle_of_slot(300)?, None);

        record.lock().mark_exited();
        assert!(!record.reserve(9, AllocContext::Sleepable)?);
        assert!(!record.reserve(1000, AllocContext::Sleepable)?);
        empty(&record);
        let guard = rcu::read_lock();
        assert!(filled
            .iter()
            .all(|&(handle, _)| record.object_memory(handle, &guard).is_none()));
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
            let record = WorldRecord::new(me, 1, AllocContext::Sleepable)?;
            let link = record.deferred.get();
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
