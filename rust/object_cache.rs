// SPDX-License-Identifier: GPL-2.0

//! [`ObjectCache`]: a kmem cache holding one region's objects.

use crate::object_layout::ObjectLayout;
use core::ptr::NonNull;
use kernel::{bindings, ffi::c_void, prelude::*, str::CString};

/// Where an allocation happens, which decides how it may wait for memory.
/// Every allocation is accounted (`__GFP_ACCOUNT`): charged to a memory
/// cgroup, within its `memory.max`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AllocContext {
    /// The hook of a new task (the `task_newtask` tracepoint), which must
    /// not sleep: in 7.3 only a faultable (syscall) tracepoint promises its
    /// probes a context that may sleep, and `task_newtask` is not one (its
    /// probes run under SRCU-fast; ours holds `rcu_read_lock()` too).
    /// `GFP_NOWAIT` neither sleeps nor reclaims and, unlike `GFP_ATOMIC`,
    /// has no `__GFP_HIGH`, with which the memory cgroup charge would be
    /// forced past `memory.max` (`try_charge_memcg()`); it warns of no
    /// failure (its `__GFP_NOWARN`): the hook kills the new task instead, as
    /// for a constructor failure. Charged to the memory cgroup of the
    /// forking task, `current` at the hook, as the kernel's own per-task
    /// allocations are.
    NewTask,
    /// Process context that may sleep: Create's scan, which makes each
    /// task's cgroup current's active one while it allocates for the task
    /// (`crate::memcg::ChargeToTask`).
    Sleepable,
}

impl AllocContext {
    /// The allocation flags for C allocators.
    pub(crate) fn gfp(self) -> bindings::gfp_t {
        match self {
            // `__GFP_ACCOUNT`, which bindgen does not export by itself.
            Self::NewTask => {
                bindings::GFP_NOWAIT | (bindings::GFP_KERNEL_ACCOUNT & !bindings::GFP_KERNEL)
            }
            Self::Sleepable => bindings::GFP_KERNEL_ACCOUNT,
        }
    }
}

/// A kmem cache of objects of one [`ObjectLayout`]: exactly `size` bytes
/// (rounded up to `align` by the slab allocator), every object at an
/// address that is a multiple of `align`.
///
/// # Invariants
///
/// `cache` was returned by `kmem_cache_create()` with `name` and is
/// destroyed exactly once, in `drop`. `name` outlives it.
pub(crate) struct ObjectCache {
    /// Immutable.
    cache: NonNull<bindings::kmem_cache>,
    /// Immutable: every object is handed out zero-filled.
    zeroed: bool,
    /// Immutable: the bytes of each object (at least).
    size: usize,
    /// Immutable: the cache's name, which the slab allocator may refer to.
    _name: CString,
}

// SAFETY: a kmem cache may be used from any thread and in any context that
// its allocation flags allow.
unsafe impl Send for ObjectCache {}
// SAFETY: `&ObjectCache` only allocates from and frees to the kmem cache,
// and every kmem cache operation may run on several CPUs at once.
unsafe impl Sync for ObjectCache {}

impl ObjectCache {
    /// Creates the cache. `zeroed`: every object is handed out zero-filled.
    pub(crate) fn new(name: CString, layout: ObjectLayout, zeroed: bool) -> Result<Self> {
        let mut args = bindings::kmem_cache_args {
            align: layout.align(),
            ..Default::default()
        };
        // SAFETY: `name` is NUL-terminated and kept alive in `Self` for the
        // cache's lifetime; `args` is valid for the call.
        let cache = unsafe {
            bindings::__kmem_cache_create_args(name.as_char_ptr(), layout.size(), &mut args, 0)
        };
        let cache = NonNull::new(cache).ok_or(ENOMEM)?;
        // INVARIANT: `cache` was just created with `name`.
        Ok(Self {
            cache,
            zeroed,
            size: layout.size() as usize,
            _name: name,
        })
    }

    /// The bytes of each object (at least).
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The kmem cache, for C allocators.
    pub(crate) fn as_raw(&self) -> *mut bindings::kmem_cache {
        self.cache.as_ptr()
    }

    /// One object, or `None` when memory is short.
    pub(crate) fn alloc(&self, context: AllocContext) -> Option<NonNull<u8>> {
        let mut gfp = context.gfp();
        if self.zeroed {
            gfp |= bindings::__GFP_ZERO;
        }
        // SAFETY: `self.cache` is a live cache by the type invariant.
        let p = unsafe { bindings::kmem_cache_alloc_noprof(self.cache.as_ptr(), gfp) };
        NonNull::new(p.cast())
    }

    /// Returns an object to the cache.
    ///
    /// # Safety
    ///
    /// `object` came from [`ObjectCache::alloc`] on this cache and is not
    /// used after this call.
    pub(crate) unsafe fn free(&self, object: NonNull<u8>) {
        // SAFETY: by the caller's contract `object` belongs to this live cache.
        unsafe { bindings::kmem_cache_free(self.cache.as_ptr(), object.as_ptr().cast::<c_void>()) };
    }
}

impl Drop for ObjectCache {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the cache is live and destroyed only
        // here; its owner frees every object before dropping it.
        unsafe { bindings::kmem_cache_destroy(self.cache.as_ptr()) };
    }
}
