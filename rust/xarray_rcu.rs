// SPDX-License-Identifier: GPL-2.0

//! [`RcuXArray`]: an XArray of raw pointers whose readers take no lock.
//!
//! The kernel crate's `XArray` owns its entries and loads under its lock;
//! world storage needs the C XArray's other mode: loads under RCU alone,
//! entries freed by their owners a grace period after they are erased.

use core::marker::PhantomData;
use kernel::{bindings, ffi::c_ulong, prelude::*, static_lock_class, sync::rcu, types::Opaque};

/// An XArray from `usize` to `*const T`.
///
/// # Invariants
///
/// - `xa` is initialised and destroyed on drop.
/// - Every entry points to a `T` that stays valid until a grace period after
///   it is erased: whoever erases an entry frees it with `call_rcu()` (or
///   later).
#[pin_data(PinnedDrop)]
pub(crate) struct RcuXArray<T> {
    #[pin]
    xa: Opaque<bindings::xarray>,
    _entries: PhantomData<*const T>,
}

// SAFETY: the XArray is thread-safe; entries are `T`s shared between
// threads, so `T` must be `Sync`.
unsafe impl<T: Sync> Send for RcuXArray<T> {}
// SAFETY: every operation through `&RcuXArray` is an XArray call, which is
// safe under its lock or RCU from any thread; the entries handed out are
// `&T`, shared between threads, so `T` must be `Sync`.
unsafe impl<T: Sync> Sync for RcuXArray<T> {}

impl<T> RcuXArray<T> {
    /// An empty XArray, whose lock is taken in process context only.
    pub(crate) fn new() -> impl PinInit<Self> {
        let name = c"world_storage_worlds";
        let class = static_lock_class!();
        pin_init!(Self {
            // SAFETY: `xa` points to the field being initialised in place;
            // `xa_init_flags()` initialises its lock, which nobody takes yet,
            // so it may be initialised again with its own lockdep class
            // (the inline `xa_init_flags()` would key every XArray of this
            // module the same); `name` and `class` are static.
            xa <- Opaque::ffi_init(move |xa: *mut bindings::xarray| unsafe {
                bindings::xa_init_flags(xa, 0);
                bindings::__spin_lock_init(
                    &raw mut (*xa).xa_lock,
                    name.as_char_ptr(),
                    class.as_ptr(),
                );
            }),
            _entries: PhantomData,
        })
    }

    /// The entry at `index`, valid while `guard` is held. A reserved index
    /// reads as empty.
    pub(crate) fn load<'a>(&self, index: usize, _guard: &'a rcu::Guard) -> Option<&'a T> {
        // SAFETY: `xa` is initialised; `xa_load()` is safe under RCU.
        let p = unsafe { bindings::xa_load(self.xa.get(), index as c_ulong) };
        // SAFETY: entries are `T`s, freed a grace period after they are
        // erased (type invariant); `_guard` holds this grace period.
        unsafe { p.cast::<T>().as_ref() }
    }

    /// The first entry at `*index` or above, valid while `guard` is held;
    /// `*index` is set to its index.
    pub(crate) fn find<'a>(&self, index: &mut usize, _guard: &'a rcu::Guard) -> Option<&'a T> {
        let mut i = *index as c_ulong;
        // SAFETY: `xa` is initialised; `xa_find()` is safe under RCU.
        let p =
            unsafe { bindings::xa_find(self.xa.get(), &mut i, c_ulong::MAX, bindings::XA_PRESENT) };
        *index = i as usize;
        // SAFETY: entries are `T`s, freed a grace period after they are
        // erased (type invariant); `_guard` holds this grace period.
        unsafe { p.cast::<T>().as_ref() }
    }

    /// Takes the lock.
    pub(crate) fn lock(&self) -> XaGuard<'_, T> {
        // SAFETY: `xa` is initialised.
        unsafe { bindings::xa_lock(self.xa.get()) };
        // INVARIANT: the lock is held.
        XaGuard { xa: self }
    }
}

#[pinned_drop]
impl<T> PinnedDrop for RcuXArray<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `xa` is initialised and no longer used (we are dropping);
        // it frees only the XArray's nodes (after a grace period), not the
        // entries, which their owners have freed.
        unsafe { bindings::xa_destroy(self.xa.get()) };
    }
}

/// The lock of an [`RcuXArray`], released on drop. Only its holder stores
/// or erases.
///
/// # Invariants
///
/// `xa`'s lock is held.
pub(crate) struct XaGuard<'a, T> {
    xa: &'a RcuXArray<T>,
}

impl<T> XaGuard<'_, T> {
    /// The entry at `index`; no one can erase it while the lock is held.
    pub(crate) fn load(&self, index: usize) -> Option<&T> {
        // SAFETY: the lock is held (type invariant).
        let p = unsafe { bindings::xa_load(self.xa.xa.get(), index as c_ulong) };
        // SAFETY: entries are valid `T`s until erased, and only the lock
        // holder erases.
        unsafe { p.cast::<T>().as_ref() }
    }

    /// Stores `entry` at `index`, returning the previous entry (null if
    /// none). Never sleeps (`GFP_ATOMIC`); `ENOMEM` if a node is needed and
    /// none can be had.
    pub(crate) fn store(&mut self, index: usize, entry: *const T) -> Result<*const T> {
        // SAFETY: the lock is held; with GFP_ATOMIC `__xa_store()` does not
        // drop it.
        let old = unsafe {
            bindings::__xa_store(
                self.xa.xa.get(),
                index as c_ulong,
                entry.cast_mut().cast(),
                bindings::GFP_ATOMIC,
            )
        };
        // SAFETY: `old` is an entry, null or an error entry.
        match unsafe { bindings::xa_err(old) } {
            0 => Ok(old.cast::<T>()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// Erases `index` (an entry or a reservation); returns the entry, which
    /// the caller now owns (null if there was none).
    pub(crate) fn erase(&mut self, index: usize) -> *const T {
        // SAFETY: the lock is held.
        unsafe { bindings::__xa_erase(self.xa.xa.get(), index as c_ulong) }.cast::<T>()
    }

    /// The first entry and its index.
    pub(crate) fn first(&self) -> Option<(usize, &T)> {
        let mut index: c_ulong = 0;
        // SAFETY: the lock is held (`xa_find()` also takes RCU itself).
        let p = unsafe {
            bindings::xa_find(
                self.xa.xa.get(),
                &mut index,
                c_ulong::MAX,
                bindings::XA_PRESENT,
            )
        };
        // SAFETY: entries are valid `T`s until erased, and only the lock
        // holder, which `self` is while borrowed, erases.
        unsafe { p.cast::<T>().as_ref() }.map(|e| (index as usize, e))
    }
}

impl<T> Drop for XaGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken in `RcuXArray::lock`.
        unsafe { bindings::xa_unlock(self.xa.xa.get()) };
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_xarray_rcu)]
mod tests {
    use super::*;

    /// Stores, loads under RCU and under the lock, finds and erases.
    #[test]
    fn store_load_find_erase() -> Result {
        let xa = KBox::pin_init(RcuXArray::<u64>::new(), GFP_KERNEL)?;
        let (a, b) = (KBox::new(10u64, GFP_KERNEL)?, KBox::new(20u64, GFP_KERNEL)?);
        let (pa, pb) = (&raw const *a, &raw const *b);
        {
            let mut locked = xa.lock();
            assert!(locked.store(5, pa)?.is_null());
            assert_eq!(locked.store(5, pb)?, pa);
            assert!(locked.store(700, pa)?.is_null());
            assert_eq!(locked.load(5).copied(), Some(20));
        }
        {
            let guard = rcu::read_lock();
            assert_eq!(xa.load(5, &guard).copied(), Some(20));
            assert_eq!(xa.load(6, &guard), None);
            let mut index = 6;
            assert_eq!(xa.find(&mut index, &guard).copied(), Some(10));
            assert_eq!(index, 700);
        }
        let mut locked = xa.lock();
        assert_eq!(locked.first().map(|(i, v)| (i, *v)), Some((5, 20)));
        assert_eq!(locked.erase(5), pb);
        assert!(locked.erase(5).is_null());
        assert_eq!(locked.first().map(|(i, v)| (i, *v)), Some((700, 10)));
        assert_eq!(locked.erase(700), pa);
        assert!(locked.first().is_none());
        Ok(())
    }
}
