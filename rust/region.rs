// SPDX-License-Identifier: GPL-2.0

//! Regions ([`Region`]) and the table that names them ([`RegionTable`]).

use crate::{
    drain::DrainCount,
    handle::{RegionHandle, HANDLE_INVALID, MAX_REGIONS},
    object_cache::ObjectCache,
    object_layout::ObjectLayout,
};
use core::{
    ptr::{self, NonNull},
    sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering},
};
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    new_mutex,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        rcu, Mutex, MutexGuard,
    },
};

/// A caller's constructor: `(world ID, object, size, arg)`, 0 or a negative
/// errno. Must not block: runs under RCU (task creation) or the table's
/// mutex (Create).
pub(crate) type Constructor = unsafe extern "C" fn(i32, *mut c_void, u32, *mut c_void) -> c_int;

/// A caller's destructor: `(world ID, object, size, arg)`. Must not block:
/// may run under RCU (Destroy) or the table's mutex (a failing Create).
pub(crate) type Destructor = unsafe extern "C" fn(i32, *mut c_void, u32, *mut c_void);

/// What a caller registers, validated.
pub(crate) struct RegionProps {
    /// Size and alignment of every object.
    pub(crate) layout: ObjectLayout,
    /// Runs on every new object; `None`: objects are zero-filled.
    pub(crate) constructor: Option<Constructor>,
    /// Runs on every object before it is freed.
    pub(crate) destructor: Option<Destructor>,
    /// Passed to both callbacks, never dereferenced here.
    pub(crate) arg: *mut c_void,
    /// The module whose text holds the callbacks (NULL: built-in code).
    pub(crate) owner: *mut bindings::module,
}

/// One region: a per-world block of memory of one layout, with its
/// callbacks, its objects' cache and the counts that Destroy drains.
///
/// # Invariants
///
/// The callbacks in `props` are callable for as long as the region exists:
/// the caller of Create promises it until Destroy, and the owner-unload
/// notifier destroys the region before the owner's text is freed.
pub(crate) struct Region {
    /// Immutable.
    handle: RegionHandle,
    /// Immutable.
    props: RegionProps,
    /// Immutable. Every object is returned to it before the region is dropped
    /// (Destroy waits for `allocated` to drain).
    cache: ObjectCache,
    /// Objects allocated and not yet freed. Incremented when an object is
    /// constructed, decremented after its RCU-deferred free; Destroy waits
    /// for it to drain before the cache goes.
    allocated: DrainCount,
    /// Objects constructed and not yet destructed: what worlds hold.
    live_objects: Atomic<usize>,
    /// LookUp references not yet released. Lookups increment it under RCU
    /// only after seeing the region published; Destroy unpublishes, waits
    /// for a grace period, then for this to drain.
    remote_refs: DrainCount,
    /// Constructor failures, in Create and at task creation.
    constructor_failures: Atomic<usize>,
}

// SAFETY: the raw pointers in `props` (callbacks' argument, owner module) are
// only passed back to C or compared, never dereferenced here; the callbacks
// must be callable from any task by the API's contract.
unsafe impl Send for Region {}
// SAFETY: shared references only read `props` (its raw pointers are passed
// back to C or compared, the callbacks callable from any task by the API's
// contract) and the cache (thread-safe); all mutable state is atomic.
unsafe impl Sync for Region {}

impl Region {
    fn new(handle: RegionHandle, props: RegionProps) -> Result<KBox<Self>> {
        let name = CString::try_from_fmt(fmt!(
            "world_storage-{}-{}",
            handle.slot(),
            handle.encode() >> 32
        ))?;
        let cache = ObjectCache::new(name, props.layout, props.constructor.is_none())?;
        let region = Region {
            handle,
            props,
            cache,
            allocated: DrainCount::new(),
            live_objects: Atomic::new(0),
            remote_refs: DrainCount::new(),
            constructor_failures: Atomic::new(0),
        };
        Ok(KBox::new(region, GFP_KERNEL)?)
    }

    /// The handle naming this region.
    pub(crate) fn handle(&self) -> RegionHandle {
        self.handle
    }

    /// Size and alignment of its objects.
    pub(crate) fn props_layout(&self) -> ObjectLayout {
        self.props.layout
    }

    /// Its slot: the index of its objects in every world record.
    pub(crate) fn slot(&self) -> usize {
        self.handle.slot()
    }

    /// The owning module's name, `-` for built-in code.
    pub(crate) fn owner_name(&self) -> &CStr {
        if self.props.owner.is_null() {
            return c"-";
        }
        // SAFETY: the owner module lives as long as the region (the unload
        // notifier destroys the region first); its name is NUL-terminated.
        unsafe { CStr::from_char_ptr((*self.props.owner).name.as_ptr()) }
    }

    /// Bytes one object takes: its size rounded up to its alignment.
    pub(crate) fn bytes_per_object(&self) -> usize {
        let layout = self.props.layout;
        (layout.size() as usize).next_multiple_of(layout.align() as usize)
    }

    /// Whether it has a constructor and a destructor.
    pub(crate) fn has_callbacks(&self) -> (bool, bool) {
        (
            self.props.constructor.is_some(),
            self.props.destructor.is_some(),
        )
    }

    /// An object was allocated from the cache and constructed.
    pub(crate) fn object_constructed(&self) {
        self.allocated.inc();
        self.live_objects.add(1, Relaxed);
    }

    /// An object was destructed; it is freed after a grace period.
    pub(crate) fn object_destructed(&self) {
        self.live_objects.fetch_sub(1, Relaxed);
    }

    /// An object went back to the cache. The caller must not touch the
    /// region after this: Destroy may free it as soon as the count drains.
    pub(crate) fn object_freed(&self) {
        self.allocated.dec();
    }

    /// A lookup took a reference to one of its objects, under RCU, having
    /// seen the region published.
    pub(crate) fn remote_ref_taken(&self) {
        self.remote_refs.inc();
    }

    /// A reference taken by a lookup was released.
    pub(crate) fn remote_ref_dropped(&self) {
        self.remote_refs.dec();
    }

    /// Objects constructed and not yet destructed.
    pub(crate) fn live_objects(&self) -> usize {
        self.live_objects.load(Relaxed)
    }

    /// References taken by lookups and not yet released.
    pub(crate) fn remote_refs(&self) -> usize {
        self.remote_refs.get()
    }

    /// Constructor failures so far.
    pub(crate) fn constructor_failures(&self) -> usize {
        self.constructor_failures.load(Relaxed)
    }

    /// Sleeps until every reference taken by a lookup is released (after
    /// the region was unpublished and a grace period passed).
    pub(crate) fn wait_for_remote_refs(&self) {
        self.remote_refs.wait_for_zero();
    }

    /// Sleeps until every object is back in the cache.
    pub(crate) fn wait_for_objects_freed(&self) {
        self.allocated.wait_for_zero();
    }

    /// The cache its objects come from.
    pub(crate) fn cache(&self) -> &ObjectCache {
        &self.cache
    }

    /// Runs the constructor, if any, on a fresh object of world `wid`.
    pub(crate) fn construct(&self, wid: i32, object: NonNull<u8>) -> Result {
        let Some(ctor) = self.props.constructor else {
            return Ok(());
        };
        // SAFETY: the callback is callable by the type invariant; `object`
        // is `size` bytes of this region's cache, owned by the caller.
        let ret = unsafe {
            ctor(
                wid,
                object.as_ptr().cast(),
                self.props.layout.size(),
                self.props.arg,
            )
        };
        if ret == 0 {
            return Ok(());
        }
        self.constructor_failures.add(1, Relaxed);
        // A constructor returning a positive value or a bogus errno is still
        // a failure.
        Err(if (-4095..0).contains(&ret) {
            Error::from_errno(ret)
        } else {
            EINVAL
        })
    }

    /// Runs the destructor, if any, on an object of world `wid`.
    pub(crate) fn destruct(&self, wid: i32, object: NonNull<u8>) {
        if let Some(dtor) = self.props.destructor {
            // SAFETY: the callback is callable by the type invariant;
            // `object` is `size` bytes of this region's cache, constructed,
            // owned by the caller and no longer reachable by lookups.
            unsafe {
                dtor(
                    wid,
                    object.as_ptr().cast(),
                    self.props.layout.size(),
                    self.props.arg,
                )
            };
        }
    }
}

/// Slot bookkeeping, under [`RegionTable::slots`].
pub(crate) struct SlotState {
    /// Generation of the region now or last in each slot (0: never used).
    generations: KVec<u32>,
    /// Slots whose region is unpublished but not yet retired: their objects
    /// may still sit in world records, so the slot is not reused until
    /// [`RegionTable::release_slot`].
    retiring: KVec<bool>,
}

/// The regions that exist, by slot.
///
/// Lookups read it under RCU without a lock; Create, Destroy and the
/// owner-unload notifier change it under `slots`.
#[pin_data]
pub(crate) struct RegionTable {
    /// The published region of each slot, or null. Stored (release) only
    /// under `slots`; loaded (acquire) under RCU. A region that is
    /// unpublished is freed only after a grace period.
    published: KVec<AtomicPtr<Region>>,
    /// The handle of each slot's published region, or
    /// `WORLD_STORAGE_HANDLE_INVALID`: the C glue's exported
    /// `world_storage_handles_v1`, which the local lookup's fast path checks
    /// (a world's entry keeps its handle until Destroy sweeps it). Stored
    /// only under `slots`: a handle after its region is in `published`, the
    /// invalid handle before the region leaves it. Loaded anywhere, without
    /// a lock. One table per module writes it: the service's (or, in the
    /// KUnit module, its own copy, a test's).
    handles: &'static [AtomicU64; MAX_REGIONS],
    /// Number of published regions; lets the task-creation hook skip work.
    live: AtomicUsize,
    /// One past the highest slot ever published: walks over live regions
    /// stop there. Only grows, under `slots`.
    high_water: AtomicUsize,
    /// Serialises Create, Destroy and owner unload (all may block) and
    /// holds the slots' generations.
    #[pin]
    slots: Mutex<SlotState>,
}

impl RegionTable {
    /// An empty table.
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        let mut published = KVec::with_capacity(MAX_REGIONS, GFP_KERNEL)?;
        let mut generations = KVec::with_capacity(MAX_REGIONS, GFP_KERNEL)?;
        let mut retiring = KVec::with_capacity(MAX_REGIONS, GFP_KERNEL)?;
        for _ in 0..MAX_REGIONS {
            published.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
            generations.push(0, GFP_KERNEL)?;
            retiring.push(false, GFP_KERNEL)?;
        }
        Ok(try_pin_init!(Self {
            published,
            handles: exported_handles(),
            live: AtomicUsize::new(0),
            high_water: AtomicUsize::new(0),
            slots <- new_mutex!(SlotState {
                generations,
                retiring,
            }),
        }))
    }

    /// Takes the table's lock: held across a whole Create or Destroy.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.slots.lock()
    }

    /// Whether any region is published (a hint: a racing Create is caught
    /// by its own scan).
    pub(crate) fn any_live(&self) -> bool {
        self.live.load(Ordering::Relaxed) != 0
    }

    /// One past the highest slot with a published region: a new world
    /// record's entries cover these slots. Not `high_water`: after a burst
    /// of regions every new task would get an array for slots long unused
    /// (at 1024 slots a 32 KiB kmalloc: order 3, atomic). A region published
    /// meanwhile makes the record's array longer when it gets its object.
    pub(crate) fn slots_in_use(&self) -> usize {
        let end = self.high_water.load(Ordering::Relaxed);
        self.published[..end]
            .iter()
            .rposition(|slot| !slot.load(Ordering::Relaxed).is_null())
            .map_or(0, |slot| slot + 1)
    }

    /// Publishes a new region in a free slot and returns its handle.
    pub(crate) fn publish(
        &self,
        state: &mut SlotState,
        props: RegionProps,
    ) -> Result<RegionHandle> {
        let slot = (0..MAX_REGIONS)
            .find(|&i| self.published[i].load(Ordering::Relaxed).is_null() && !state.retiring[i])
            .ok_or(ENOSPC)?;
        let generation = RegionHandle::next_generation(state.generations[slot]);
        let handle = RegionHandle::new(slot, generation).ok_or(EINVAL)?;
        let region = Region::new(handle, props)?;
        state.generations[slot] = generation;
        self.high_water.fetch_max(slot + 1, Ordering::Release);
        self.published[slot].store(KBox::into_raw(region), Ordering::Release);
        self.handles[slot].store(handle.encode(), Ordering::Release);
        self.live.fetch_add(1, Ordering::Relaxed);
        Ok(handle)
    }

    /// Unpublishes the region named by `raw`: from now on lookups fail, the
    /// local lookup's fast path included.
    ///
    /// The caller must wait for a grace period before it frees the region
    /// (readers under RCU may still hold `&Region`); see [`Unpublished`].
    pub(crate) fn unpublish(&self, state: &mut SlotState, raw: u64) -> Result<Unpublished> {
        let handle = RegionHandle::decode(raw).ok_or(EINVAL)?;
        let slot = &self.published[handle.slot()];
        let p = slot.load(Ordering::Relaxed);
        // SAFETY: under `slots` nobody else unpublishes, so a non-null
        // published pointer is a live region.
        if p.is_null() || unsafe { (*p).handle } != handle {
            return Err(EINVAL);
        }
        // First the fast path's handle: it never finds an object of a
        // region the slow path no longer knows.
        self.handles[handle.slot()].store(HANDLE_INVALID, Ordering::Relaxed);
        slot.store(ptr::null_mut(), Ordering::Release);
        state.retiring[handle.slot()] = true;
        self.live.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: `p` came from `KBox::into_raw` in `publish` and is no
        // longer published, so this is the only owner.
        Ok(Unpublished(unsafe { KBox::from_raw(p) }))
    }

    /// Lets a retired region's slot be used again.
    pub(crate) fn release_slot(&self, state: &mut SlotState, slot: usize) {
        state.retiring[slot] = false;
    }

    /// The region published under `raw`'s slot if `raw` names it.
    fn published(&self, raw: u64) -> Result<NonNull<Region>> {
        let handle = RegionHandle::decode(raw).ok_or(EINVAL)?;
        let p =
            NonNull::new(self.published[handle.slot()].load(Ordering::Acquire)).ok_or(EINVAL)?;
        // SAFETY: the callers hold the RCU read lock or the table's lock,
        // either of which keeps a published region alive.
        if unsafe { p.as_ref() }.handle != handle {
            return Err(EINVAL);
        }
        Ok(p)
    }

    /// The live region named by `raw`, valid while `guard` is held.
    pub(crate) fn get<'a>(&self, raw: u64, _guard: &'a rcu::Guard) -> Result<&'a Region> {
        // SAFETY: a published region is freed only after it is unpublished
        // and a grace period has passed; `_guard` holds this grace period.
        Ok(unsafe { self.published(raw)?.as_ref() })
    }

    /// The live region named by `raw`, valid while the table's lock is held.
    pub(crate) fn get_locked<'a>(&self, _state: &'a SlotState, raw: u64) -> Result<&'a Region> {
        // SAFETY: only the holder of the lock (`_state` proves it is held)
        // unpublishes, so the region lives as long as the borrow of `_state`.
        Ok(unsafe { self.published(raw)?.as_ref() })
    }

    /// Calls `f` on every live region, valid while `guard` is held.
    pub(crate) fn for_each<'a>(&self, _guard: &'a rcu::Guard, mut f: impl FnMut(&'a Region)) {
        let end = self.high_water.load(Ordering::Acquire);
        for slot in &self.published[..end] {
            let p = slot.load(Ordering::Acquire);
            // SAFETY: a published region is freed only after it is
            // unpublished and a grace period has passed; `_guard` holds this
            // grace period, and the region is borrowed for its lifetime.
            if let Some(region) = unsafe { p.as_ref() } {
                f(region);
            }
        }
    }

    /// The first live region owned by `module` (`None`: any region) and
    /// valid while the lock is held.
    pub(crate) fn find_owned_by<'a>(
        &self,
        state: &'a SlotState,
        module: Option<*mut bindings::module>,
    ) -> Option<&'a Region> {
        let _ = state;
        let end = self.high_water.load(Ordering::Relaxed);
        self.published[..end].iter().find_map(|slot| {
            let p = slot.load(Ordering::Relaxed);
            // SAFETY: only the holder of the lock (`state` proves it is
            // held) unpublishes, so a region published now lives as long as
            // the borrow of `state`.
            let region = unsafe { p.as_ref() }?;
            match module {
                Some(m) if region.props.owner != m => None,
                _ => Some(region),
            }
        })
    }
}

/// The C glue's `world_storage_handles_v1`.
fn exported_handles() -> &'static [AtomicU64; MAX_REGIONS] {
    // SAFETY: a static of the C glue, alive as long as the module, of
    // `MAX_REGIONS` `u64`s (the layout test compares its size), accessed
    // only atomically: here, and with `READ_ONCE()` by the fast paths.
    unsafe { &crate::glue::world_storage_handles_v1 }
}

/// A region taken out of the table, no longer found by lookups.
///
/// Dropping it frees the region: its owner first waits for a grace period,
/// drains its references and objects (see `Service::retire` in
/// service.rs). Its slot stays reserved until `RegionTable::release_slot`.
pub(crate) struct Unpublished(KBox<Region>);

impl core::ops::Deref for Unpublished {
    type Target = Region;

    fn deref(&self) -> &Region {
        &self.0
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_region_slots)]
mod tests {
    use super::*;
    use crate::object_layout::TYPE_SIMPLE;

    fn props() -> Result<RegionProps> {
        Ok(RegionProps {
            layout: ObjectLayout::new(TYPE_SIMPLE, 8, 8)?,
            constructor: None,
            destructor: None,
            arg: ptr::null_mut(),
            owner: ptr::null_mut(),
        })
    }

    /// The lowest free slot is taken; a retiring slot is not reused until
    /// released, and then with the next generation, so the old handle never
    /// names the new region.
    #[test]
    fn slots_and_generations_are_reused() -> Result {
        let table = KBox::pin_init(RegionTable::new()?, GFP_KERNEL)?;
        let mut state = table.lock();
        let a = table.publish(&mut state, props()?)?;
        let b = table.publish(&mut state, props()?)?;
        assert_eq!((a.slot(), a.encode() >> 32), (0, 1));
        assert_eq!((b.slot(), b.encode() >> 32), (1, 1));
        assert_eq!(table.slots_in_use(), 2);

        let retired = table.unpublish(&mut state, a.encode())?;
        assert_eq!(retired.handle(), a);
        assert!(table.get_locked(&state, a.encode()).is_err());
        assert_eq!(table.unpublish(&mut state, a.encode()).err(), Some(EINVAL));
        let c = table.publish(&mut state, props()?)?;
        assert_eq!((c.slot(), c.encode() >> 32), (2, 1));

        drop(retired);
        table.release_slot(&mut state, a.slot());
        let d = table.publish(&mut state, props()?)?;
        assert_eq!((d.slot(), d.encode() >> 32), (0, 2));
        assert!(table.get_locked(&state, a.encode()).is_err());
        assert_eq!(table.get_locked(&state, d.encode())?.handle(), d);
        assert_eq!(table.slots_in_use(), 3);

        for h in [b, c, d] {
            drop(table.unpublish(&mut state, h.encode())?);
        }
        assert!(!table.any_live());
        Ok(())
    }
}
