// SPDX-License-Identifier: GPL-2.0

//! [`RegionSlots`]: the region published at each slot. Lookups read it
//! under RCU without a lock; Create, Destroy and owner unload change it
//! under its lock ([`LockedSlots`]). A region taken out is an
//! [`Unpublished`], freed only after a grace period.

use super::Region;
use crate::handle::{RegionHandle, HANDLE_INVALID, MAX_REGIONS};
// `core`'s atomics, not `kernel::sync::atomic`: every lookup loads a published
// slot; C's fast path reads the handles (see "Atomics" in
// Documentation/world-storage.rst).
use core::{
    ops::Deref,
    pin::Pin,
    ptr,
    sync::atomic::{AtomicPtr, AtomicU64, Ordering},
};
use kernel::{
    bindings,
    ffi::c_ulong,
    new_mutex,
    prelude::*,
    sync::{rcu, Mutex, MutexGuard},
};

/// What the slots' lock holds besides the right to change them.
struct SlotHistory {
    /// Generation of the region now or last in each slot (0: never used).
    generations: KVec<u32>,
    /// Slots whose region is unpublished but not yet retired: their objects
    /// may still sit in world records, so the slot is not reused until
    /// [`LockedSlots::release`].
    retiring: KVec<bool>,
}

/// The region published at each of the `MAX_REGIONS` slots.
///
/// # Invariants
///
/// - `published[i]` is null or comes from `KBox::into_raw` of a region
///   that this value owns, whose handle names slot `i`.
/// - A region leaves `published` only in [`LockedSlots::take`], as an
///   [`Unpublished`], which frees it only after a grace period that began
///   after it left.
/// - Only the holder of `lock` stores to `published` and `handles`.
#[pin_data]
pub(super) struct RegionSlots {
    /// The region published at each slot, or null. Stored (release) only
    /// under `lock`; loaded (acquire) under RCU, or under `lock`.
    published: KVec<AtomicPtr<Region>>,
    /// The handle of each slot's published region, or
    /// `WORLD_STORAGE_HANDLE_INVALID`: the C glue's exported
    /// `world_storage_handles_v3`, which the local lookup's fast path checks
    /// (a world's entry keeps its handle until Destroy sweeps it). Stored
    /// only under `lock`: a handle after its region is in `published`, the
    /// invalid handle before the region leaves it. Loaded anywhere, without
    /// a lock. One table per module writes it: the service's (or, in the
    /// KUnit module, its own copy, a test's).
    handles: &'static [AtomicU64; MAX_REGIONS],
    /// Serialises every change of the slots (Create, Destroy and owner
    /// unload, which may block) and holds their history.
    #[pin]
    lock: Mutex<SlotHistory>,
}

impl RegionSlots {
    /// Slots with no region, never used.
    pub(super) fn new() -> Result<impl PinInit<Self, Error>> {
        let mut published = KVec::with_capacity(MAX_REGIONS, GFP_KERNEL)?;
        let mut generations = KVec::with_capacity(MAX_REGIONS, GFP_KERNEL)?;
        let mut retiring = KVec::with_capacity(MAX_REGIONS, GFP_KERNEL)?;
        for _ in 0..MAX_REGIONS {
            published.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
            generations.push(0, GFP_KERNEL)?;
            retiring.push(false, GFP_KERNEL)?;
        }
        // INVARIANT: no region is published yet.
        Ok(try_pin_init!(Self {
            published,
            handles: exported_handles(),
            lock <- new_mutex!(SlotHistory {
                generations,
                retiring,
            }),
        }))
    }

    /// The region published at `slot`, valid while `guard` is held.
    pub(super) fn get<'a>(&self, slot: usize, _guard: &'a rcu::Guard) -> Option<&'a Region> {
        let p = self.published[slot].load(Ordering::Acquire);
        // SAFETY: a published region is freed only after it is taken out
        // and a grace period has passed (type invariant); `_guard` holds
        // that grace period off for the lifetime of the result.
        unsafe { p.as_ref() }
    }

    /// Whether a region is published at `slot` now (a hint: it may change
    /// at once).
    pub(super) fn is_published(&self, slot: usize) -> bool {
        !self.published[slot].load(Ordering::Relaxed).is_null()
    }

    /// Takes the lock: held across a whole Create or Destroy.
    pub(super) fn lock(&self) -> LockedSlots<'_> {
        // INVARIANT: `history` is the guard of `self.lock`.
        LockedSlots {
            slots: self,
            history: self.lock.lock(),
        }
    }
}

/// Test-only (the KUnit module; the product carries none of it): a point
/// inside Destroy's unpublication, between its two stores, where a test
/// has the local lookup's fast path look up the region being taken out,
/// to check that it fails from the moment Destroy starts.
#[cfg(world_storage_kunit)]
pub(crate) mod destroy_window {
    use crate::{glue::world_storage_lookup_local, handle::HANDLE_INVALID};
    use core::{
        ptr,
        sync::atomic::{AtomicI32, AtomicU64, Ordering},
    };

    /// What [`answer`] returns when the window was not reached.
    pub(crate) const NOT_REACHED: i32 = 1;

    /// The handle whose Destroy is watched, or `HANDLE_INVALID`.
    static WATCHED: AtomicU64 = AtomicU64::new(HANDLE_INVALID);
    /// The local lookup's answer inside the window: 0 (found), an errno,
    /// or `NOT_REACHED`.
    static ANSWER: AtomicI32 = AtomicI32::new(NOT_REACHED);

    /// Watches the next Destroy of `handle`, made by the caller's task.
    pub(crate) fn watch(handle: u64) {
        ANSWER.store(NOT_REACHED, Ordering::Relaxed);
        WATCHED.store(handle, Ordering::Relaxed);
    }

    /// What the local lookup answered inside the watched Destroy's window;
    /// stops watching.
    pub(crate) fn answer() -> i32 {
        WATCHED.store(HANDLE_INVALID, Ordering::Relaxed);
        ANSWER.load(Ordering::Relaxed)
    }

    /// Destroy of `handle` is inside its window.
    pub(super) fn reached(handle: u64) {
        if WATCHED.load(Ordering::Relaxed) != handle {
            return;
        }
        let mut object = ptr::null_mut();
        // SAFETY: `object` is valid for writes. (In the KUnit module no
        // service is exported: a miss of the fast path is `ENODEV`.)
        let ret = unsafe { world_storage_lookup_local(handle, &mut object) };
        ANSWER.store(ret, Ordering::Relaxed);
    }
}

/// The C glue's `world_storage_handles_v3`.
fn exported_handles() -> &'static [AtomicU64; MAX_REGIONS] {
    // SAFETY: a static of the C glue, alive as long as the module, of
    // `MAX_REGIONS` `u64`s (the layout test compares its size), accessed
    // only atomically: here, and with `READ_ONCE()` by the fast paths.
    unsafe { &crate::glue::world_storage_handles_v3 }
}

/// The slots with their lock held: the only way to change them.
///
/// # Invariants
///
/// `history` is the guard of `slots.lock`.
#[must_use = "the lock is released when this is dropped"]
pub(super) struct LockedSlots<'a> {
    slots: &'a RegionSlots,
    history: MutexGuard<'a, SlotHistory>,
}

impl LockedSlots<'_> {
    /// The region published at `slot`, valid while the lock is held.
    pub(super) fn get(&self, slot: usize) -> Option<&Region> {
        let p = self.slots.published[slot].load(Ordering::Relaxed);
        // SAFETY: only the lock's holder takes a region out (type invariant
        // of `RegionSlots`): that is `self` (type invariant), through
        // `take`, which needs `&mut self`, so not while the result lives.
        unsafe { p.as_ref() }
    }

    /// Whether `slot` may take a new region: none is published there and
    /// its last one is retired.
    pub(super) fn is_free(&self, slot: usize) -> bool {
        !self.slots.is_published(slot) && !self.history.retiring[slot]
    }

    /// The generation of the region now or last at `slot` (0: never used).
    pub(super) fn generation(&self, slot: usize) -> u32 {
        self.history.generations[slot]
    }

    /// Publishes `region` at its handle's slot: lookups find it from now on.
    /// `EBUSY` (and `region` is dropped) if the slot is not free.
    pub(super) fn publish(&mut self, region: Pin<KBox<Region>>) -> Result {
        let handle = region.handle();
        let slot = handle.slot();
        if !self.is_free(slot) {
            return Err(EBUSY);
        }
        self.history.generations[slot] = handle.generation();
        // SAFETY: the region is not moved out of the box: `published` holds
        // it in place and `take` makes it a pinned box again.
        let region = unsafe { Pin::into_inner_unchecked(region) };
        // INVARIANT: from `KBox::into_raw`, at its handle's slot, under the
        // lock.
        self.slots.published[slot].store(KBox::into_raw(region), Ordering::Release);
        // After the region: the fast path never sees a handle whose region
        // the slow path does not know.
        self.slots.handles[slot].store(handle.encode(), Ordering::Release);
        Ok(())
    }

    /// Takes the region named by `handle` out: from now on lookups fail,
    /// the local lookup's fast path included. Its slot stays reserved until
    /// [`LockedSlots::release`].
    pub(super) fn take(&mut self, handle: RegionHandle) -> Option<Unpublished> {
        let slot = handle.slot();
        if self.get(slot)?.handle() != handle {
            return None;
        }
        // First the fast path's handle: it never finds an object of a region
        // the slow path no longer knows.
        self.slots.handles[slot].store(HANDLE_INVALID, Ordering::Relaxed);
        #[cfg(world_storage_kunit)]
        destroy_window::reached(handle.encode());
        let p = self.slots.published[slot].swap(ptr::null_mut(), Ordering::Release);
        self.history.retiring[slot] = true;
        // SAFETY: `p` came from `KBox::into_raw` (type invariant of
        // `RegionSlots`, `get` found it non-null) and is no longer
        // published, so this is its only owner.
        let region = unsafe { KBox::from_raw(p) };
        Some(Unpublished::new(KBox::into_pin(region)))
    }

    /// Lets a retired region's slot take a new region.
    pub(super) fn release(&mut self, slot: usize) {
        self.history.retiring[slot] = false;
    }
}

/// A region taken out of its slot, no longer found by lookups.
///
/// Dropping it frees the region once no reader can hold it: after a grace
/// period that began when it was taken out (its owner usually waited for
/// one already, and then this does not wait), after its remote references
/// drained (a [`super::RegionHold`] relies on that; its owner usually
/// drained them already) and after its objects are freed (the region's own
/// drop). Its owner first drains its references and sweeps its objects
/// (`Service::retire` in service.rs).
///
/// # Invariants
///
/// `rcu_cookie` is from `get_state_synchronize_rcu()`, called after the
/// region left its slot.
pub(crate) struct Unpublished {
    region: Pin<KBox<Region>>,
    rcu_cookie: c_ulong,
}

impl Unpublished {
    fn new(region: Pin<KBox<Region>>) -> Self {
        // SAFETY: no requirement; it orders the caller's removal of the
        // region before the grace period it names (a full barrier).
        let rcu_cookie = unsafe { bindings::get_state_synchronize_rcu() };
        // INVARIANT: the cookie is taken after the region was taken out.
        Self { region, rcu_cookie }
    }
}

impl Deref for Unpublished {
    type Target = Region;

    fn deref(&self) -> &Region {
        &self.region
    }
}

impl Drop for Unpublished {
    fn drop(&mut self) {
        // SAFETY: no requirement; it may sleep, as dropping a region may.
        unsafe { bindings::cond_synchronize_rcu(self.rcu_cookie) };
        // No reference is taken after that grace period: the count only
        // goes down now.
        self.region.remote_refs.wait_for_zero();
        // `region` is dropped after this.
    }
}
