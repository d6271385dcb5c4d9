// SPDX-License-Identifier: GPL-2.0

//! [`WorldTable`]: every world record and every object, and every path
//! that finds them: records by task or world ID, objects by slot in a
//! record (the lookups, Destroy's sweep) or by address in a record
//! (Release).

use super::{
    current_cache,
    entries::{Dropped, Reference},
    former_ids::FormerIds,
    layout::{BlockCaches, WorldLayout},
    record::{DeferredRecords, WorldRecord},
    record_ref::RecordRef,
};
use crate::{
    deferred,
    handle::{RegionHandle, MAX_REGIONS},
    object_cache::AllocContext,
    rcu_box::{RcuBox, RcuPointer},
    region::{ObjectMemory, Region, RegionHold},
    tasks,
    xarray_rcu::{RcuXArray, XaGuard},
};
// `core`'s atomics, not `kernel::sync::atomic`: Release reads the residents
// (see "Atomics" in Documentation/world-storage.rst).
use core::{
    ops::ControlFlow,
    ptr::{self, NonNull},
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        barrier::{smp_mb, Full},
        new_mutex, rcu, Mutex,
    },
    task::Task,
};

/// Every world record and every object.
///
/// # Invariants
///
/// `residents[slot]` is null or a region whose handle names `slot`, from
/// before its region is published until after it is dropped; an object or
/// a remote reference of that region keeps it alive (its drop waits for its
/// objects' memory, its Destroy for its references), so whoever holds one,
/// found in the slot's entry, may use the region.
#[pin_data]
pub(crate) struct WorldTable {
    /// Records of live worlds by task (`tasks::key`): the entry at a task's
    /// key, if any, is that task's record, stored before the task can exit
    /// and erased by its exit hook. Stored and erased under its lock, in
    /// process context (the task hooks, Create, the last Destroy); loaded
    /// under RCU. Each entry holds the table's count of its record.
    ///
    /// The exit hook loads its task's entry without the lock and takes the
    /// lock only if there is one: it runs after `PF_EXITING` is set (by
    /// `exit_signals()`, earlier in `do_exit()`), and a full barrier orders
    /// that flag before its load. `attach` stores no record for a task
    /// already exiting; otherwise it stores, then a full barrier, then reads
    /// the flag again, and takes a record it stored for an exiting task back
    /// out. So of a store racing an exit, either the exit hook sees the
    /// record or `attach` sees the flag; no record stays in the table past
    /// its task's exit hook. (A remote lookup in that short window finds a
    /// record without objects: `ENOENT`, not `ESRCH`.)
    #[pin]
    worlds: RcuXArray<WorldRecord>,
    /// Records out of `worlds` (exited with references outstanding) or
    /// named by an ID that is no longer theirs (exec), for Release.
    #[pin]
    former_ids: FormerIds,
    /// The region whose objects each slot's entries hold (see the type
    /// invariants). Stored (release) under the region table's lock: set
    /// before the region is published, cleared after it is dropped. Loaded
    /// (acquire) by whoever holds one of its objects or references.
    residents: KVec<AtomicPtr<Region>>,
    /// Records attached and not yet torn down.
    records: Atomic<usize>,
    /// The layout of new worlds' blocks, for the region table's version it
    /// names: replaced under `block_caches`' lock (by Create and Destroy,
    /// under the region table's lock), loaded under RCU by the task
    /// creation hook. Declared before `block_caches`, which outlives it.
    layout: RcuPointer<WorldLayout>,
    /// The caches of world blocks, kept until the table is dropped (at
    /// unload, after every record is freed).
    #[pin]
    block_caches: Mutex<BlockCaches>,
}

impl WorldTable {
    /// Empty tables.
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        let mut residents = KVec::with_capacity(MAX_REGIONS, GFP_KERNEL)?;
        for _ in 0..MAX_REGIONS {
            residents.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
        }
        // INVARIANT: no resident yet.
        Ok(try_pin_init!(Self {
            worlds <- RcuXArray::new(),
            former_ids <- FormerIds::new(),
            residents,
            records: Atomic::new(0),
            layout: RcuPointer::new(),
            block_caches <- new_mutex!(BlockCaches::new(), "WorldTable::block_caches"),
        }))
    }

    /// Worlds with a record that is not yet torn down (live, or exited with
    /// references outstanding).
    pub(crate) fn records(&self) -> usize {
        self.records.load(Relaxed)
    }

    /// `region` is about to be published: its objects will sit in its
    /// slot's entries. Called under the region table's lock.
    pub(crate) fn settle(&self, region: &Region) {
        // INVARIANT: before it is published; its handle names the slot.
        self.residents[region.slot()].store(ptr::from_ref(region).cast_mut(), Ordering::Release);
    }

    /// The region of `slot` has been dropped. Called under the region
    /// table's lock.
    pub(crate) fn unsettle(&self, slot: usize) {
        // INVARIANT: after its drop.
        self.residents[slot].store(ptr::null_mut(), Ordering::Release);
    }

    /// The layout of new worlds' blocks, if there is one, valid while
    /// `guard` is held.
    pub(crate) fn layout<'a>(&self, guard: &'a rcu::Guard) -> Option<&'a WorldLayout> {
        self.layout.get(guard)
    }

    /// Makes the layout of new worlds' blocks for `regions`, the live
    /// regions at the region table's version `version`. Called under the
    /// region table's lock. Without memory for it, new worlds get no
    /// layout (their records are then made from kmalloc, with a few more
    /// entries than they need).
    pub(crate) fn remake_layout<'a>(
        &self,
        regions: impl Iterator<Item = &'a Region>,
        version: u64,
    ) {
        let mut caches = self.block_caches.lock();
        let layout = WorldLayout::new(regions, version, &mut caches).and_then(|layout| {
            layout
                .map(|l| RcuBox::pin_init(l, kernel::bindings::GFP_KERNEL))
                .transpose()
        });
        self.layout.replace(layout.ok().flatten());
    }

    /// The region whose objects `slot`'s entries hold.
    ///
    /// # Safety
    ///
    /// The caller holds an object of that region taken from the slot's
    /// entry, or a remote reference to one, for as long as it uses the
    /// result.
    unsafe fn resident(&self, slot: usize) -> &Region {
        // SAFETY: by the type invariants, the region is alive and in
        // `residents[slot]` while the caller's object or reference is held.
        unsafe { &*self.residents[slot].load(Ordering::Acquire) }
    }

    /// The record of live task `task`, valid while `guard` is held.
    fn get<'a>(&self, task: &Task, guard: &'a rcu::Guard) -> Option<&'a WorldRecord> {
        self.worlds.load(tasks::key(task), guard)
    }

    /// The record of the live world whose ID is `wid` now, valid while
    /// `guard` is held.
    fn get_by_wid<'a>(&self, wid: i32, guard: &'a rcu::Guard) -> Option<&'a WorldRecord> {
        self.get(tasks::by_world_id(wid, guard)?, guard)
    }

    /// A counted reference on the record of `task`, if it has one that is
    /// not dying; `EOVERFLOW` if it holds too many references.
    pub(crate) fn get_ref(&self, task: &Task) -> Result<Option<RecordRef<'_>>> {
        let guard = rcu::read_lock();
        match self.get(task, &guard) {
            Some(record) => RecordRef::try_new(record, self),
            None => Ok(None),
        }
    }

    /// Puts `fresh` in the table as the record of `task`, unless the task
    /// already has one (then that one is used) or is exiting (`None`: it
    /// must get no record, or it would never be torn down).
    pub(crate) fn attach(
        &self,
        fresh: RcuBox<WorldRecord>,
        task: &Task,
    ) -> Result<Option<RecordRef<'_>>> {
        let key = tasks::key(task);
        let mut worlds = self.worlds.lock();
        // A thread already exiting (a zombie, say) gets no record: its exit
        // hook may have run, and a lookup meanwhile must not find one. The
        // flag is read again after the store, for an exit that races it.
        if tasks::is_exiting(task) {
            return Ok(None);
        }
        // A fresh record holds one count, so `try_new` fails only on an
        // existing one: dying (its task exits meanwhile) or at the cap.
        if let Some(existing) = worlds.load(key) {
            return RecordRef::try_new(existing, self);
        }
        worlds.store(key, fresh.as_ptr())?;
        self.records.add(1, Relaxed);
        let record = RecordRef::try_new(&fresh, self);
        // The table's count owns the record now (`take_out` takes it back).
        let _ = RcuBox::into_raw(fresh);
        // Pairs with the barrier in `detach` (see `worlds`): if its lockless
        // load missed the record, the flag is seen here.
        smp_mb(Full);
        if !tasks::is_exiting(task) {
            return record;
        }
        // Its exit hook may have run: the record must not stay. Taken out
        // here, unless that hook has just done so.
        drop(worlds);
        if let Ok(Some(record)) = record {
            self.retire_record(&record, || self.take_out(&mut self.worlds.lock(), key));
        }
        Ok(None)
    }

    /// Erases `key` from `worlds` (locked) and hands over the count of the
    /// record that was there, if any.
    fn take_out(&self, worlds: &mut XaGuard<'_, WorldRecord>, key: usize) -> Option<RecordRef<'_>> {
        let record = NonNull::new(worlds.erase(key).cast_mut())?;
        // SAFETY: a record in `worlds` holds the table's count (field rule);
        // erased under the lock, it no longer does, and the count is ours.
        Some(unsafe { RecordRef::adopt(record, self) })
    }

    /// Retires `record`, a record leaving the table through `take_out`
    /// (which hands over the table's count, unless it is already out): it
    /// gets no new object, its objects without a reference are destroyed
    /// now, the others when their last reference goes (orphans).
    fn retire_record<'t>(
        &'t self,
        record: &RecordRef<'t>,
        take_out: impl FnOnce() -> Option<RecordRef<'t>>,
    ) {
        // Clears its task first: no lookup finds it through a CPU after this.
        current_cache::forget(record);
        // After this no entry is reserved, filled or moved, and a lookup
        // that takes a reference gives it back (see `lookup`). Only the
        // first path to retire the record (its exit hook, `attach`'s race
        // with it, `detach_all`) goes on: that one takes it out.
        if !record.lock().mark_exited() {
            return;
        }
        let mut orphans = false;
        let mut first_orphan = || {
            if !orphans {
                orphans = true;
                record.start_orphans();
                // The orphans' count of the record: adopted and dropped by
                // whoever drops the last of `orphans` (`after_drop`).
                core::mem::forget(record.another());
                self.former_ids.add(record);
            }
        };
        let guard = rcu::read_lock();
        // Sequentially consistent after the mark: every reference taken and
        // kept by a lookup is seen here, and the record goes among the
        // former IDs before it leaves `worlds`, so Release always finds it.
        if record.is_referenced(&guard) {
            first_orphan();
        }
        drop(guard);
        let table_count = take_out();
        let guard = rcu::read_lock();
        record.orphan_or_claim(&guard, first_orphan, |slot, object| {
            // SAFETY: claimed from the entry of `slot`, so ours.
            unsafe { self.destroy_object(record, slot, object) };
        });
        drop(guard);
        if record.has_orphans() {
            drop(self.after_drop(record, Dropped::LastOfOrphan));
        }
        drop(table_count);
    }

    /// `task` has called `execve()` and may have taken its leader's TID: its
    /// record notes the world's new ID, and Release finds it by its first
    /// one among the former IDs. Called in `task`'s own context.
    pub(crate) fn exec(&self, task: &Task) {
        let record = {
            let guard = rcu::read_lock();
            let Some(record) = self.get(task, &guard) else {
                return;
            };
            // A count: the last Destroy's `detach_all` may take the record
            // out and tear it down meanwhile, and a record added to the
            // former IDs after its teardown took it out would stay there
            // once freed. With the count, the teardown comes after the add.
            let Ok(Some(record)) = RecordRef::try_new(record, self) else {
                return;
            };
            record
        };
        record.note_wid(task);
        if record.changed_id() {
            self.former_ids.add(&record);
        }
    }

    /// The world of `task` exits: it is no longer found, gets no new object,
    /// and each of its objects is destroyed once no remote reference to it
    /// is left. Called in `task`'s own context.
    ///
    /// A task without a record (no region was live while it lived, or the
    /// last Destroy took its record out) takes no lock and touches no other
    /// CPU's data.
    pub(crate) fn detach(&self, task: &Task) {
        let record = {
            let guard = rcu::read_lock();
            // Pairs with the barrier in `attach` (see `worlds`): `task` has
            // set `PF_EXITING`.
            smp_mb(Full);
            let Some(record) = self.get(task, &guard) else {
                return;
            };
            record.note_wid(task);
            // Dying already: `detach_all` retires it.
            let Ok(Some(record)) = RecordRef::try_new(record, self) else {
                return;
            };
            record
        };
        self.retire_record(&record, || {
            self.take_out(&mut self.worlds.lock(), tasks::key(task))
        });
    }

    /// Detaches every record left (last region gone, or module unload).
    pub(crate) fn detach_all(&self) {
        loop {
            let record = {
                let mut worlds = self.worlds.lock();
                let Some((key, _)) = worlds.first() else {
                    break;
                };
                self.take_out(&mut worlds, key)
            };
            if let Some(record) = record {
                self.retire_record(&record, || None);
            }
        }
    }

    /// Gives `record` an object of `region` unless it has one, is getting
    /// one, or its world exited. The constructor runs under no lock of the
    /// record or the table.
    pub(crate) fn construct(
        &self,
        record: &RecordRef<'_>,
        region: &Region,
        context: AllocContext,
    ) -> Result {
        let slot = region.slot();
        // Reserve the slot: a racing constructor sees it taken.
        if !record.reserve(slot, context)? {
            return Ok(());
        }
        let (object, result) = match Self::build_object(record, region, context) {
            Ok(memory) => (Some(memory.into_raw()), Ok(())),
            Err(e) => (None, Err(e)),
        };
        // Fill or drop the reservation; nobody else removes it, since we hold
        // a reference on the record and Destroy cannot sweep a published
        // region.
        let generation = region.handle().generation();
        if !record.lock().fill(slot, generation, object) {
            if let Some(object) = object {
                // The world exited meanwhile: the object was never seen.
                // SAFETY: `object` is `region`'s memory, given up just above
                // and taken back once, here.
                let memory = unsafe { ObjectMemory::from_raw(region, object) };
                Self::destroy_memory(memory, record.wid());
            }
        }
        result
    }

    /// Allocates and constructs one object (not yet in a record).
    fn build_object(
        record: &WorldRecord,
        region: &Region,
        context: AllocContext,
    ) -> Result<ObjectMemory> {
        let memory = ObjectMemory::alloc(region, context)?;
        region.construct(record.wid(), memory.as_ptr())?;
        region.object_constructed();
        Ok(memory)
    }

    /// Destructs and frees an object of world `wid`.
    fn destroy_memory(memory: ObjectMemory, wid: i32) {
        memory.region().destruct(wid, memory.as_ptr());
        memory.region().object_destructed();
        // No reader uses it any more: a lookup or Release touches an object
        // only through its entry's count, and its owner's local lookups are
        // over (the exit hook, or Destroy's grace period).
        drop(memory);
    }

    /// Destructs and frees `object`, claimed from the entry of `slot` of
    /// `record`.
    ///
    /// # Safety
    ///
    /// The caller owns `object`: it claimed it from the slot's entry.
    unsafe fn destroy_object(&self, record: &WorldRecord, slot: usize, object: NonNull<u8>) {
        // SAFETY: the caller holds `object`, an object of the slot's region,
        // until it is freed below.
        let region = unsafe { self.resident(slot) };
        // SAFETY: `object` is the region's memory, put in the entry by
        // `construct` after `ObjectMemory::into_raw`, and now the caller's.
        let memory = unsafe { ObjectMemory::from_raw(region, object) };
        Self::destroy_memory(memory, record.wid());
    }

    /// Tears down `record`, whose last count was just dropped: here if this
    /// context may take a `spinlock_t`, or later in process context.
    pub(super) fn tear_down_last(&self, record: RcuBox<WorldRecord>) {
        if deferred::may_tear_down_here() {
            self.tear_down(record);
        } else {
            WorldRecord::defer_teardown(record);
        }
    }

    /// Destroys the orphans left without references, takes the record out
    /// of the former IDs, then frees it after a grace period.
    fn tear_down(&self, record: RcuBox<WorldRecord>) {
        // Only a record that had orphans may hold objects now: its exit
        // claimed every other object, and nothing is put in an entry after
        // the exit. Orphans put the record among the former IDs (so does an
        // exec, which costs only a scan of empty entries).
        if record.in_former_ids().load(Ordering::Relaxed) {
            let guard = rcu::read_lock();
            while let Some((slot, object)) = record.claim_any(&guard) {
                // SAFETY: claimed from the entry of `slot`, so ours.
                unsafe { self.destroy_object(&record, slot, object) };
            }
        }
        self.former_ids.remove(&record);
        self.records.fetch_sub(1, Relaxed);
        // Dead (no object, no count, in no table); freed after a grace
        // period, for RCU readers.
        RcuBox::retire(record);
    }

    /// Tears down records whose teardown [`WorldRecord::defer_teardown`]
    /// deferred. Process context.
    pub(crate) fn tear_down_deferred(&self, records: DeferredRecords) {
        for record in records {
            self.tear_down(record);
        }
    }

    /// Remote lookup: the object of `region` of live `world`, with a
    /// reference that [`WorldTable::release`] drops.
    pub(crate) fn lookup(
        &self,
        world: World<'_>,
        region: &Region,
        guard: &rcu::Guard,
    ) -> Result<NonNull<u8>> {
        let task = match world {
            World::Id(wid) => tasks::by_world_id(wid, guard).ok_or(ESRCH)?,
            World::Task(task) => task,
        };
        let record = match self.get(task, guard) {
            Some(record) => record,
            // Its exit hook has run: the world is no longer found.
            None if tasks::is_exiting(task) => return Err(ESRCH),
            // A live world whose record could not be allocated (a kernel
            // task, left without objects): as if its constructors failed.
            None => return Err(ENOENT),
        };
        // Counted before it is taken (under `guard`, which saw the region
        // published): a Release of it, even a wrong one by another holder,
        // then never takes the region's count below its references.
        region.remote_ref_taken();
        let object = match record.take_ref(region.handle(), guard) {
            Reference::Taken(object) => object,
            failed => {
                region.remote_ref_dropped();
                return Err(match failed {
                    Reference::Overflow => EOVERFLOW,
                    _ => ENOENT,
                });
            }
        };
        // Sequentially consistent after the reference (see `EXITED`): the
        // exit either saw the reference (and Release will find the record)
        // or is seen here, and the reference is given back (unless a
        // wrong Release took it already, with its count).
        if record.has_exited() {
            self.give_back(record, region, object);
            return Err(ESRCH);
        }
        Ok(object)
    }

    /// Visit: calls `f` with the world ID and the object of `region` of
    /// each live world that holds one, one world at a time, in the order of
    /// `worlds`' keys, until `f` breaks (its value is returned).
    ///
    /// Each key is reached once, so a world is visited at most once, and
    /// every world in `worlds` from before the visit starts until it is
    /// reached, holding its object, is visited, unless the region's Destroy
    /// begins meanwhile: then the visit stops at the next world with
    /// `EINVAL` (no reference is counted in the region after Destroy's
    /// grace period). `f` runs outside RCU and
    /// under no lock of the table or a record, so it may sleep, and the
    /// fork and exit hooks never wait for it; while it runs, its object
    /// holds a remote reference, so an exit leaves the object to that
    /// reference (an orphan) and destructs it only after `f` returns.
    /// `region` is held against its Destroy, so no sweep runs meanwhile
    /// (one would leave the referenced objects to wait for their
    /// references). `EOVERFLOW` if a world's record or object holds too
    /// many references (the visit stops there). Process context.
    pub(crate) fn visit<B>(
        &self,
        region: &RegionHold<'_>,
        mut f: impl FnMut(i32, NonNull<u8>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>> {
        let mut key = 0;
        while let Some((record, object)) = self.reach_next(&mut key, region)? {
            let flow = f(record.wid(), object);
            self.give_back(&record, region, object);
            if flow.is_break() {
                return Ok(flow);
            }
            match key.checked_add(1) {
                Some(next) => key = next,
                None => break,
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The next record of a live world from `key` on (which is set to its
    /// key) that holds an object of `region`, counted, and that object with
    /// a remote reference, counted in the region as a lookup's is; `None`
    /// past the last record; `EINVAL` once the region's Destroy has begun
    /// (no reference is counted in it after its grace period).
    fn reach_next(
        &self,
        key: &mut usize,
        region: &RegionHold<'_>,
    ) -> Result<Option<(RecordRef<'_>, NonNull<u8>)>> {
        loop {
            let guard = rcu::read_lock();
            let Some(found) = self.worlds.find(key, &guard) else {
                return Ok(None);
            };
            // A record leaving the table (its count at zero) is no live
            // world's any more.
            if let Some(record) = RecordRef::try_new(found, self)? {
                // Counted before it is taken: a Release of it (by the
                // callback, a misuse) then never takes the region's count
                // below its references, the visit's hold included.
                if !region.count_remote_ref(&guard) {
                    drop(guard);
                    return Err(EINVAL);
                }
                let taken = record.take_ref(region.handle(), &guard);
                // Before the record's count, whose drop may tear it down.
                drop(guard);
                match taken {
                    // As in `lookup`: the exit either saw the reference or
                    // is seen here, and the reference is given back.
                    Reference::Taken(object) if !record.has_exited() => {
                        return Ok(Some((record, object)));
                    }
                    Reference::Taken(object) => self.give_back(&record, region, object),
                    Reference::Overflow => {
                        region.remote_ref_dropped();
                        return Err(EOVERFLOW);
                    }
                    Reference::Absent | Reference::Moved => region.remote_ref_dropped(),
                }
            }
            let Some(next) = key.checked_add(1) else {
                return Ok(None);
            };
            *key = next;
        }
    }

    /// Drops a remote reference that a visit or a lookup took on `object`
    /// of `record`, and its count in `region`; the last one of an orphan
    /// may hand over the orphans' count, dropped after this function's own
    /// RCU section (whose drop may tear the record down). A Release that
    /// took the reference already (a callback releasing its object, a
    /// wrong Release by another holder) dropped both.
    fn give_back(&self, record: &WorldRecord, region: &Region, object: NonNull<u8>) {
        let guard = rcu::read_lock();
        let (dropped, _) = record.drop_ref(object.as_ptr(), &guard);
        if !matches!(dropped, Dropped::NotHeld) {
            region.remote_ref_dropped();
        }
        let orphans_count = self.after_drop(record, dropped);
        drop(guard);
        drop(orphans_count);
    }

    /// Local lookup's slow path: the object of `region` of the current
    /// task, from the table; the task's record is then the one this CPU
    /// points at, for the fast path (in the C glue).
    pub(crate) fn lookup_local(
        &self,
        current: &Task,
        region: &Region,
        guard: &rcu::Guard,
    ) -> Result<NonNull<u8>> {
        let record = self.get(current, guard).ok_or(ENOENT)?;
        // Not kept: it left the table meanwhile (its task exits, or the last
        // region went).
        if !current_cache::set(record) {
            return Err(ENOENT);
        }
        record
            .object_memory(region.handle().encode(), guard)
            .ok_or(ENOENT)
    }

    /// What follows a reference's drop on `record`: the last reference of
    /// an orphan lowers the record's orphans, and the last of those hands
    /// over their count of the record, for the caller to drop (which may
    /// tear the record down).
    fn after_drop(&self, record: &WorldRecord, dropped: Dropped) -> Option<RecordRef<'_>> {
        if !matches!(dropped, Dropped::LastOfOrphan) || !record.orphan_dropped() {
            return None;
        }
        // SAFETY: the count taken (and forgotten) in `retire_record` for the
        // orphans, which we own by having dropped the last of them.
        Some(unsafe { RecordRef::adopt(NonNull::from(record), self) })
    }

    /// Drops a reference taken by [`WorldTable::lookup`] on object `data` of
    /// world `wid`. `EINVAL` if `data` is not an object of that world or has
    /// no reference outstanding. Never touches `data`.
    ///
    /// The world is the live one whose ID `wid` is now, or one that had it
    /// (`WorldRecord::had_wid`): among the former IDs (exited with
    /// references, or exec'd), else, for the exec of a thread between
    /// `de_thread()`, which changes its TID, and its exec hook, which adds
    /// it to the former IDs, among every record. That last walk is long,
    /// but only a Release in that window, or a bad one, takes it.
    pub(crate) fn release(&self, wid: i32, data: *const u8) -> Result {
        let guard = rcu::read_lock();
        let found = self.drop_ref_of(wid, data, &guard);
        let Some((record, (dropped, slot))) = found else {
            return Err(EINVAL);
        };
        // SAFETY: the reference just dropped was one of the slot's region,
        // counted in its `remote_refs` until the next line: Destroy waits
        // for that count, so the region is alive and resident.
        let region = unsafe { self.resident(slot) };
        region.remote_ref_dropped();
        let orphans_count = self.after_drop(record, dropped);
        // Dropped outside the RCU section, which must not make the context
        // look atomic to the teardown.
        drop(guard);
        drop(orphans_count);
        Ok(())
    }

    /// Drops a reference on object `data` of the world that is or was
    /// `wid` (see [`WorldTable::release`]): that world's record, what was
    /// dropped and the object's slot.
    fn drop_ref_of<'a>(
        &self,
        wid: i32,
        data: *const u8,
        guard: &'a rcu::Guard,
    ) -> Option<(&'a WorldRecord, (Dropped, usize))> {
        let holding = |record: &'a WorldRecord| {
            let dropped = record.drop_ref(data, guard);
            (!matches!(dropped.0, Dropped::NotHeld)).then_some((record, dropped))
        };
        if let Some(found) = self.get_by_wid(wid, guard).and_then(holding) {
            return Some(found);
        }
        let mut found = None;
        let mut had_wid = |record: &'a WorldRecord| {
            if record.had_wid(wid) {
                found = holding(record);
            }
            found.is_some()
        };
        if self.former_ids.find(guard, &mut had_wid).is_some() {
            return found;
        }
        let mut key = 0;
        while let Some(record) = self.worlds.find(&mut key, guard) {
            if had_wid(record) {
                return found;
            }
            key = key.checked_add(1)?;
        }
        None
    }

    /// Destructs and frees every object of `region`, in live worlds and in
    /// exited ones with references left on other objects. The region must
    /// be unpublished, a grace period past and its remote references
    /// drained, so no object of it is added or looked up. Returns how many
    /// objects it destructed (not those that exits destruct meanwhile).
    pub(crate) fn sweep(&self, region: &Region) -> usize {
        let handle = region.handle();
        let mut swept = 0;
        let mut key = 0;
        loop {
            let guard = rcu::read_lock();
            let Some(record) = self.worlds.find(&mut key, &guard) else {
                break;
            };
            swept += usize::from(self.sweep_record(record, handle, &guard));
            drop(guard);
            let Some(next) = key.checked_add(1) else {
                break;
            };
            key = next;
        }
        let guard = rcu::read_lock();
        self.former_ids.find(&guard, |record| {
            swept += usize::from(self.sweep_record(record, handle, &guard));
            false
        });
        swept
    }

    /// Destroys `record`'s object of the region named `handle`, if it has
    /// one without references (the sweep's); whether it had.
    fn sweep_record(&self, record: &WorldRecord, handle: RegionHandle, guard: &rcu::Guard) -> bool {
        let Some(object) = record.claim(handle, guard) else {
            return false;
        };
        // SAFETY: claimed from the entry of the handle's slot, so ours.
        unsafe { self.destroy_object(record, handle.slot(), object) };
        true
    }
}

/// How a remote lookup names a world.
#[derive(Clone, Copy)]
pub(crate) enum World<'a> {
    /// By its global TID now.
    Id(i32),
    /// By its task, which cannot be confused with a later task of the same
    /// TID.
    Task(&'a Task),
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_world_table)]
mod tests {
    use super::*;
    use crate::region::{RegionProps, RegionTable};

    /// A live task without a record (a kernel task whose record could not
    /// be allocated) is a known world without the object: `ENOENT`, as
    /// when its constructor failed. A world ID no task has is `ESRCH`.
    #[test]
    fn live_task_without_record_has_no_object() -> Result {
        let regions = KBox::pin_init(RegionTable::new()?, GFP_KERNEL)?;
        let worlds = KBox::pin_init(WorldTable::new()?, GFP_KERNEL)?;
        let handle = regions
            .lock()
            .publish(RegionProps::without_callbacks(8, 8)?, |region| {
                worlds.settle(region)
            })?;
        let me: &Task = kernel::current!();
        {
            let guard = rcu::read_lock();
            let region = regions.get(handle.encode(), &guard)?;
            let lookup = |world| worlds.lookup(world, region, &guard).err();
            assert_eq!(lookup(World::Task(me)), Some(ENOENT));
            assert_eq!(lookup(World::Id(tasks::world_id(me))), Some(ENOENT));
            assert_eq!(lookup(World::Id(0x3fff_fff0)), Some(ESRCH));
        }
        drop(regions.lock().unpublish(handle.encode())?);
        worlds.unsettle(handle.slot());
        Ok(())
    }
}
