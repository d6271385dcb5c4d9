// SPDX-License-Identifier: GPL-2.0

//! [`WorldTable`]: every world record and every object, and every path
//! that finds them: records by task or world ID, objects by handle in a
//! record (the lookups) or by address (Release, Destroy's sweep).

use super::{
    current_cache,
    object::ObjectRecord,
    record::{DeferredRecords, WorldRecord},
    record_ref::RecordRef,
};
use crate::{
    deferred,
    glue::ws_direct_map_offset,
    object_cache::AllocContext,
    rcu_box::RcuBox,
    region::{ObjectMemory, Region},
    tasks,
    xarray_rcu::{RcuXArray, XaGuard, XaKind},
};
use core::ptr::{self, NonNull};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        barrier::{smp_mb, Full},
        rcu,
    },
    task::Task,
};

/// The key of an object in the object index: its offset in the direct map
/// (where the slab allocates) over 8 (every slab object is at least 8-byte
/// aligned), so the keys, and the index, stay a few levels shallow.
fn index_key(data: *const u8) -> Option<usize> {
    let addr = data as usize;
    // SAFETY: `ws_direct_map_offset` has no requirement; it only computes
    // with the address.
    (addr % 8 == 0 && addr != 0).then(|| unsafe { ws_direct_map_offset(data.cast()) } / 8)
}

/// Every world record and every object.
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
    /// Every object not yet retired, by address / 8: Release checks a
    /// caller's pointer here before touching it, and Destroy finds a
    /// region's objects here, including those of exited worlds. Stored and
    /// erased under its lock with interrupts off; loaded under RCU. Owns
    /// nothing (the records' entries own the objects).
    #[pin]
    index: RcuXArray<ObjectRecord>,
    /// Records attached and not yet torn down.
    records: Atomic<usize>,
}

impl WorldTable {
    /// Empty tables.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            worlds <- RcuXArray::new(XaKind::Worlds),
            index <- RcuXArray::new(XaKind::Index),
            records: Atomic::new(0),
        })
    }

    /// Worlds with a record that is not yet torn down (live, or exited with
    /// references outstanding).
    pub(crate) fn records(&self) -> usize {
        self.records.load(Relaxed)
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
        let taken = self.take_out(&mut worlds, key);
        drop(worlds);
        if let Some(taken) = taken {
            self.retire_record(taken);
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

    /// A record just taken out of `worlds`: it gets no new object and is
    /// torn down at its last reference.
    fn retire_record(&self, record: RecordRef<'_>) {
        // Clears its task first: no lookup finds it through a CPU after this.
        current_cache::forget(&record);
        record.lock().mark_exited();
    }

    /// `task` has called `execve()` and may have taken its leader's TID: its
    /// record notes the world's new ID. Called in `task`'s own context.
    pub(crate) fn exec(&self, task: &Task) {
        let guard = rcu::read_lock();
        if let Some(record) = self.get(task, &guard) {
            record.note_wid(task);
        }
    }

    /// The world of `task` exits: it is no longer found, gets no new object,
    /// and its record is torn down once no remote reference is left. Called
    /// in `task`'s own context.
    ///
    /// A task without a record (no region was live while it lived, or the
    /// last Destroy took its record out) takes no lock and touches no other
    /// CPU's data.
    pub(crate) fn detach(&self, task: &Task) {
        {
            let guard = rcu::read_lock();
            // Pairs with the barrier in `attach` (see `worlds`): `task` has
            // set `PF_EXITING`.
            smp_mb(Full);
            if self.get(task, &guard).is_none() {
                return;
            }
        }
        let record = self.take_out(&mut self.worlds.lock(), tasks::key(task));
        if let Some(record) = record {
            record.note_wid(task);
            self.retire_record(record);
        }
    }

    /// Detaches every record left (last region gone, or module unload):
    /// each is torn down once its last reference goes.
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
                self.retire_record(record);
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
        let (obj, result) = match self.build_object(record, region, context) {
            Ok(obj) => (Some(obj), Ok(())),
            Err(e) => (None, Err(e)),
        };
        // Fill or drop the reservation; nobody else removes it, since we hold
        // a reference on the record and Destroy cannot sweep a published
        // region.
        record.lock().fill(slot, region.handle().encode(), obj);
        result
    }

    /// Allocates, constructs and indexes one object (not yet in a record).
    fn build_object(
        &self,
        record: &WorldRecord,
        region: &Region,
        context: AllocContext,
    ) -> Result<RcuBox<ObjectRecord>> {
        let memory = ObjectMemory::alloc(region, context)?;
        let data = memory.as_ptr();
        let key = index_key(data.as_ptr()).ok_or(EINVAL)?;
        // From here, an error drops the object unshared, and its memory with
        // it.
        let obj = RcuBox::new(ObjectRecord::new(memory, record), context.flags())?;
        region.construct(record.wid(), data)?;
        if let Err(e) = self.index.lock().store(key, obj.as_ptr()) {
            region.destruct(record.wid(), data);
            return Err(e);
        }
        region.object_constructed();
        Ok(obj)
    }

    /// Destructs and retires an object its caller has claimed.
    fn destroy_object(&self, obj: RcuBox<ObjectRecord>) {
        obj.region().destruct(obj.record().wid(), obj.data());
        obj.region().object_destructed();
        if let Some(key) = index_key(obj.data().as_ptr()) {
            self.index.lock().erase(key);
        }
        // Unreachable now but for RCU readers.
        RcuBox::retire(obj);
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

    /// Destructs and retires every object of a record without references,
    /// then frees it after a grace period.
    fn tear_down(&self, record: RcuBox<WorldRecord>) {
        loop {
            // The guard goes at the end of the statement: destructors run
            // with the lock released.
            let obj = record.lock().take_any();
            let Some(obj) = obj else {
                break;
            };
            self.destroy_object(obj);
        }
        self.records.fetch_sub(1, Relaxed);
        // Dead (no entry, no reference, not in the table); freed after a
        // grace period, for RCU readers.
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
        let obj = record
            .object(region.handle().encode(), guard)
            .ok_or(ENOENT)?;
        // The count goes with the remote reference (`release` adopts it).
        record.refs().try_get()?;
        obj.take_remote();
        Ok(obj.data())
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

    /// Drops a reference taken by [`WorldTable::lookup`] on object `data` of
    /// world `wid`. `EINVAL` if `data` is not an object of that world or has
    /// no reference outstanding.
    pub(crate) fn release(&self, wid: i32, data: *const u8) -> Result {
        let record = {
            let guard = rcu::read_lock();
            let obj = self.handed_out(wid, data, &guard).ok_or(EINVAL)?;
            if !obj.drop_remote() {
                return Err(EINVAL);
            }
            let record = obj.record_ptr();
            obj.region().remote_ref_dropped();
            // SAFETY: the remote reference just dropped owned a count of its
            // object's record (taken by `lookup`), which is ours now.
            unsafe { RecordRef::adopt(record, self) }
        };
        // Dropped outside the RCU section, which must not make the context
        // look atomic to the teardown.
        drop(record);
        Ok(())
    }

    /// The object whose memory is `data`, if it has a reference outstanding
    /// and belongs to world `wid`: a world is named by an ID a lookup could
    /// have used (a thread that calls `execve()` changes ID), its first or
    /// last noted one, or while it lives the one the pid hash gives now.
    /// Never touches `data`.
    fn handed_out<'a>(
        &self,
        wid: i32,
        data: *const u8,
        guard: &'a rcu::Guard,
    ) -> Option<&'a ObjectRecord> {
        let obj = self.index.load(index_key(data)?, guard)?;
        // Checked first: an object with a reference outstanding is not
        // claimed by Destroy, and its record, which that reference keeps,
        // is freed only a grace period after the last one goes, so past
        // `guard`. (An object claimed by Destroy stays in the index while
        // its destructor runs, after its record may be gone.)
        if !obj.has_remote() {
            return None;
        }
        let record = obj.record();
        // The last check covers a lookup by the new ID between the ID change
        // and the exec hook.
        (record.had_wid(wid)
            || self
                .get_by_wid(wid, guard)
                .is_some_and(|r| ptr::eq(r, record)))
        .then_some(obj)
    }

    /// Destructs and retires every object of `region`, in live and exited
    /// worlds. The region must be unpublished, a grace period past and its
    /// remote references drained, so no object of it is added or looked up.
    pub(crate) fn sweep(&self, region: &Region) {
        let mut key = 0;
        loop {
            let guard = rcu::read_lock();
            let Some(obj) = self.index.find(&mut key, &guard) else {
                break;
            };
            if ptr::eq(obj.region(), region) {
                // The guard goes at the end of the statement: the destructor
                // runs with the lock released.
                let claimed = obj.record().lock().claim(region.slot(), obj);
                if let Some(claimed) = claimed {
                    self.destroy_object(claimed);
                }
            }
            drop(guard);
            let Some(next) = key.checked_add(1) else {
                break;
            };
            key = next;
        }
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
        let worlds = KBox::pin_init(WorldTable::new(), GFP_KERNEL)?;
        let handle = regions
            .lock()
            .publish(RegionProps::without_callbacks(8, 8)?)?;
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
        Ok(())
    }
}
