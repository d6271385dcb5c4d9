// SPDX-License-Identifier: GPL-2.0

//! [`DestroyingRegions`]: the regions whose Destroy is under way, so that
//! debugfs shows what a waiting Destroy waits for, and an owner's unload
//! waits for another module's Destroy of its regions.

use super::Region;
use crate::handle::MAX_REGIONS;
use core::ptr::{self, NonNull};
use kernel::{
    bindings, new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, Mutex, MutexGuard},
};

/// A region in the list.
///
/// # Invariants
///
/// Points at a region that lives as long as it is in the list:
/// [`DestroyingRegions::listed`] takes it out, under the list's lock, before
/// it returns, and its caller's borrow of the region outlives that call.
struct Listed(NonNull<Region>);

// SAFETY: a `Region` is `Sync`; the list only gives out shared references to
// it, under its lock.
unsafe impl Send for Listed {}

/// The regions being destroyed: each from the moment it leaves the region
/// table (listed before the table's lock is dropped) until its objects are
/// swept and freed, so until no destructor of it runs any more (also when a
/// failing Create or an owner's unload destroys it).
#[pin_data]
pub(crate) struct DestroyingRegions {
    /// The regions, in no order. Changed and read only under the lock (a
    /// Destroy, debugfs readers, an owner's unload); room for
    /// [`MAX_REGIONS`] from the start, since a region being destroyed keeps
    /// its slot. Taken inside the region table's lock, never the other way.
    #[pin]
    regions: Mutex<KVec<Listed>>,
    /// Notified, with `regions` locked, each time a region leaves the list.
    #[pin]
    left: CondVar,
}

impl DestroyingRegions {
    /// An empty list, with room for every slot.
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        let regions = KVec::with_capacity(MAX_REGIONS, GFP_KERNEL)?;
        Ok(try_pin_init!(Self {
            regions <- new_mutex!(regions),
            left <- new_condvar!("DestroyingRegions::left"),
        }))
    }

    /// Runs `f` with `region` in the list. There is always room: every
    /// listed region keeps its slot until it leaves, and the list has room
    /// for every slot. (Were there none, `f` would run with the region left
    /// out, and the waits below would not wait for it.)
    pub(crate) fn listed<R>(&self, region: &Region, f: impl FnOnce() -> R) -> R {
        // INVARIANT: taken out below, before `region`'s borrow ends.
        let listed = self
            .regions
            .lock()
            .push_within_capacity(Listed(NonNull::from(region)))
            .is_ok();
        let result = f();
        if listed {
            let mut regions = self.regions.lock();
            regions.retain(|r| !ptr::eq(r.0.as_ptr(), region));
            self.left.notify_all();
        }
        result
    }

    /// Waits until no region of `module` is in the list: its unload must
    /// not free the text of a destructor that another module's Destroy,
    /// or an exit racing it, may still call.
    pub(crate) fn wait_for_owner(&self, module: *mut bindings::module) {
        self.wait_while_any(|r| r.is_owned_by(module));
    }

    /// Waits until the region of `handle` (encoded) is not in the list: a
    /// second Destroy of a region returns only when the first has
    /// destructed and freed every object, so that its caller may then free
    /// what the destructor uses.
    pub(crate) fn wait_for_handle(&self, handle: u64) {
        self.wait_while_any(|r| r.handle().encode() == handle);
    }

    /// Waits until no listed region matches `listed`.
    fn wait_while_any(&self, listed: impl Fn(&Region) -> bool) {
        let mut regions = self.regions.lock();
        while regions.iter().any(|r| {
            // SAFETY: a listed region lives while it is in the list (type
            // invariant of `Listed`), and the lock is held.
            listed(unsafe { r.0.as_ref() })
        }) {
            self.left.wait(&mut regions);
        }
    }

    /// The regions in the list, while the returned guard is held.
    pub(crate) fn lock(&self) -> DestroyingGuard<'_> {
        DestroyingGuard(self.regions.lock())
    }
}

/// The list of regions being destroyed, locked: none leaves it meanwhile.
pub(crate) struct DestroyingGuard<'a>(MutexGuard<'a, KVec<Listed>>);

impl DestroyingGuard<'_> {
    /// Every region in the list.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Region> {
        self.0.iter().map(|r| {
            // SAFETY: a listed region lives while it is in the list (type
            // invariant of `Listed`), which it does not leave while the
            // lock, held by `self`, is.
            unsafe { r.0.as_ref() }
        })
    }
}
