// SPDX-License-Identifier: GPL-2.0

//! World records ([`WorldRecord`]), their objects ([`WorldObject`]) and the
//! tables that find them ([`WorldTable`]).
//!
//! A record exists for every world that has, or may get, objects. It is found
//! by TID without a lock (RCU + `xa_load`) and kept alive by a reference
//! count that is 1 while the world lives plus one per remote reference; the
//! count is only taken with `inc_not_zero`, so a dying record is never
//! revived. When the count reaches zero the record is torn down: each object
//! is claimed, destructed and retired; records and objects are freed after a
//! grace period.
//!
//! Lock order: a record's `objects` lock, then the object index lock; the
//! `worlds` lock nests inside neither. Callbacks run with no lock held.

use crate::{object_cache::AllocContext, region::Region};
use core::{
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering},
};
use kernel::{
    bindings,
    ffi::{c_ulong, c_void},
    prelude::*,
    sync::rcu,
    task::Task,
    types::{Opaque, ScopeGuard},
};

extern "C" {
    fn ws_xa_init_worlds(xa: *mut bindings::xarray);
    fn ws_xa_init_objects(xa: *mut bindings::xarray);
    fn ws_xa_init_index(xa: *mut bindings::xarray);
    fn ws_xa_lock_irqsave(xa: *mut bindings::xarray) -> c_ulong;
    fn ws_xa_unlock_irqrestore(xa: *mut bindings::xarray, flags: c_ulong);
    fn ws_refcount_inc_not_zero(r: *mut bindings::refcount_t) -> bool;
}

/// Holds an xarray's spinlock with interrupts off; released on drop.
struct IrqLocked<'a> {
    xa: &'a Opaque<bindings::xarray>,
    flags: c_ulong,
}

impl<'a> IrqLocked<'a> {
    fn new(xa: &'a Opaque<bindings::xarray>) -> Self {
        // SAFETY: `xa` is an initialised xarray (all of ours are initialised
        // in place before they are shared).
        let flags = unsafe { ws_xa_lock_irqsave(xa.get()) };
        Self { xa, flags }
    }
}

impl Drop for IrqLocked<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock was taken in `new` with these flags.
        unsafe { ws_xa_unlock_irqrestore(self.xa.get(), self.flags) };
    }
}

/// The key of an object in the object index: its address over 8 (every
/// slab object is at least 8-byte aligned).
fn index_key(data: *const u8) -> Option<c_ulong> {
    let addr = data as usize;
    (addr % 8 == 0 && addr != 0).then_some((addr / 8) as c_ulong)
}

/// The global TID of `task`, its world ID.
fn world_id(task: &Task) -> i32 {
    task.pid()
}

/// The `flags` word of `task`, read once.
fn task_flags(task: &Task) -> u32 {
    // SAFETY: `task` is a valid task; `flags` is a plain word that its owner
    // updates, read here once without tearing.
    unsafe { ptr::read_volatile(&raw const (*task.as_ptr()).flags) }
}

/// Whether `task` is a kernel thread or a user worker (io_uring and the
/// like): tasks that get no object, rather than a SIGKILL, when a
/// constructor fails.
pub(crate) fn is_kernel_task(task: &Task) -> bool {
    task_flags(task) & (bindings::PF_KTHREAD | bindings::PF_USER_WORKER) != 0
}

/// One region's object for one world.
///
/// # Invariants
///
/// - `data` is `size` bytes of `region`'s cache, constructed (or zeroed).
/// - `region` outlives the object: Destroy waits for `Region::allocated`,
///   decremented only after the object's RCU-deferred free.
/// - `record` outlives the object: a record is freed a grace period after
///   its teardown, which retires every object still in it, and an object
///   claimed from it by Destroy is retired before Destroy returns.
pub(crate) struct WorldObject {
    /// Immutable: the memory handed to callers.
    data: NonNull<u8>,
    /// Immutable: the owning world's ID.
    wid: i32,
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
        // SAFETY: by the contract `head` is inside a `WorldObject` we own.
        let obj = unsafe {
            KBox::from_raw(kernel::container_of!(
                head.cast::<Opaque<bindings::callback_head>>(),
                WorldObject,
                rcu
            ))
        };
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
///   reaches zero the record is torn down and, a grace period later, freed.
/// - Every entry of `objects` is a `WorldObject` made by `KBox::into_raw`
///   that points back at this record, or a reservation (a zero entry) held
///   by a constructor in progress, which holds a reference on the record.
#[pin_data]
pub(crate) struct WorldRecord {
    /// Immutable: the world's ID (global TID).
    wid: i32,
    /// Immutable: the task, for identity only; never dereferenced, since
    /// the record can outlive it.
    task: *const bindings::task_struct,
    /// See the type invariants. Taken only with `inc_not_zero` by lookups.
    refs: Opaque<bindings::refcount_t>,
    /// Region slot to `WorldObject`. Stored and erased under its own lock,
    /// with interrupts off (the last Release may tear a record down from any
    /// context); loaded under RCU.
    #[pin]
    objects: Opaque<bindings::xarray>,
    /// Set once under the `objects` lock at exit: no object is added after.
    exited: AtomicBool,
    /// For the deferred free.
    rcu: Opaque<bindings::callback_head>,
}

impl WorldRecord {
    /// A record for `task`, not yet in the table, counting one reference
    /// (the table's, once attached).
    pub(crate) fn new(task: &Task, context: AllocContext) -> Result<Pin<KBox<Self>>> {
        let init = pin_init!(Self {
            wid: world_id(task),
            task: task.as_ptr(),
            // SAFETY: no requirement; builds an initial count.
            refs: Opaque::new(unsafe { bindings::REFCOUNT_INIT(1) }),
            // SAFETY: `xa` points to the field being initialised in place.
            objects <- Opaque::ffi_init(|xa| unsafe { ws_xa_init_objects(xa) }),
            exited: AtomicBool::new(false),
            rcu: Opaque::uninit(),
        });
        KBox::pin_init(init, context.flags())
    }

    /// Whether this is the record of `task` (not of an earlier task with the
    /// same TID).
    pub(crate) fn is_of(&self, task: &Task) -> bool {
        ptr::eq(self.task, task.as_ptr())
    }

    /// The object of region slot `slot`, valid while `guard` is held.
    pub(crate) fn object<'a>(
        &self,
        slot: usize,
        _guard: &'a rcu::Guard,
    ) -> Option<&'a WorldObject> {
        // SAFETY: `objects` is initialised; `xa_load` is safe under RCU.
        let p = unsafe { bindings::xa_load(self.objects.get(), slot as c_ulong) };
        // SAFETY: entries are `WorldObject`s (type invariant), freed only a
        // grace period after removal; `_guard` holds this grace period.
        unsafe { p.cast::<WorldObject>().as_ref() }
    }

    /// Takes a reference unless the record is already dying.
    fn try_get(&self) -> bool {
        // SAFETY: `refs` is a valid refcount.
        unsafe { ws_refcount_inc_not_zero(self.refs.get()) }
    }

    fn mark_exited(&self) {
        let _lock = IrqLocked::new(&self.objects);
        self.exited.store(true, Ordering::Relaxed);
    }

    /// Removes `obj` from this record if it is still there; `true` if the
    /// caller now owns it (and must destruct and retire it).
    fn claim(&self, slot: usize, obj: &WorldObject) -> bool {
        let _lock = IrqLocked::new(&self.objects);
        // SAFETY: `objects` is initialised and its lock is held.
        let p = unsafe { bindings::xa_load(self.objects.get(), slot as c_ulong) };
        if !ptr::eq(p.cast::<WorldObject>(), obj) {
            return false;
        }
        // SAFETY: as above.
        unsafe { bindings::__xa_erase(self.objects.get(), slot as c_ulong) };
        true
    }

    /// Removes and returns any one object, for teardown.
    fn take_any(&self) -> Option<&WorldObject> {
        let _lock = IrqLocked::new(&self.objects);
        let mut index: c_ulong = 0;
        // SAFETY: `objects` is initialised and its lock is held.
        let p = unsafe {
            bindings::xa_find(
                self.objects.get(),
                &mut index,
                c_ulong::MAX,
                bindings::XA_PRESENT,
            )
        };
        if p.is_null() {
            return None;
        }
        // SAFETY: as above.
        unsafe { bindings::__xa_erase(self.objects.get(), index) };
        // SAFETY: entries are `WorldObject`s; the caller owns it now.
        Some(unsafe { &*p.cast::<WorldObject>() })
    }

    /// RCU callback: frees the record.
    ///
    /// # Safety
    ///
    /// `head` is the `rcu` field of a torn-down record made by
    /// `KBox::into_raw`, passed to `call_rcu` once.
    unsafe extern "C" fn free_rcu(head: *mut bindings::callback_head) {
        // SAFETY: by the contract we own the record.
        drop(unsafe {
            KBox::from_raw(kernel::container_of!(
                head.cast::<Opaque<bindings::callback_head>>(),
                WorldRecord,
                rcu
            ))
        });
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
#[pin_data(PinnedDrop)]
pub(crate) struct WorldTable {
    /// Records of live worlds by TID. Stored and erased under its lock, in
    /// process context (the task hooks and Create); loaded under RCU.
    #[pin]
    worlds: Opaque<bindings::xarray>,
    /// Every object not yet retired, by address / 8: Release checks a
    /// caller's pointer here before touching it, and Destroy finds a
    /// region's objects here, including those of exited worlds. Stored and
    /// erased under its lock with interrupts off; loaded under RCU.
    #[pin]
    index: Opaque<bindings::xarray>,
    /// Records attached and not yet torn down.
    records: AtomicUsize,
}

// SAFETY: all shared state is behind the xarrays' locks, RCU or atomics.
unsafe impl Send for WorldTable {}
// SAFETY: as above.
unsafe impl Sync for WorldTable {}

impl WorldTable {
    /// Empty tables.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `xa` points to the field being initialised in place.
            worlds <- Opaque::ffi_init(|xa| unsafe { ws_xa_init_worlds(xa) }),
            // SAFETY: as above.
            index <- Opaque::ffi_init(|xa| unsafe { ws_xa_init_index(xa) }),
            records: AtomicUsize::new(0),
        })
    }

    /// Worlds with a record that is not yet torn down (live, or exited with
    /// references outstanding).
    pub(crate) fn records(&self) -> usize {
        self.records.load(Ordering::Relaxed)
    }

    /// The record of live world `wid`, valid while `guard` is held.
    pub(crate) fn get<'a>(&self, wid: i32, _guard: &'a rcu::Guard) -> Option<&'a WorldRecord> {
        let wid = c_ulong::try_from(wid).ok()?;
        // SAFETY: `worlds` is initialised; `xa_load` is safe under RCU.
        let p = unsafe { bindings::xa_load(self.worlds.get(), wid) };
        // SAFETY: entries are records, freed a grace period after removal.
        unsafe { p.cast::<WorldRecord>().as_ref() }
    }

    /// A counted reference on the record of `task`, if it has one.
    pub(crate) fn get_ref(&self, task: &Task) -> Option<RecordRef<'_>> {
        let guard = rcu::read_lock();
        let record = self.get(world_id(task), &guard)?;
        (record.is_of(task) && record.try_get()).then(|| RecordRef {
            record: NonNull::from(record),
            table: self,
        })
    }

    /// Puts `fresh` in the table as the record of its task, unless the task
    /// already has one (then that one is used) or is exiting (`None`: it
    /// must get no record, or it would never be torn down).
    pub(crate) fn attach(
        &self,
        fresh: Pin<KBox<WorldRecord>>,
        task: &Task,
    ) -> Result<Option<RecordRef<'_>>> {
        let wid = c_ulong::try_from(fresh.wid).map_err(|_| EINVAL)?;
        // SAFETY: `KBox::into_raw` gives up ownership; the record is pinned
        // and never moves again.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(fresh) });
        let mut stale = ptr::null_mut::<WorldRecord>();
        // SAFETY: `worlds` is initialised.
        unsafe { bindings::xa_lock(self.worlds.get()) };
        // SAFETY: lock held.
        let current = unsafe { bindings::xa_load(self.worlds.get(), wid) }.cast::<WorldRecord>();
        // Under the lock: the exit hook erases under it after PF_EXITING is
        // set, so either it sees our record or we see the flag.
        let attached = if task_flags(task) & bindings::PF_EXITING != 0 {
            Ok(ptr::null_mut())
        // SAFETY: entries are live records while the lock is held.
        } else if unsafe { current.as_ref() }.is_some_and(|r| r.is_of(task)) {
            Ok(current)
        } else {
            // SAFETY: lock held; GFP_ATOMIC does not drop it.
            let old = unsafe {
                bindings::__xa_store(self.worlds.get(), wid, raw.cast(), bindings::GFP_ATOMIC)
            };
            // SAFETY: `old` is an error entry or the previous entry.
            if unsafe { bindings::xa_err(old) } != 0 {
                Err(ENOMEM)
            } else {
                // A record of an earlier task with this TID, whose exit was
                // not seen: detached below like any exited world.
                stale = old.cast();
                self.records.fetch_add(1, Ordering::Relaxed);
                Ok(raw)
            }
        };
        let attached = attached.map(|p| {
            // SAFETY: a record in the table is live while the lock is held.
            let record = unsafe { p.as_ref() }?;
            record.try_get().then(|| RecordRef {
                record: NonNull::from(record),
                table: self,
            })
        });
        // SAFETY: taken above.
        unsafe { bindings::xa_unlock(self.worlds.get()) };
        if !matches!(&attached, Ok(Some(r)) if ptr::eq(r.record.as_ptr(), raw)) {
            // SAFETY: `raw` was not stored, so it is still ours.
            drop(unsafe { KBox::from_raw(raw) });
        }
        if let Some(stale) = NonNull::new(stale) {
            // SAFETY: it was in the table, so the table's count is ours now.
            unsafe { stale.as_ref() }.mark_exited();
            self.put(stale);
        }
        attached
    }

    /// The world of `task` exits: it is no longer found, gets no new object,
    /// and its record is torn down once no remote reference is left.
    pub(crate) fn detach(&self, task: &Task) {
        let Ok(wid) = c_ulong::try_from(world_id(task)) else {
            return;
        };
        // SAFETY: `worlds` is initialised.
        unsafe { bindings::xa_lock(self.worlds.get()) };
        // SAFETY: lock held.
        let p = unsafe { bindings::xa_load(self.worlds.get(), wid) }.cast::<WorldRecord>();
        // SAFETY: entries are live records while the lock is held.
        let record = unsafe { p.as_ref() }.filter(|r| r.is_of(task));
        if record.is_some() {
            // SAFETY: lock held.
            unsafe { bindings::__xa_erase(self.worlds.get(), wid) };
        }
        // SAFETY: taken above.
        unsafe { bindings::xa_unlock(self.worlds.get()) };
        if let Some(record) = record {
            record.mark_exited();
            // The table's reference.
            self.put(NonNull::from(record));
        }
    }

    /// Gives `record` an object of `region` unless it has one, is getting
    /// one, or its world exited. The constructor runs with no lock held.
    pub(crate) fn construct(
        &self,
        record: &RecordRef<'_>,
        region: &Region,
        context: AllocContext,
    ) -> Result {
        let slot = region.slot() as c_ulong;
        {
            let _lock = IrqLocked::new(&record.objects);
            if record.exited.load(Ordering::Relaxed) {
                return Ok(());
            }
            // Reserve the slot: a racing constructor sees it taken.
            // SAFETY: lock held; GFP_ATOMIC does not drop it.
            let err = unsafe {
                bindings::__xa_insert(
                    record.objects.get(),
                    slot,
                    ptr::null_mut(),
                    bindings::GFP_ATOMIC,
                )
            };
            if err == -(bindings::EBUSY as i32) {
                return Ok(());
            }
            if err != 0 {
                return Err(ENOMEM);
            }
        }
        let result = self.build_object(record, region, context);
        let _lock = IrqLocked::new(&record.objects);
        let entry = match &result {
            Ok(obj) => obj.as_ptr().cast::<c_void>(),
            Err(_) => ptr::null_mut(),
        };
        // Fill or drop the reservation; nobody else removes it, since we hold
        // a reference on the record and Destroy cannot sweep a published
        // region.
        // SAFETY: lock held; replacing an entry allocates nothing.
        unsafe {
            if entry.is_null() {
                bindings::__xa_erase(record.objects.get(), slot);
            } else {
                bindings::__xa_store(record.objects.get(), slot, entry, bindings::GFP_ATOMIC);
            }
        }
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
                wid: record.wid,
                region: NonNull::from(region),
                record: NonNull::from(record),
                remote: AtomicU32::new(0),
                rcu: Opaque::uninit(),
            },
            context.flags(),
        )?;
        region.construct(record.wid, *data)?;
        let raw = KBox::into_raw(obj);
        let err = {
            let _lock = IrqLocked::new(&self.index);
            // SAFETY: lock held; GFP_ATOMIC does not drop it.
            let old = unsafe {
                bindings::__xa_store(self.index.get(), key, raw.cast(), bindings::GFP_ATOMIC)
            };
            // SAFETY: `old` is an error entry or null.
            unsafe { bindings::xa_err(old) }
        };
        if err != 0 {
            region.destruct(record.wid, *data);
            // SAFETY: not indexed, so still ours.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(ENOMEM);
        }
        data.dismiss();
        region.allocated.inc();
        region.live_objects.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `raw` came from `KBox::into_raw`, so it is not null.
        Ok(unsafe { NonNull::new_unchecked(raw) })
    }

    /// Destructs and retires an object its caller has claimed.
    fn destroy_object(&self, obj: &WorldObject) {
        obj.region().destruct(obj.wid, obj.data);
        obj.region().live_objects.fetch_sub(1, Ordering::Relaxed);
        if let Some(key) = index_key(obj.data.as_ptr()) {
            let _lock = IrqLocked::new(&self.index);
            // SAFETY: lock held.
            unsafe { bindings::__xa_erase(self.index.get(), key) };
        }
        // SAFETY: `obj` is a `WorldObject` from `KBox::into_raw`, claimed by
        // the caller and now unreachable but for RCU readers.
        unsafe {
            bindings::call_rcu(obj.rcu.get(), Some(WorldObject::free_rcu));
        }
    }

    /// Drops one reference on `record`; the last one tears it down.
    fn put(&self, record: NonNull<WorldRecord>) {
        // SAFETY: the caller owns a count, so the record is live.
        let r = unsafe { record.as_ref() };
        // SAFETY: `refs` is a valid refcount.
        if !unsafe { bindings::refcount_dec_and_test(r.refs.get()) } {
            return;
        }
        while let Some(obj) = r.take_any() {
            self.destroy_object(obj);
        }
        self.records.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the record is dead: no entry, no reference, not in the
        // table, so `objects` is unused but by RCU readers of its (RCU-freed)
        // nodes; the record itself is freed after a grace period.
        unsafe {
            bindings::xa_destroy(r.objects.get());
            bindings::call_rcu(r.rcu.get(), Some(WorldRecord::free_rcu));
        }
    }

    /// Remote lookup: the object of `region` of the live world `wid` (and
    /// `task`, if given), with a reference that [`WorldTable::release`] drops.
    pub(crate) fn lookup(
        &self,
        wid: i32,
        task: Option<&Task>,
        region: &Region,
        guard: &rcu::Guard,
    ) -> Result<NonNull<u8>> {
        let record = self.get(wid, guard).ok_or(ESRCH)?;
        if task.is_some_and(|t| !record.is_of(t)) {
            return Err(ESRCH);
        }
        let obj = record.object(region.slot(), guard).ok_or(ENOENT)?;
        if !record.try_get() {
            return Err(ESRCH);
        }
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
        let record = self.get(world_id(current), guard).ok_or(ENOENT)?;
        if !record.is_of(current) {
            return Err(ENOENT);
        }
        Ok(record.object(region.slot(), guard).ok_or(ENOENT)?.data)
    }

    /// Drops a reference taken by [`WorldTable::lookup`] on object `data` of
    /// world `wid`. `EINVAL` if `data` is not an object of `wid` or has no
    /// reference outstanding.
    pub(crate) fn release(&self, wid: i32, data: *const u8) -> Result {
        let guard = rcu::read_lock();
        let key = index_key(data).ok_or(EINVAL)?;
        // SAFETY: `index` is initialised; `xa_load` is safe under RCU.
        let p = unsafe { bindings::xa_load(self.index.get(), key) }.cast::<WorldObject>();
        // SAFETY: entries are objects, freed a grace period after removal.
        let obj = unsafe { p.as_ref() }.ok_or(EINVAL)?;
        if !ptr::eq(obj.data.as_ptr(), data) || obj.wid != wid || !obj.drop_remote() {
            return Err(EINVAL);
        }
        obj.region().remote_refs.dec();
        self.put(obj.record);
        drop(guard);
        Ok(())
    }

    /// Destructs and retires every object of `region`, in live and exited
    /// worlds. The region must be unpublished, a grace period past and its
    /// remote references drained, so no object of it is added or looked up.
    pub(crate) fn sweep(&self, region: &Region) {
        let mut key: c_ulong = 0;
        loop {
            let guard = rcu::read_lock();
            // SAFETY: `index` is initialised; `xa_find` is safe under RCU.
            let p = unsafe {
                bindings::xa_find(
                    self.index.get(),
                    &mut key,
                    c_ulong::MAX,
                    bindings::XA_PRESENT,
                )
            };
            // SAFETY: entries are objects, freed a grace period after removal;
            // `guard` holds this grace period.
            let Some(obj) = (unsafe { p.cast::<WorldObject>().as_ref() }) else {
                break;
            };
            if ptr::eq(obj.region(), region) && obj.record().claim(region.slot(), obj) {
                self.destroy_object(obj);
            }
            drop(guard);
            if key == c_ulong::MAX {
                break;
            }
            key += 1;
        }
    }

    /// Detaches every record left (module unload): each is torn down once
    /// its last reference goes.
    pub(crate) fn detach_all(&self) {
        let mut wid: c_ulong = 0;
        loop {
            // SAFETY: `worlds` is initialised.
            unsafe { bindings::xa_lock(self.worlds.get()) };
            // SAFETY: lock held.
            let p = unsafe {
                bindings::xa_find(
                    self.worlds.get(),
                    &mut wid,
                    c_ulong::MAX,
                    bindings::XA_PRESENT,
                )
            };
            if !p.is_null() {
                // SAFETY: lock held.
                unsafe { bindings::__xa_erase(self.worlds.get(), wid) };
            }
            // SAFETY: taken above.
            unsafe { bindings::xa_unlock(self.worlds.get()) };
            let Some(record) = NonNull::new(p.cast::<WorldRecord>()) else {
                break;
            };
            // SAFETY: it was in the table, so the table's count is ours now.
            unsafe { record.as_ref() }.mark_exited();
            self.put(record);
        }
    }
}

#[pinned_drop]
impl PinnedDrop for WorldTable {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: both xarrays are initialised; `detach_all` and every
        // region's Destroy emptied them before the module drops the table.
        unsafe {
            bindings::xa_destroy(self.worlds.get());
            bindings::xa_destroy(self.index.get());
        }
    }
}
