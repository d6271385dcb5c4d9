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
    handle::{HANDLE_INVALID, MAX_REGIONS},
    object_cache::AllocContext,
    region::Region,
    tasks,
    xarray_rcu::{RcuXArray, XaKind},
};
use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};
use kernel::{
    bindings, new_spinlock_irq,
    prelude::*,
    sync::{rcu, SpinLockIrq},
    task::Task,
    types::{Opaque, ScopeGuard},
};

extern "C" {
    fn ws_refcount_get_below(r: *mut bindings::refcount_t, max: u32) -> c_int;
    fn ws_direct_map_offset(p: *const c_void) -> usize;
    // `struct world_storage_entries_v1 *`, which `EntryArray` mirrors.
    fn ws_entries_new(nr: u32, gfp: bindings::gfp_t) -> *mut c_void;
    fn ws_entries_free_rcu(entries: *mut c_void);
    fn ws_entries_free(entries: *mut c_void);
}

/// The most references one record takes: a lookup past it fails with
/// `EOVERFLOW` rather than saturate the count (a `refcount_t` warning).
/// Only a client leaking about 2^30 references reaches it; lookups racing
/// past the check (each may be preempted between check and increment)
/// overshoot it by at most one per task, far below 2^31.
const MAX_RECORD_REFS: u32 = 1 << 30;

/// The `owner` of an entry reserved by a constructor in progress: not an
/// object, never dereferenced (no object lives at the dangling address).
const RESERVED: *mut WorldObject = ptr::dangling_mut();

/// The handle of an empty entry: no region's (its slot is out of range).
const ENTRY_EMPTY: u64 = HANDLE_INVALID;

/// Entries a record's array has at least: small worlds never grow it.
const MIN_ENTRIES: usize = 8;

/// One region slot of one world: `struct world_storage_entry_v1` of `include/world_storage.h`, which the
/// local lookup's fast path reads with preemption off and no lock.
#[repr(C)]
pub(crate) struct Entry {
    /// The handle of the region whose object `object` is, or `ENTRY_EMPTY`.
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
    /// The `WorldObject` (made by `KBox::into_raw`, pointing back at this
    /// record), `RESERVED` or null. Written and read under the record's
    /// lock; read under RCU by remote lookups once they have seen `handle`.
    owner: AtomicPtr<WorldObject>,
}

/// A record's entries: `struct world_storage_entries_v1` of
/// `include/world_storage.h`, allocated there
/// (`ws_entries_new`) with `nr` entries after the header.
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
        core::mem::offset_of!(WorldRecord, task),
    ),
    (
        c"world_storage_record_v1.entries",
        core::mem::offset_of!(WorldRecord, entries),
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
/// entries are initialised, alive for `'a`.
#[derive(Clone, Copy)]
struct Entries<'a> {
    array: NonNull<EntryArray>,
    _life: PhantomData<&'a EntryArray>,
}

impl<'a> Entries<'a> {
    /// A new array of at least `nr` empty entries (at most `MAX_REGIONS`).
    fn alloc(nr: usize, context: AllocContext) -> Result<NonNull<EntryArray>> {
        let nr = nr.max(MIN_ENTRIES).next_power_of_two().min(MAX_REGIONS);
        // SAFETY: no requirement; `nr` is at most `MAX_REGIONS`, so fits.
        NonNull::new(unsafe { ws_entries_new(nr as u32, context.gfp()) }.cast()).ok_or(ENOMEM)
    }

    fn len(self) -> usize {
        // SAFETY: live (type invariant); `nr` is immutable.
        unsafe { (*self.array.as_ptr()).nr as usize }
    }

    /// The entry of region slot `slot`, if the array has it.
    fn get(self, slot: usize) -> Option<&'a Entry> {
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

    fn iter(self) -> impl Iterator<Item = &'a Entry> {
        (0..self.len()).filter_map(move |slot| self.get(slot))
    }
}

/// The key of an object in the object index: its offset in the direct map
/// (where the slab allocates) over 8 (every slab object is at least 8-byte
/// aligned), so the keys, and the index, stay a few levels shallow.
fn index_key(data: *const u8) -> Option<usize> {
    let addr = data as usize;
    // SAFETY: no requirement; only the address is used.
    (addr % 8 == 0 && addr != 0).then(|| unsafe { ws_direct_map_offset(data.cast()) } / 8)
}

/// One region's object for one world.
///
/// # Invariants
///
/// - `data` is `size` bytes of `region`'s cache, constructed (or zeroed).
/// - `region` outlives the object: Destroy waits for its objects to be freed
///   (`Region::object_freed`, only after the object's RCU-deferred free).
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
        self.region().remote_ref_taken();
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
        // SAFETY: the region outlives the object until `object_freed()`.
        let region = unsafe { obj.region.as_ref() };
        // SAFETY: `data` came from this region's cache; nothing refers to it.
        unsafe { region.cache().free(obj.data) };
        drop(obj);
        // Last touch of `region`: Destroy may free it once this drains.
        region.object_freed();
    }
}

/// The record of one world: its objects, by region slot.
///
/// Its first two fields are `struct world_storage_record_v1` of
/// `include/world_storage.h`: the
/// local lookup's fast path reaches them through a per-CPU pointer
/// (current_cache.rs).
///
/// # Invariants
///
/// - `refs` counts 1 while the record is in [`WorldTable`]'s `worlds`, plus
///   one per holder of a [`RecordRef`] and per remote reference. When it
///   reaches zero the record is torn down (at once, or by a deferred
///   teardown that owns it through `deferred`) and, a grace period later,
///   freed.
/// - Every entry's `owner` is null, [`RESERVED`] or a `WorldObject` made by
///   `KBox::into_raw` that points back at this record. A reservation is
///   held by a constructor in progress, which holds a reference on the
///   record. An object is freed only a grace period after its entry is
///   cleared.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct WorldRecord {
    /// The task whose record this is, while the record is in the table: the
    /// fast path's check that a per-CPU pointer is current's. Set when the
    /// record is made; cleared (by `current_cache::forget`) when it leaves
    /// the table, before it is forgotten on every CPU. Read anywhere.
    task: AtomicPtr<bindings::task_struct>,
    /// The entry array, one entry per region slot below its length; never
    /// null. Replaced (release) under `lock` by a longer copy when a region
    /// in a higher slot gets an object; the old array is freed a grace
    /// period later (`call_rcu`), the last one with the record. Loaded
    /// (acquire) under RCU or with preemption off.
    entries: AtomicPtr<EntryArray>,
    /// Immutable: the world's ID (global TID) when the record was made.
    first_wid: i32,
    /// The world's ID as last seen: written only by the world's own exec and
    /// exit hooks (a thread that calls `execve()` takes its leader's TID),
    /// read anywhere. Destructors get it.
    wid: AtomicI32,
    /// See the type invariants. Taken only with `inc_not_zero`, below
    /// `MAX_RECORD_REFS`, by lookups.
    refs: Opaque<bindings::refcount_t>,
    /// The record's lock, taken with interrupts off: guards every write to
    /// the entries (and their replacement) and to `exited`.
    #[pin]
    lock: SpinLockIrq<()>,
    /// Set once under `lock` at exit: no object is added after. Read under
    /// that lock, or (Release lacks it) with acquire ordering.
    exited: AtomicBool,
    /// Link in the list of deferred teardowns: used once, after the last
    /// reference is dropped where the teardown may not run.
    deferred: Opaque<bindings::llist_node>,
    /// For the deferred free.
    rcu: Opaque<bindings::callback_head>,
}

// SAFETY: everything is atomic, behind `lock`, or used once by the owner of
// the last reference.
unsafe impl Send for WorldRecord {}
// SAFETY: as above.
unsafe impl Sync for WorldRecord {}

impl WorldRecord {
    /// A record for `task`, not yet in the table, counting one reference
    /// (the table's, once attached), with entries for region slots below
    /// `slots` at least.
    pub(crate) fn new(task: &Task, slots: usize, context: AllocContext) -> Result<Pin<KBox<Self>>> {
        let wid = tasks::world_id(task);
        let entries = ScopeGuard::new_with_data(Entries::alloc(slots, context)?, |e| {
            // SAFETY: just allocated, never shared.
            unsafe { ws_entries_free(e.as_ptr().cast()) }
        });
        let array = entries.as_ptr();
        let init = pin_init!(Self {
            task: AtomicPtr::new(task.as_ptr()),
            entries: AtomicPtr::new(array),
            first_wid: wid,
            wid: AtomicI32::new(wid),
            // SAFETY: no requirement; builds an initial count.
            refs: Opaque::new(unsafe { bindings::REFCOUNT_INIT(1) }),
            lock <- new_spinlock_irq!((), "WorldRecord::lock"),
            exited: AtomicBool::new(false),
            deferred: Opaque::uninit(),
            rcu: Opaque::uninit(),
        });
        let record = KBox::pin_init(init, context.flags())?;
        // The record owns the array now (and frees it when dropped).
        entries.dismiss();
        Ok(record)
    }

    /// The entries, valid while `_guard` is held.
    fn entries<'a>(&self, _guard: &'a rcu::Guard) -> Entries<'a> {
        // INVARIANT: never null; an array is freed only a grace period
        // after it is replaced, or with the record; `_guard` holds it.
        Entries {
            // SAFETY: never null (field rule).
            array: unsafe { NonNull::new_unchecked(self.entries.load(Ordering::Acquire)) },
            _life: PhantomData,
        }
    }

    /// The entries, which only the holder of `lock` (`_lock` proves it is
    /// held) replaces.
    fn entries_locked<'a>(&self, _lock: &'a kernel::sync::SpinLockIrqGuard<'_, ()>) -> Entries<'a> {
        // INVARIANT: only the lock holder replaces the array, and the record
        // outlives the guard.
        Entries {
            // SAFETY: never null (field rule).
            array: unsafe { NonNull::new_unchecked(self.entries.load(Ordering::Relaxed)) },
            _life: PhantomData,
        }
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

    /// The entry of the region named `handle`, if this world has its
    /// object, valid while `guard` is held.
    #[inline]
    fn entry<'a>(&self, handle: u64, guard: &'a rcu::Guard) -> Option<&'a Entry> {
        let entry = self.entries(guard).get((handle & 0xffff_ffff) as usize)?;
        (entry.handle.load(Ordering::Acquire) == handle).then_some(entry)
    }

    /// The object of the region named `handle`, valid while `guard` is held.
    pub(crate) fn object<'a>(&self, handle: u64, guard: &'a rcu::Guard) -> Option<&'a WorldObject> {
        let owner = self.entry(handle, guard)?.owner.load(Ordering::Acquire);
        // SAFETY: an entry with a handle has a live object, freed only a
        // grace period after the entry is cleared (type invariant); `guard`
        // holds this grace period.
        unsafe { owner.as_ref() }
    }

    /// The memory of the object of the region named `handle`.
    fn object_memory(&self, handle: u64, guard: &rcu::Guard) -> Option<NonNull<u8>> {
        NonNull::new(self.entry(handle, guard)?.object.load(Ordering::Relaxed))
    }

    /// Reserves the entry of `slot` if it is empty and the world has not
    /// exited; `Ok(false)` if it is taken or reserved, or the world exited.
    /// Makes the array longer if it has no entry for `slot`.
    fn reserve(&self, slot: usize, context: AllocContext) -> Result<bool> {
        loop {
            let len = {
                let lock = self.lock.lock();
                if self.exited.load(Ordering::Relaxed) {
                    return Ok(false);
                }
                let entries = self.entries_locked(&lock);
                if let Some(entry) = entries.get(slot) {
                    if !entry.owner.load(Ordering::Relaxed).is_null() {
                        return Ok(false);
                    }
                    entry.owner.store(RESERVED, Ordering::Relaxed);
                    return Ok(true);
                }
                entries.len()
            };
            let longer = Entries::alloc(slot + 1, context)?;
            self.replace_entries(longer, len);
        }
    }

    /// Replaces the entries by `longer`, a copy, unless they were replaced
    /// since their length was `len` (then `longer` is freed).
    fn replace_entries(&self, longer: NonNull<EntryArray>, len: usize) {
        let lock = self.lock.lock();
        let old = self.entries_locked(&lock);
        if old.len() != len {
            // SAFETY: just allocated, never shared.
            unsafe { ws_entries_free(longer.as_ptr().cast()) };
            return;
        }
        // INVARIANT: from `ws_entries_new`, not yet shared.
        let new = Entries {
            array: longer,
            _life: PhantomData,
        };
        for (from, to) in old.iter().zip(new.iter()) {
            to.object
                .store(from.object.load(Ordering::Relaxed), Ordering::Relaxed);
            to.owner
                .store(from.owner.load(Ordering::Relaxed), Ordering::Relaxed);
            to.handle
                .store(from.handle.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        // Release: readers of the new array see its entries.
        self.entries.store(longer.as_ptr(), Ordering::Release);
        // SAFETY: no longer reachable but for readers under RCU or with
        // preemption off, which the grace period waits for.
        unsafe { ws_entries_free_rcu(old.array.as_ptr().cast()) };
    }

    /// Puts `obj` (or, if `None`, nothing) in the reserved entry of `slot`,
    /// as the object of the region named `handle`.
    fn fill(&self, slot: usize, handle: u64, obj: Option<&WorldObject>) {
        let lock = self.lock.lock();
        // Reserved, so present: the array only gets longer.
        let Some(entry) = self.entries_locked(&lock).get(slot) else {
            return;
        };
        match obj {
            Some(obj) => {
                entry.object.store(obj.data.as_ptr(), Ordering::Relaxed);
                entry
                    .owner
                    .store(ptr::from_ref(obj).cast_mut(), Ordering::Relaxed);
                entry.handle.store(handle, Ordering::Release);
            }
            None => entry.owner.store(ptr::null_mut(), Ordering::Relaxed),
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
        let _lock = self.lock.lock();
        // Release: pairs with `had_wid`, which reads it without the lock.
        self.exited.store(true, Ordering::Release);
    }

    /// Removes `obj` from this record if it is still there; `true` if the
    /// caller now owns it (and must destruct and retire it).
    fn claim(&self, slot: usize, obj: &WorldObject) -> bool {
        let lock = self.lock.lock();
        let Some(entry) = self.entries_locked(&lock).get(slot) else {
            return false;
        };
        if !ptr::eq(entry.owner.load(Ordering::Relaxed), obj) {
            return false;
        }
        entry.handle.store(ENTRY_EMPTY, Ordering::Relaxed);
        entry.owner.store(ptr::null_mut(), Ordering::Relaxed);
        true
    }

    /// Removes and returns any one object, which the caller now owns.
    fn take_any(&self) -> Option<&WorldObject> {
        let lock = self.lock.lock();
        let entry = self.entries_locked(&lock).iter().find(|e| {
            let p = e.owner.load(Ordering::Relaxed);
            !p.is_null() && p != RESERVED
        })?;
        let p = entry.owner.load(Ordering::Relaxed);
        entry.handle.store(ENTRY_EMPTY, Ordering::Relaxed);
        entry.owner.store(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: a live object (type invariant); its entry cleared, the
        // caller owns it and frees it after a grace period.
        Some(unsafe { &*p })
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

#[pinned_drop]
impl PinnedDrop for WorldRecord {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the last array, owned by the record; a record is dropped a
        // grace period after its teardown, or never shared.
        unsafe { ws_entries_free(self.entries.load(Ordering::Relaxed).cast()) };
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
        // Clears its task first: no lookup finds it through a CPU after this.
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
        // Reserve the slot: a racing constructor sees it taken.
        if !record.reserve(slot, context)? {
            return Ok(());
        }
        let result = self.build_object(record, region, context);
        // Fill or drop the reservation; nobody else removes it, since we hold
        // a reference on the record and Destroy cannot sweep a published
        // region.
        // SAFETY: a built object is live until its entry is cleared.
        let obj = result.as_ref().ok().map(|obj| unsafe { obj.as_ref() });
        record.fill(slot, region.handle().encode(), obj);
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
        region.object_constructed();
        // SAFETY: `raw` came from `KBox::into_raw`, so it is not null.
        Ok(unsafe { NonNull::new_unchecked(raw) })
    }

    /// Destructs and retires an object its caller has claimed.
    fn destroy_object(&self, obj: &WorldObject) {
        obj.region().destruct(obj.record().wid(), obj.data);
        obj.region().object_destructed();
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
        let obj = record
            .object(region.handle().encode(), guard)
            .ok_or(ENOENT)?;
        record.try_get()?;
        obj.take_remote();
        Ok(obj.data)
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
            // The reference just dropped keeps the record alive until `put`.
            let record = obj.record;
            obj.region().remote_ref_dropped();
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
        let record = WorldRecord::new(kernel::current!(), 0, AllocContext::Sleepable)?;
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
