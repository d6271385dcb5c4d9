// SPDX-License-Identifier: GPL-2.0

//! Regions: a per-world block of memory of one layout, with its callbacks.
//!
//! One concept per file:
//!
//! - `mod.rs` (here): [`Region`], what Create registered, and the counts
//!   that Destroy drains.
//! - `memory.rs`: [`ObjectMemory`], one object's memory from its region's
//!   cache, which keeps the region alive.
//! - `table.rs`: [`RegionTable`], which names the live regions by handle
//!   (slot and generation).
//! - `slots.rs`: the region published at each slot, read by lookups under
//!   RCU and changed under the table's lock, with the handles the local
//!   lookup's fast path checks; [`Unpublished`], a region taken out.
//! - `hold.rs`: [`RegionHold`], a region held against its Destroy outside
//!   RCU, as a remote reference holds it (a visit of its objects).
//! - `destroying.rs`: [`DestroyingRegions`], the regions whose Destroy is
//!   under way, from their unpublishing until every object is freed: for
//!   debugfs, an owner's unload and a second Destroy, which wait for them.

mod destroying;
mod hold;
mod memory;
mod slots;
mod table;

#[cfg(world_storage_kunit)]
pub(crate) use slots::destroy_window;
pub(crate) use {
    destroying::DestroyingRegions,
    hold::RegionHold,
    memory::ObjectMemory,
    slots::Unpublished,
    table::{LockedTable, RegionTable},
};

use crate::{
    drain::DrainCount, handle::RegionHandle, object_cache::ObjectCache,
    object_layout::ObjectLayout, percpu_count::PerCpuCount,
};
use core::{
    marker::PhantomPinned,
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
    str::CString,
    sync::atomic::{Atomic, Relaxed},
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
    /// The module whose text holds the callbacks (NULL: built-in code);
    /// only compared, never dereferenced.
    pub(crate) owner: *mut bindings::module,
    /// That module's name, `-` for built-in code, taken at Create.
    pub(crate) owner_name: CString,
}

#[cfg(world_storage_kunit)]
impl RegionProps {
    /// A region of `size`-byte objects at `align` with no callback, from
    /// built-in code, for tests.
    pub(crate) fn without_callbacks(size: u32, align: u32) -> Result<Self> {
        Ok(Self {
            layout: ObjectLayout::new(crate::object_layout::TYPE_SIMPLE, size, align)?,
            constructor: None,
            destructor: None,
            arg: core::ptr::null_mut(),
            owner: core::ptr::null_mut(),
            owner_name: CString::try_from(c"-")?,
        })
    }
}

/// One region: a per-world block of memory of one layout, with its
/// callbacks, its objects' cache and the counts that Destroy drains.
///
/// # Invariants
///
/// - The callbacks in `props` are callable for as long as the region
///   exists: the caller of Create promises it until Destroy, and the
///   owner-unload notifier destroys the region before the owner's text is
///   freed.
/// - A region is only ever made in a pinned box ([`Region::new`]) and is
///   `!Unpin`: it never moves, and its memory outlives its `drop`.
pub(crate) struct Region {
    /// Immutable.
    handle: RegionHandle,
    /// Immutable.
    props: RegionProps,
    /// Immutable. Every object is returned to it before the region is dropped
    /// (`drop` waits for `allocated` to drain).
    cache: ObjectCache,
    /// Objects allocated from `cache` and not yet freed: one count per
    /// [`ObjectMemory`], taken when it is allocated and dropped when it is
    /// freed, right after its destructor (no RCU callback: no reader
    /// touches an object it does not hold). The region is not dropped
    /// before it drains (`drop` waits for it).
    allocated: DrainCount,
    /// Objects constructed and not yet destructed: what worlds hold.
    /// `core`'s atomic, inline: every task creation and exit counts here
    /// once per region (see "Atomics" in Documentation/world-storage.rst).
    live_objects: AtomicUsize,
    /// Remote references not yet released (a LookUp's, and a visit's on
    /// the object its callback has), and visits in progress (each holds
    /// one count, a [`RegionHold`]), counted per CPU (a lookup and its
    /// Release write no line other CPUs write). Every count is taken under
    /// RCU, in a section that saw the region published; Destroy
    /// unpublishes, waits for a grace period (from then on it only goes
    /// down), then for its sum to drain. A count taken later could be
    /// missed by that sum (read CPU by CPU) while another is dropped.
    remote_refs: PerCpuCount,
    /// Constructor failures, in Create and at task creation.
    constructor_failures: Atomic<usize>,
    /// A region never moves: [`ObjectMemory`] points at it.
    _pin: PhantomPinned,
}

// SAFETY: the raw pointers in `props` (callbacks' argument, owner module) are
// only passed back to C or compared, never dereferenced here; the callbacks
// must be callable from any task by the API's contract; the rest is owned
// data that is `Send`.
unsafe impl Send for Region {}
// SAFETY: shared references only read `props` (its raw pointers are passed
// back to C or compared, the callbacks callable from any task by the API's
// contract) and the cache (thread-safe); all mutable state is atomic.
unsafe impl Sync for Region {}

impl Region {
    fn new(handle: RegionHandle, props: RegionProps) -> Result<Pin<KBox<Self>>> {
        // The KUnit module's regions are named apart: two caches of one name
        // are a warning under `CONFIG_DEBUG_VM`.
        let module = if cfg!(world_storage_kunit) {
            "world_storage_kunit"
        } else {
            "world_storage"
        };
        let name =
            CString::try_from_fmt(fmt!("{module}-{}-{}", handle.slot(), handle.generation()))?;
        let cache = ObjectCache::new(name, props.layout, props.constructor.is_none())?;
        let region = Region {
            handle,
            props,
            cache,
            allocated: DrainCount::new(),
            live_objects: AtomicUsize::new(0),
            remote_refs: PerCpuCount::new()?,
            constructor_failures: Atomic::new(0),
            _pin: PhantomPinned,
        };
        // INVARIANT: in a pinned box, never moved out of (`!Unpin`).
        Ok(KBox::pin(region, GFP_KERNEL)?)
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
        &self.props.owner_name
    }

    /// Whether `module` registered it.
    pub(crate) fn is_owned_by(&self, module: *mut bindings::module) -> bool {
        core::ptr::eq(self.props.owner, module)
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

    /// An object was constructed.
    pub(crate) fn object_constructed(&self) {
        self.live_objects.fetch_add(1, Ordering::Relaxed);
    }

    /// An object was destructed; it is freed right after.
    pub(crate) fn object_destructed(&self) {
        self.live_objects.fetch_sub(1, Ordering::Relaxed);
    }

    /// A lookup takes a reference to one of its objects. Only under RCU,
    /// in a section that saw the region published (see `remote_refs`).
    pub(crate) fn remote_ref_taken(&self) {
        self.remote_refs.inc();
    }

    /// A remote reference (a lookup's, a visit's or a visit's hold) was
    /// released.
    pub(crate) fn remote_ref_dropped(&self) {
        self.remote_refs.dec();
    }

    /// Objects constructed and not yet destructed.
    pub(crate) fn live_objects(&self) -> usize {
        self.live_objects.load(Ordering::Relaxed)
    }

    /// Remote references not yet released, visits' included (exact once the
    /// region is unpublished and a grace period passed, a close figure
    /// before).
    pub(crate) fn remote_refs(&self) -> usize {
        self.remote_refs.sum().max(0) as usize
    }

    /// Constructor failures so far.
    pub(crate) fn constructor_failures(&self) -> usize {
        self.constructor_failures.load(Relaxed)
    }

    /// Sleeps until every remote reference is released (after
    /// the region was unpublished and a grace period passed). If that takes
    /// longer than `report_after_ms`, calls `report` once, with the number
    /// of references left, and goes on waiting.
    pub(crate) fn wait_for_remote_refs(&self, report_after_ms: u32, report: impl FnOnce(usize)) {
        if self.remote_refs.wait_for_zero_timeout(report_after_ms) {
            return;
        }
        let left = self.remote_refs();
        // Not if the last one went since the time ran out.
        if left != 0 {
            report(left);
        }
        self.remote_refs.wait_for_zero();
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

impl Region {
    /// Waits until every object is back in the cache. Each object is freed
    /// right after its destructor returned, so from then on no destructor
    /// of this region runs. Its owner has made sure no object is left to
    /// free by then (Destroy's sweep), so this waits at most for destructors
    /// that exits and teardowns run on objects they claimed.
    pub(crate) fn wait_until_freed(&self) {
        self.allocated.wait_for_zero();
    }
}

impl Drop for Region {
    /// Waits until every object is back in the cache: an [`ObjectMemory`]
    /// relies on it (see [`Region::wait_until_freed`]).
    fn drop(&mut self) {
        self.wait_until_freed();
    }
}
