// SPDX-License-Identifier: GPL-2.0

//! [`RcuBox`]: a pinned heap value that readers under RCU may still see
//! after its owner gives it up, so it is freed a grace period later.
//!
//! The owner makes it ([`RcuBox::pin_init`]), may publish a pointer to it
//! (an XArray entry, a record's entry) and hand ownership to a protocol
//! ([`RcuBox::into_raw`]); whoever the protocol makes the owner again takes
//! it back ([`RcuBox::from_raw`]) and, once no new reader can find it,
//! retires it ([`RcuBox::retire`]): `call_rcu()`, then the value is
//! dropped and freed. A box dropped is freed at once: only a box never
//! seen by a reader may be.

use crate::{
    glue::{ws_block_alloc, ws_block_free},
    object_cache::ObjectCache,
};
use core::{
    mem::ManuallyDrop,
    ops::Deref,
    ptr::NonNull,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{bindings, prelude::*, sync::rcu};

/// A type an [`RcuBox`] frees after a grace period, through one of its
/// fields. A retired value is dropped in RCU callback context (softirq or
/// a kthread): its drop must not sleep.
///
/// # Safety
///
/// `RCU_HEAD` is the offset of a field of type
/// `Opaque<bindings::callback_head>` that only [`RcuBox::retire`] uses.
pub(crate) unsafe trait RcuFreed: Sized + Send {
    /// `core::mem::offset_of!` the `callback_head` field.
    const RCU_HEAD: usize;
}

/// The memory of a box after its value (its tail), zero-filled, handed to
/// the value's initialiser: it lives exactly as long as the value, which
/// may keep other data there (a world record keeps its first entry array
/// there).
///
/// # Invariants
///
/// `start..start + len` is zero-filled memory of one box, right after its
/// value, aligned to 8 bytes, and freed with the box.
#[derive(Clone, Copy)]
pub(crate) struct Tail {
    start: NonNull<u8>,
    len: usize,
}

impl Tail {
    /// The address `offset` bytes into the tail, if `size` bytes fit there.
    pub(crate) fn at(self, offset: usize, size: usize) -> Option<NonNull<u8>> {
        if offset.checked_add(size)? > self.len {
            return None;
        }
        // In bounds (checked above) of the box's allocation.
        NonNull::new(self.start.as_ptr().wrapping_add(offset))
    }
}

/// An owned, pinned `T` on the heap, maybe followed by a [`Tail`].
///
/// # Invariants
///
/// `ptr` points at an initialised `T` at the start of a block from
/// `ws_block_alloc` that this value owns; no `&mut T` is handed out, so
/// `*ptr` never moves. The block is freed (`ws_block_free`) only after the
/// value is dropped in place.
#[must_use = "a box dropped is freed at once; a published one is retired"]
pub(crate) struct RcuBox<T: RcuFreed> {
    ptr: NonNull<T>,
}

// SAFETY: an `RcuBox<T>` owns its `T` like a `KBox<T>`, which is `Send` for
// `T: Send` (required by `RcuFreed`).
unsafe impl<T: RcuFreed> Send for RcuBox<T> {}
// SAFETY: it gives out only `&T`, which may cross threads if `T: Sync`.
unsafe impl<T: RcuFreed + Sync> Sync for RcuBox<T> {}

impl<T: RcuFreed> RcuBox<T> {
    /// A new box, initialised in place.
    pub(crate) fn pin_init<E>(init: impl PinInit<T, E>, gfp: bindings::gfp_t) -> Result<Self>
    where
        Error: From<E>,
    {
        Self::pin_init_with_tail(core::mem::size_of::<T>(), None, gfp, |_| Ok(init))
    }

    /// A new box of `size` bytes (the value, then its tail), from `cache`
    /// or kmalloc, initialised in place by what `init` returns for the
    /// tail. `EINVAL` if `size` does not hold a `T`, or `cache`'s objects
    /// are smaller.
    pub(crate) fn pin_init_with_tail<I, E>(
        size: usize,
        cache: Option<&ObjectCache>,
        gfp: bindings::gfp_t,
        init: impl FnOnce(Tail) -> Result<I>,
    ) -> Result<Self>
    where
        I: PinInit<T, E>,
        Error: From<E>,
    {
        const {
            assert!(core::mem::align_of::<T>() <= 8 && core::mem::size_of::<T>() % 8 == 0);
        }
        let len = size.checked_sub(core::mem::size_of::<T>()).ok_or(EINVAL)?;
        if cache.is_some_and(|cache| cache.size() < size) {
            return Err(EINVAL);
        }
        let cache = cache.map_or(core::ptr::null_mut(), ObjectCache::as_raw);
        // SAFETY: no requirement; `cache`, if not null, is a live cache whose
        // objects hold `size` bytes (checked above).
        let block = unsafe { ws_block_alloc(cache, size, gfp) };
        let ptr = NonNull::new(block.cast::<T>()).ok_or(ENOMEM)?;
        // INVARIANT: the rest of the block, zero-filled; slab objects and
        // kmalloc are aligned to 8 bytes at least, and so is `T`'s size.
        let tail = Tail {
            start: NonNull::new(block.cast::<u8>().wrapping_add(core::mem::size_of::<T>()))
                .ok_or(EINVAL)?,
            len,
        };
        let made = init(tail).and_then(|init| {
            // SAFETY: `ptr` is fresh memory for a `T`, aligned (above), which
            // is pinned from now on: it is freed in place, never moved.
            unsafe { init.__init(ptr.as_ptr()) }.map_err(Error::from)
        });
        if let Err(e) = made {
            // SAFETY: the block is ours, its value not initialised.
            unsafe { ws_block_free(block) };
            return Err(e);
        }
        // INVARIANT: an initialised `T` at the start of our block.
        Ok(Self { ptr })
    }

    /// The value's address, e.g. to publish it while still owning it.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// Gives up ownership to a protocol that [`RcuBox::from_raw`] ends.
    #[must_use = "the value is no longer freed unless `from_raw` takes it back"]
    pub(crate) fn into_raw(this: Self) -> NonNull<T> {
        ManuallyDrop::new(this).ptr
    }

    /// Takes back ownership of a value from [`RcuBox::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` comes from [`RcuBox::into_raw`] and the caller now owns it
    /// (no one else takes it back). If a reader may still see it, the box
    /// is retired, not dropped.
    pub(crate) unsafe fn from_raw(ptr: NonNull<T>) -> Self {
        // INVARIANT: by the contract, from `into_raw`, whose box came from
        // `KBox::into_raw`, and owned by the caller.
        Self { ptr }
    }

    /// Frees the value after a grace period: readers under RCU that
    /// found it before this call may use it until then.
    ///
    /// A plain `call_rcu()`, lazy where the kernel has `RCU_LAZY` and the
    /// CPU is offloaded (its grace period may start 10 s later): cheap for
    /// the exit path. Nothing may just wait for such a free: whoever must
    /// (module unload) calls `rcu_barrier()`, which flushes lazy callbacks
    /// and waits for them without that delay.
    pub(crate) fn retire(this: Self) {
        let head = this
            .as_ptr()
            .wrapping_byte_add(T::RCU_HEAD)
            .cast::<bindings::callback_head>();
        let _ = Self::into_raw(this);
        // SAFETY: `head` is the value's `callback_head` field (`RcuFreed`),
        // used by nothing else, in a box we owned and now hand to
        // `free_rcu`, which runs once, after the grace period.
        unsafe { bindings::call_rcu(head, Some(free_rcu::<T>)) };
    }
}

impl<T: RcuFreed> Deref for RcuBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `ptr` is an owned, initialised box (type invariant),
        // alive while `self` is.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: RcuFreed> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is an initialised `T` at the start of a block we own
        // (type invariant), dropped once, here, in place, then freed.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            ws_block_free(self.ptr.as_ptr().cast());
        }
    }
}

/// A published [`RcuBox`] or none, that readers under RCU load and whose
/// owner replaces it, retiring the old one.
///
/// # Invariants
///
/// `ptr` is null or comes from [`RcuBox::into_raw`] of a box this value
/// owns; a box it held before is retired when it is replaced.
pub(crate) struct RcuPointer<T: RcuFreed> {
    /// Stored (release) by `replace`, whose callers serialise it; loaded
    /// (acquire) under RCU.
    ptr: AtomicPtr<T>,
}

impl<T: RcuFreed + Sync> RcuPointer<T> {
    /// None published.
    pub(crate) const fn new() -> Self {
        // INVARIANT: null.
        Self {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The value published now, valid while `_guard` is held.
    pub(crate) fn get<'a>(&self, _guard: &'a rcu::Guard) -> Option<&'a T> {
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: null or a box we own (type invariant), retired (so freed
        // a grace period later, which `_guard` holds off) only after it is
        // replaced here.
        unsafe { ptr.as_ref() }
    }

    /// Publishes `value` instead of the value published now, which is
    /// retired. Callers serialise their calls (a lock of theirs).
    pub(crate) fn replace(&self, value: Option<RcuBox<T>>) {
        let new = value.map_or(core::ptr::null_mut(), |v| RcuBox::into_raw(v).as_ptr());
        // INVARIANT: `new` is null or a box given up to us.
        let old = self.ptr.swap(new, Ordering::AcqRel);
        if let Some(old) = NonNull::new(old) {
            // SAFETY: a box we owned (type invariant), no longer published.
            RcuBox::retire(unsafe { RcuBox::from_raw(old) });
        }
    }
}

impl<T: RcuFreed> Drop for RcuPointer<T> {
    fn drop(&mut self) {
        if let Some(last) = NonNull::new(*self.ptr.get_mut()) {
            // SAFETY: a box we own (type invariant); dropped with its owner,
            // when no reader can reach it any more.
            drop(unsafe { RcuBox::from_raw(last) });
        }
    }
}

/// The RCU callback of [`RcuBox::retire`].
///
/// # Safety
///
/// `head` is the `callback_head` field of a `T` in a box given up by
/// [`RcuBox::retire`], passed to `call_rcu()` once.
unsafe extern "C" fn free_rcu<T: RcuFreed>(head: *mut bindings::callback_head) {
    let value = head.wrapping_byte_sub(T::RCU_HEAD).cast::<T>();
    // SAFETY: by the contract `value` is the retired box's `T`, which is
    // not null (it holds `head`) and which this callback now owns: it came
    // from `RcuBox::into_raw`.
    let value = unsafe { RcuBox::from_raw(NonNull::new_unchecked(value)) };
    drop(value);
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_rcu_box)]
mod tests {
    use super::*;
    use crate::object_layout::{ObjectLayout, TYPE_SIMPLE};
    use core::sync::atomic::{AtomicUsize, Ordering};
    use kernel::{str::CString, sync::rcu, types::Opaque};

    /// A value that counts its drops.
    struct Counted {
        drops: &'static AtomicUsize,
        rcu: Opaque<bindings::callback_head>,
    }

    impl Counted {
        fn new(drops: &'static AtomicUsize) -> Self {
            Self {
                drops,
                rcu: Opaque::uninit(),
            }
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::Relaxed);
        }
    }

    // SAFETY: `drops` is a shared atomic; `rcu` is used only by
    // `RcuBox::retire`, by whoever owns the value.
    unsafe impl Send for Counted {}

    // SAFETY: `rcu` is an `Opaque<bindings::callback_head>` field that
    // nothing but `RcuBox::retire` uses.
    unsafe impl RcuFreed for Counted {
        const RCU_HEAD: usize = core::mem::offset_of!(Counted, rcu);
    }

    /// Waits until every RCU callback queued so far has run.
    fn rcu_barrier() {
        // SAFETY: no requirement; may sleep, which a test may.
        unsafe { bindings::rcu_barrier() };
    }

    /// A box takes no more of its cache's object than the object holds, and
    /// its tail starts zero-filled right after the value, as long as the
    /// box's size says.
    #[test]
    fn tail_is_zero_filled_and_within_the_cache_object() -> Result {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let cache = ObjectCache::new(
            CString::try_from_fmt(fmt!("world_storage_kunit-rcu-box"))?,
            ObjectLayout::new(TYPE_SIMPLE, 64, 8)?,
            true,
        )?;
        let gfp = bindings::GFP_KERNEL;
        let too_big =
            RcuBox::pin_init_with_tail(65, Some(&cache), gfp, |_| Ok(Counted::new(&DROPS)));
        assert!(matches!(too_big, Err(e) if e == EINVAL));
        let mut zeros = 0;
        let boxed = RcuBox::pin_init_with_tail(64, Some(&cache), gfp, |tail| {
            assert!(tail.at(0, 41).is_none());
            let start = tail.at(0, 40).ok_or(EINVAL)?;
            // SAFETY: the tail's 40 bytes, initialised (zero-filled), not
            // yet shared.
            let bytes = unsafe { core::slice::from_raw_parts(start.as_ptr(), 40) };
            zeros = bytes.iter().filter(|&&b| b == 0).count();
            Ok(Counted::new(&DROPS))
        })?;
        assert_eq!(zeros, 40);
        drop(boxed);
        assert_eq!(DROPS.load(Ordering::Relaxed), 1);
        Ok(())
    }

    /// A box that was never shared is dropped at once.
    #[test]
    fn drop_frees_at_once() -> Result {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let boxed = RcuBox::pin_init(Counted::new(&DROPS), bindings::GFP_KERNEL)?;
        assert_eq!(DROPS.load(Ordering::Relaxed), 0);
        drop(boxed);
        assert_eq!(DROPS.load(Ordering::Relaxed), 1);
        Ok(())
    }

    /// Ownership given up and taken back is the same value, not dropped
    /// in between.
    #[test]
    fn into_raw_and_back_is_the_same_value() -> Result {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let boxed = RcuBox::pin_init(Counted::new(&DROPS), bindings::GFP_KERNEL)?;
        let address = boxed.as_ptr();
        let raw = RcuBox::into_raw(boxed);
        assert_eq!(raw.as_ptr(), address);
        assert_eq!(DROPS.load(Ordering::Relaxed), 0);
        // SAFETY: from `into_raw` just above, taken back once.
        let boxed = unsafe { RcuBox::from_raw(raw) };
        assert_eq!(boxed.as_ptr(), address);
        drop(boxed);
        assert_eq!(DROPS.load(Ordering::Relaxed), 1);
        Ok(())
    }

    /// A retired value is dropped only after a grace period: not while a
    /// reader that was there before the retirement is still reading, and
    /// once after that.
    #[test]
    fn retire_frees_after_a_grace_period() -> Result {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let boxed = RcuBox::pin_init(Counted::new(&DROPS), bindings::GFP_KERNEL)?;
        let reader = rcu::read_lock();
        RcuBox::retire(boxed);
        assert_eq!(DROPS.load(Ordering::Relaxed), 0);
        drop(reader);
        rcu_barrier();
        assert_eq!(DROPS.load(Ordering::Relaxed), 1);
        Ok(())
    }
}
