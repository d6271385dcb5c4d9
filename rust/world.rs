// SPDX-License-Identifier: GPL-2.0

//! World records ([`WorldRecord`]), their objects ([`WorldObject`]) and the
//! tables that find them ([`WorldTable`]).
//!
//! A record exists for every world that has, or may get, objects. It is
//! keyed by its task, not by TID (a thread that calls `execve()` takes its
//! leader's TID): a TID is resolved to its task through the kernel's pid
//! hash, then to the record, without a lock (RCU + `xa_load`). A record is
//! kept alive by a reference count that is 1 while the world lives plus one
//! per remote reference; the count is only taken with `inc_not_zero`, so a
//! dying record is never revived. When the count reaches zero the record is
//! torn down: each object is claimed, destructed and retired; records and
//! objects are freed after a grace period. A teardown that would happen
//! where a `spinlock_t` may not be taken is deferred (`deferred.rs`).
//!
//! Locks: the `worlds` lock, a record's `objects` lock and the object index
//! lock are never held together; `destroy_object` takes the index lock
//! after the record's lock is released. Constructors and destructors run
//! under none of these three locks (constructors may run under RCU or the
//! region table's mutex; destructors in the exit hook, Create, Destroy, the
//! last Release where it may take a `spinlock_t`, or a deferred teardown).

use crate::{
    current_cache, deferred,
    object_cache::AllocContext,
    region::Region,
    tasks,
    xarray_rcu::{RcuXArray, XaGuard, XaKind},
};
use core::{
    ffi::c_int,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering},
};
use kernel::{
    bindings,
    prelude::*,
    sync::rcu,
    task::Task,
    types::{Opaque, ScopeGuard},
};

extern "C" {
    fn ws_refcount_get_below(r: *mut bindings::refcount_t, max: u32) -> c_int;
}

/// The most references one record takes: a lookup past it fails with
/// `EOVERFLOW` rather than saturate the count (a `refcount_t` warning).
/// Only a client leaking about 2^30 references reaches it; lookups racing
/// past the check (each may be preempted between check and increment)
/// overshoot it by at most one per task, far below 2^31.
const MAX_RECORD_REFS: u32 = 1 << 30;

/// Region slots whose objects a record keeps in a plain array rather than
/// its XArray: a lookup reads them with one load, and a task with regions
/// only in these slots needs no XArray node.
const FAST_SLOTS: usize = 16;

/// A `fast` entry reserved by a constructor in progress: not an object, never
/// dereferenced (no object lives at the dangling address).
const RESERVED: *mut WorldObject = ptr::dangling_mut();

/// The key of an object in the object index: its address over 8 (every
/// slab object is at least 8-byte aligned).
fn index_key(data: *const u8) -> Option<usize> {
    let addr = data as usize;
    (addr % 8 == 0 && addr != 0).then_some(addr / 8)
}

/// One region's object for one world.
///
/// # Invariants
///
/// - `data` is `size` bytes of `region`'s cache, constructed (or zeroed).
/// - `region` outlives the object: Destroy waits for `Region::allocated`,
///   decremented only after the object's RCU-deferred free.
/// - `record` outlives the object while the object is in the record, or has
///   a remote reference outstanding (which holds the record): a record is
///   freed a grace period after its teardown, which retires every object
///   still in it. An object claimed from it by Destroy (no remote
///   reference left) may outlive it until Destroy retires the object.
pub(crate) struct WorldObject {
    /// Immutable: the memory handed to callers.
    data: NonNull<u8>,
    /// Immutable.
    region: NonNull<Region>,
    /// Immutable.
    record: NonNull<WorldRecord>,
    /// LookUp references taken through this object and not yet released.
    /// Incremented under RCU after a reference on `record` was taken;
    /// decremented by Release, never below zero.
    remote: AtomicU32,
    /// For the deferred free.
    rcu: Opaque<bindings::callback_head>,
}

// SAFETY: the pointers are to a region and a record that are `Sync` and
// outlive the object (type invariants); `data` is handed out, never
// dereferenced here.
unsafe impl Send for WorldObject {}
// SAFETY: as above; the mutable state is atomic.
unsafe impl Sync for WorldObject {}

impl WorldObject {
    /// The region it belongs to.
    pub(crate) fn region(&self) -> &Region {
        // SAFETY: the region outlives the object (type invariant).
        unsafe { self.region.as_ref() }
    }

    fn record(&self) -> &WorldRecord {
        // SAFETY: the record outlives the object (type invariant).
        unsafe { self.record.as_ref() }
    }

    /// Takes one remote reference that [`WorldTable::release`] drops.
    ///
    /// The caller holds a reference on the object's record for it.
    fn take_remote(&self) {
        self.remote.fetch_add(1, Ordering::Relaxed);
        self.region().remote_refs.inc();
    }

    /// Drops one remote reference; `false` if none is outstanding.
    fn drop_remote(&self) -> bool {
        self.remote
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// RCU callback: frees the object after readers are done with it.
    ///
    /// # Safety
    ///
    /// `head` is the `rcu` field of a retired `WorldObject` made by
    /// `KBox::into_raw`, passed to `call_rcu` once.
    unsafe extern "C" fn free_rcu(head: *mut bindings::callback_head) {
        let head = head.cast::<Opaque<bindings::callback_head>>();
        // SAFETY: by the contract `head` is inside a `WorldObject` we own.
        let obj = unsafe { KBox::from_raw(kernel::container_of!(head, WorldObject, rcu)) };
        // SAFETY: the region outlives the object until `allocated.dec()`.
        let region = unsafe { obj.region.as_ref() };
        // SAFETY: `data` came from this region's cache; nothing refers to it.
        unsafe { region.cache().free(obj.data) };
        drop(obj);
        // Last touch of `region`: Destroy may free it once this drains.
        region.allocated.dec();
    }
}

/// The record of one world: its objects, by region slot.
///
/// # Invariants
///
/// - `refs` counts 1 while the record is in [`WorldTable`]'s `worlds`, plus
///   one per holder of a [`RecordRef`] and per remote reference. When it
///   reaches zero the record is torn down (at once, or by a deferred
///   teardown that owns it through `deferred`) and, a grace period later,
///   freed.
/// - Every entry of `fast` (slots below `FAST_SLOTS`) and of `objects`
///   (the other slots) is null, [`RESERVED`] or a `WorldObject` made by
///   `KBox::into_raw` that points back at this record. A reservation is
///   held by a constructor in progress, which holds a reference on the
///   record. An object is freed only a grace period after its entry is
///   cleared.
#[pin_data]
pub(crate) struct WorldRecord {
    /// Immutable: the world's ID (global TID) when the record was made.
    first_wid: i32,
    /// The world's ID as last seen: written only by the world's own exec and
    /// exit hooks (a thread that calls `execve()` takes its leader's TID),
    /// read anywhere. Destructors get it.
    wid: AtomicI32,
    /// See the type invariants. Taken only with `inc_not_zero`, below
    /// `MAX_RECORD_REFS`, by lookups.
    refs: Opaque<bindings::refcount_t>,
    /// Region slot (`FAST_SLOTS` and up) to `WorldObject`. Its lock, taken
    /// with interrupts off (the last Release may tear a record down from any
    /// context), is the record's lock: it also guards every write to `fast`
    /// and `exited`. Loaded under RCU.
    #[pin]
    objects: RcuXArray<WorldObject>,
    /// The objects of slots below `FAST_SLOTS`. Written under the `objects`
    /// lock; loaded under RCU.
    fast: [AtomicPtr<WorldObject>; FAST_SLOTS],
    /// Set once under the `objects` lock at exit: no object is added after.
    /// Read under that lock, or (Release lacks it) with acquire ordering.
    exited: AtomicBool,
    /// Link in the list of deferred teardowns: used once, after the last
    /// reference is dropped where the teardown may not run.
    deferred: Opaque<bindings::llist_node>,
    /// For the deferred free.
    rcu: Opaque<bindings::callback_head>,
}

// SAFETY: everything is atomic, behind the `objects` lock, or used once by
// the owner of the last reference.
unsafe impl Send for WorldRecord {}
// SAFETY: as above.
unsafe impl Sync for WorldRecord {}

impl WorldRecord {
    /// A record for `task`, not yet in the table, counting one reference
    /// (the table's, once attached).
    pub(crate) fn new(task: &Task, context: AllocContext) -> Result<Pin<KBox<Self>>> {
        let wid = tasks::world_id(task);
        let init = pin_init!(Self {
            first_wid: wid,
            wid: AtomicI32::new(wid),
            // SAFETY: no requirement; builds an initial count.
            refs: Opaque::new(unsafe { bindings::REFCOUNT_INIT(1) }),
            objects <- RcuXArray::new(XaKind::Objects),
            fast: [const { AtomicPtr::new(ptr::null_mut()) }; FAST_SLOTS],
            exited: AtomicBool::new(false),
            deferred: Opaque::uninit(),
            rcu: Opaque::uninit(),
        });
        KBox::pin_init(init, context.flags())
    }

    /// The world's ID as last seen.
    fn wid(&self) -> i32 {
        self.wid.load(Ordering::Relaxed)
    }

    /// Notes the world's ID now. Called only in the world's own context (its
    /// exec and exit hooks), so the writes are ordered.
    fn note_wid(&self, task: &Task) {
        self.wid.store(tasks::world_id(task), Ordering::Relaxed);
    }

    /// Whether `wid` is an ID this world had when a lookup could name it:
    /// when the record was made, or as last seen. Any ID, once the world
    /// has exited: then its IDs may have been swapped (`de_thread()` gives
    /// an exited leader the exec'ing thread's TID, after the leader's exit
    /// hook) or reused.
    fn had_wid(&self, wid: i32) -> bool {
        wid == self.first_wid || wid == self.wid() || self.exited.load(Ordering::Acquire)
    }

    /// The object of region slot `slot`, valid while `guard` is held.
    #[inline]
    pub(crate) fn object<'a>(&self, slot: usize, guard: &'a rcu::Guard) -> Option<&'a WorldObject> {
        match self.fast.get(slot) {
            Some(entry) => Self::fast_object(entry, guard),
            None => self.objects.load(slot, guard),
        }
    }

    /// The object in a `fast` entry, valid while `guard` is held.
    #[inline]
    fn fast_object<'a>(
        entry: &AtomicPtr<WorldObject>,
        _guard: &'a rcu::Guard,
    ) -> Option<&'a WorldObject> {
        let p = entry.load(Ordering::Acquire);
        if p == RESERVED {
            return None;
        }
        // SAFETY: a non-reserved entry is null or a live object, freed only a
        // grace period after the entry is cleared (type invariant); `_guard`
        // holds this grace period.
        unsafe { p.as_ref() }
    }

    /// Reserves `slot` if it is empty; `Ok(false)` if it is taken or
    /// reserved. `lock` is this record's lock.
    fn reserve(&self, lock: &mut XaGuard<'_, WorldObject>, slot: usize) -> Result<bool> {
        match self.fast.get(slot) {
            Some(entry) if !entry.load(Ordering::Relaxed).is_null() => Ok(false),
            Some(entry) => {
                entry.store(RESERVED, Ordering::Relaxed);
                Ok(true)
            }
            None => lock.reserve(slot),
        }
    }

    /// Puts `obj` (or, if null, nothing) in the reserved `slot`.
    fn fill(&self, lock: &mut XaGuard<'_, WorldObject>, slot: usize, obj: *const WorldObject) {
        match (self.fast.get(slot), obj.is_null()) {
            (Some(entry), _) => entry.store(obj.cast_mut(), Ordering::Release),
            (None, true) => {
                lock.erase(slot);
            }
            // Replacing a reservation allocates nothing, so cannot fail.
            (None, false) => {
                let _ = lock.store(slot, obj);
            }
        }
    }

    /// Takes a reference unless the record is already dying (`ESRCH`) or
    /// holds `MAX_RECORD_REFS` (`EOVERFLOW`).
    fn try_get(&self) -> Result {
        // SAFETY: `refs` is a valid refcount.
        kernel::error::to_result(unsafe { ws_refcount_get_below(self.refs.get(), MAX_RECORD_REFS) })
    }

    /// Drops a reference; `true` if it was the last.
    fn put_ref(&self) -> bool {
        // SAFETY: `refs` is a valid refcount and the caller owns a count.
        unsafe { bindings::refcount_dec_and_test(self.refs.get()) }
    }

    fn mark_exited(&self) {
        let _lock = self.objects.lock();
        // Release: pairs with `had_wid`, which reads it without the lock.
        self.exited.store(true, Ordering::Release);
    }

    /// Removes `obj` from this record if it is still there; `true` if the
    /// caller now owns it (and must destruct and retire it).
    fn claim(&self, slot: usize, obj: &WorldObject) -> bool {
        let mut objects = self.objects.lock();
        let obj = ptr::from_ref(obj).cast_mut();
        if let Some(entry) = self.fast.get(slot) {
            return entry
                .compare_exchange(obj, ptr::null_mut(), Ordering::Release, Ordering::Relaxed)
                .is_ok();
        }
        if !objects.load(slot).is_some_and(|o| ptr::eq(o, obj)) {
            return false;
        }
        objects.erase(slot);
        true
    }

    /// Removes and returns any one object, which the caller now owns.
    fn take_any(&self) -> Option<&WorldObject> {
        let mut objects = self.objects.lock();
        for entry in &self.fast {
            let p = entry.load(Ordering::Relaxed);
            if !p.is_null() && p != RESERVED {
                entry.store(ptr::null_mut(), Ordering::Release);
                // SAFETY: a live object (type invariant); its entry cleared,
                // the caller owns it and frees it after a grace period.
                return Some(unsafe { &*p });
            }
        }
        let (slot, _) = objects.first()?;
        // SAFETY: as above, for an erased XArray entry.
        unsafe { objects.erase(slot).as_ref() }
    }

    /// RCU callback: frees the record.
    ///
    /// # Safety
    ///
    /// `head` is the `rcu` field of a torn-down record made by
    /// `KBox::into_raw`, passed to `call_rcu` once.
    unsafe extern "C" fn free_rcu(head: *mut bindings::callback_head) {
        let head = head.cast::<Opaque<bindings::callback_head>>();
        // SAFETY: by the contract we own the record.
        drop(unsafe { KBox::from_raw(kernel::container_of!(head, WorldRecord, rcu)) });
    }
}

/// A counted reference on a [`WorldRecord`]: the record is not torn down
/// while it is held.
///
/// # Invariants
///
/// `record` is live and this value owns one count of its `refs`.
pub(crate) struct RecordRef<'t> {
    record: NonNull<WorldRecord>,
    table: &'t WorldTable,
}

impl core::ops::Deref for RecordRef<'_> {
    type Target = WorldRecord;

    fn deref(&self) -> &WorldRecord {
        // SAFETY: live while the count is held (type invariant).
        unsafe { self.record.as_ref() }
    }
}

impl Drop for RecordRef<'_> {
    fn drop(&mut self) {
        self.table.put(self.record);
    }
}

/// Every world record and every object.
#[pin_data]
pub(crate) struct WorldTable {
    /// Records of live worlds by task (`tasks::key`): the entry at a task's
    /// key, if any, is that task's record, stored before the task can exit
    /// and erased by its exit hook. Stored and erased under its lock, in
    /// process context (the task hooks, Create, the last Destroy); loaded
    /// under RCU.
    #[pin]
    worlds: RcuXArray<WorldRecord>,
    /// Every object not yet retired, by address / 8: Release checks a
    /// caller's pointer here before touching it, and Destroy finds a
    /// region's objects here, including those of exited worlds. Stored and
    /// erased under its lock with interrupts off; loaded under RCU.
    #[pin]
    index: RcuXArray<WorldObject>,
    /// Records attached and not yet torn down.
    records: AtomicUsize,
}

impl WorldTable {
    /// Empty tables.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            worlds <- RcuXArray::new(XaKind::Worlds),
            index <- RcuXArray::new(XaKind::Index),
            records: AtomicUsize::new(0),
        })
    }

    /// Worlds with a record that is not yet torn down (live, or exited with
    /// references outstanding).
    pub(crate) fn records(&self) -> usize {
        self.records.load(Ordering::Relaxed)
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
        let Some(record) = self.get(task, &guard) else {
            return Ok(None);
        };
        match record.try_get() {
            // INVARIANT: the count taken just above.
            Ok(()) => Ok(Some(RecordRef {
                record: NonNull::from(record),
                table: self,
            })),
            Err(e) if e == ESRCH => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Puts `fresh` in the table as the record of `task`, unless the task
    /// already has one (then that one is used) or is exiting (`None`: it
    /// must get no record, or it would never be torn down).
    pub(crate) fn attach(
        &self,
        fresh: Pin<KBox<WorldRecord>>,
        task: &Task,
    ) -> Result<Option<RecordRef<'_>>> {
        let key = tasks::key(task);
        // SAFETY: the record is pinned and never moves again; ownership
        // goes to the table, or back to a box below.
        let fresh = KBox::into_raw(unsafe { Pin::into_inner_unchecked(fresh) });
        let mut stored = false;
        let attached = {
            let mut worlds = self.worlds.lock();
            // Under the lock: the exit hook erases under it after PF_EXITING
            // is set, so either it sees our record or we see the flag.
            let record = if tasks::is_exiting(task) {
                Ok(None)
            } else if let Some(existing) = worlds.load(key) {
                Ok(Some(NonNull::from(existing)))
            } else {
                worlds.store(key, fresh).map(|_| {
                    stored = true;
                    self.records.fetch_add(1, Ordering::Relaxed);
                    NonNull::new(fresh)
                })
            };
            // A fresh record holds one count, so `try_get` fails only on an
            // existing one: dying (its task exits meanwhile) or at the cap.
            record.and_then(|record| {
                record.map_or(Ok(None), |r| {
                    // SAFETY: a record in the table is live while the lock
                    // is held.
                    match unsafe { r.as_ref() }.try_get() {
                        // INVARIANT: `try_get` took the count the
                        // `RecordRef` owns.
                        Ok(()) => Ok(Some(RecordRef {
                            record: r,
                            table: self,
                        })),
                        Err(e) if e == ESRCH => Ok(None),
                        Err(e) => Err(e),
                    }
                })
            })
        };
        if !stored {
            // SAFETY: `fresh` was not stored, so it is still ours.
            drop(unsafe { KBox::from_raw(fresh) });
        }
        attached
    }

    /// A record just taken out of `worlds` (whose count the caller now
    /// owns): it gets no new object and is torn down at its last reference.
    fn retire_record(&self, record: NonNull<WorldRecord>) {
        // SAFETY: the caller owns the table's count, so it is live.
        let r = unsafe { record.as_ref() };
        current_cache::forget(r);
        r.mark_exited();
        self.put(record);
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
    pub(crate) fn detach(&self, task: &Task) {
        let record = NonNull::new(self.worlds.lock().erase(tasks::key(task)).cast_mut());
        if let Some(record) = record {
            // SAFETY: just taken out of the table, whose count we now own.
            unsafe { record.as_ref() }.note_wid(task);
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
                worlds.erase(key)
            };
            if let Some(record) = NonNull::new(record.cast_mut()) {
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
        {
            let mut lock = record.objects.lock();
            // Reserve the slot: a racing constructor sees it taken.
            if record.exited.load(Ordering::Relaxed) || !record.reserve(&mut lock, slot)? {
                return Ok(());
            }
        }
        let result = self.build_object(record, region, context);
        // Fill or drop the reservation; nobody else removes it, since we hold
        // a reference on the record and Destroy cannot sweep a published
        // region.
        let obj = result
            .as_ref()
            .map_or(ptr::null(), |obj| obj.as_ptr().cast_const());
        record.fill(&mut record.objects.lock(), slot, obj);
        result.map(|_| ())
    }

    /// Allocates, constructs and indexes one object (not yet in a record).
    fn build_object(
        &self,
        record: &WorldRecord,
        region: &Region,
        context: AllocContext,
    ) -> Result<NonNull<WorldObject>> {
        let data = region.cache().alloc(context).ok_or(ENOMEM)?;
        let data = ScopeGuard::new_with_data(data, |data| {
            // SAFETY: `data` came from this cache and was never shared.
            unsafe { region.cache().free(data) }
        });
        let key = index_key(data.as_ptr()).ok_or(EINVAL)?;
        let obj = KBox::new(
            WorldObject {
                data: *data,
                region: NonNull::from(region),
                record: NonNull::from(record),
                remote: AtomicU32::new(0),
                rcu: Opaque::uninit(),
            },
            context.flags(),
        )?;
        region.construct(record.wid(), *data)?;
        let raw = KBox::into_raw(obj);
        if let Err(e) = self.index.lock().store(key, raw) {
            region.destruct(record.wid(), *data);
            // SAFETY: not indexed, so still ours.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(e);
        }
        data.dismiss();
        region.allocated.inc();
        region.live_objects.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `raw` came from `KBox::into_raw`, so it is not null.
        Ok(unsafe { NonNull::new_unchecked(raw) })
    }

    /// Destructs and retires an object its caller has claimed.
    fn destroy_object(&self, obj: &WorldObject) {
        obj.region().destruct(obj.record().wid(), obj.data);
        obj.region().live_objects.fetch_sub(1, Ordering::Relaxed);
        if let Some(key) = index_key(obj.data.as_ptr()) {
            self.index.lock().erase(key);
        }
        // SAFETY: `obj` is a `WorldObject` from `KBox::into_raw`, claimed by
        // the caller and now unreachable but for RCU readers.
        unsafe { bindings::call_rcu(obj.rcu.get(), Some(WorldObject::free_rcu)) };
    }

    /// Drops one reference on `record`. The last one tears it down here if
    /// this context may take a `spinlock_t`, or defers the teardown to
    /// process context.
    fn put(&self, record: NonNull<WorldRecord>) {
        // SAFETY: the caller owns a count, so the record is live.
        let r = unsafe { record.as_ref() };
        if !r.put_ref() {
            return;
        }
        if deferred::may_tear_down_here() {
            self.tear_down(r);
        } else {
            // SAFETY: we dropped the last reference: no one else links the
            // record, which stays alive until the deferred teardown.
            unsafe { deferred::defer(r.deferred.get()) };
        }
    }

    /// Destructs and retires every object of a record without references,
    /// then frees it after a grace period.
    fn tear_down(&self, r: &WorldRecord) {
        while let Some(obj) = r.take_any() {
            self.destroy_object(obj);
        }
        self.records.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the record is dead (no entry, no reference, not in the
        // table); it is freed after a grace period, for RCU readers.
        unsafe { bindings::call_rcu(r.rcu.get(), Some(WorldRecord::free_rcu)) };
    }

    /// Tears down the records of a list made by `deferred::defer`.
    ///
    /// # Safety
    ///
    /// `list` is a chain of `deferred` links of records whose last
    /// reference was dropped, now owned by the caller.
    pub(crate) unsafe fn run_deferred_teardowns(&self, mut list: *mut bindings::llist_node) {
        while !list.is_null() {
            let link = list.cast::<Opaque<bindings::llist_node>>();
            // SAFETY: by the contract `link` is the `deferred` field of a
            // live record, which the chain owns.
            let record = unsafe { &*kernel::container_of!(link, WorldRecord, deferred) };
            // SAFETY: `list` is a link of the chain the caller owns, inside
            // a live record; `next` is read before the teardown frees it.
            list = unsafe { (*list).next };
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
        let record = match world {
            World::Id(wid) => self.get_by_wid(wid, guard),
            World::Task(task) => self.get(task, guard),
        }
        .ok_or(ESRCH)?;
        let obj = record.object(region.slot(), guard).ok_or(ENOENT)?;
        record.try_get()?;
        obj.take_remote();
        Ok(obj.data)
    }

    /// Local lookup: the object of `region` of the current task.
    pub(crate) fn lookup_local(
        &self,
        current: &Task,
        region: &Region,
        guard: &rcu::Guard,
    ) -> Result<NonNull<u8>> {
        let record = match current_cache::get(guard) {
            Some(record) => record,
            None => self.current_record(current, guard).ok_or(ENOENT)?,
        };
        Ok(record.object(region.slot(), guard).ok_or(ENOENT)?.data)
    }

    /// The current task's record from the table, cached for the next local
    /// lookup on this CPU.
    fn current_record<'a>(&self, current: &Task, guard: &'a rcu::Guard) -> Option<&'a WorldRecord> {
        let record = self.get(current, guard)?;
        current_cache::set(record, guard);
        // If it left the table meanwhile, its forget() may have run before
        // our set(): undo it (the barriers make one side see the other).
        if !self.get(current, guard).is_some_and(|r| ptr::eq(r, record)) {
            current_cache::forget(record);
            return None;
        }
        Some(record)
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
            // The reference just dropped keeps the record alive until `put`.
            let record = obj.record;
            obj.region().remote_refs.dec();
            record
        };
        // Outside the RCU section, which must not make the context look
        // atomic to `put`.
        self.put(record);
        Ok(())
    }

    /// The object whose memory is `data`, if it has a reference outstanding
    /// and belongs to world `wid`: a world is named by any ID a lookup could
    /// have used (a thread that calls `execve()` changes ID). Never touches
    /// `data`.
    fn handed_out<'a>(
        &self,
        wid: i32,
        data: *const u8,
        guard: &'a rcu::Guard,
    ) -> Option<&'a WorldObject> {
        let obj = self.index.load(index_key(data)?, guard)?;
        // Checked first: an object with a reference outstanding is not
        // claimed by Destroy, and its record, which that reference keeps,
        // is freed only a grace period after the last one goes, so past
        // `guard`. (An object claimed by Destroy stays in the index while
        // its destructor runs, after its record may be gone.)
        if obj.remote.load(Ordering::Acquire) == 0 {
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
            if ptr::eq(obj.region(), region) && obj.record().claim(region.slot(), obj) {
                self.destroy_object(obj);
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
#[kunit_tests(world_storage_record_refs)]
mod tests {
    use super::{WorldRecord, MAX_RECORD_REFS};
    use crate::object_cache::AllocContext;
    use kernel::{bindings, prelude::*};

    fn set_refs(record: &WorldRecord, n: u32) {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        // SAFETY: `refs` is a valid refcount of a record no one else sees.
        unsafe { bindings::refcount_set(record.refs.get(), n) };
    }

    /// A leak of references makes lookups fail before the count saturates
    /// (which would be a `refcount_t` warning), and a dying record is never
    /// revived.
    #[test]
    fn lookups_stop_below_saturation() -> Result {
        let record = WorldRecord::new(kernel::current!(), AllocContext::Sleepable)?;
        set_refs(&record, MAX_RECORD_REFS - 1);
        assert_eq!(record.try_get(), Ok(()));
        assert_eq!(record.try_get(), Err(EOVERFLOW));
        set_refs(&record, u32::MAX / 2);
        assert_eq!(record.try_get(), Err(EOVERFLOW));
        set_refs(&record, 0);
        assert_eq!(record.try_get(), Err(ESRCH));
        Ok(())
    }
}
