// SPDX-License-Identifier: GPL-2.0

//! World storage for Rust modules: a safe, typed API over the C ABI of
//! `world_storage.ko` (`include/world_storage.h`).
//!
//! A loadable module cannot link against another module's crate, so this
//! file is compiled into each client module: link it into the client's
//! directory (`ln -s <world storage>/include/world_storage.rs .`) and
//! declare
//!
//! ```ignore
//! mod world_storage;
//! ```
//!
//! (this tree's own clients use `#[path = "<relative path to
//! include/world_storage.rs>"]`). The module is built with
//! `KBUILD_EXTRA_SYMBOLS` pointing at world_storage's `Module.symvers`: see
//! "Building a client" in `Documentation/world-storage.rst`.
//!
//! # Examples
//!
//! ```ignore
//! use core::sync::atomic::{AtomicU64, Ordering};
//! use world_storage::{Pid, WorldObject, WorldStorage};
//!
//! struct Switches(AtomicU64);
//!
//! impl WorldObject for Switches {
//!     fn init(_wid: Pid) -> impl PinInit<Self, Error> {
//!         Ok::<_, Error>(Switches(AtomicU64::new(0)))
//!     }
//! }
//!
//! let storage = WorldStorage::<Switches>::new(&THIS_MODULE)?;
//! storage.local()?.0.fetch_add(1, Ordering::Relaxed);
//! let other = storage.get(1)?; // init's object, until `other` is dropped
//! pr_info!("init switched {} times\n", other.0.load(Ordering::Relaxed));
//! drop(other); // before `storage`: a `Ref` borrows its region
//! ```
#![allow(dead_code, reason = "a client uses only the part of the API it needs")]

use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    ops::Deref,
    ptr::NonNull,
};
use kernel::{bindings, prelude::*, sync::Arc, task::Task, ThisModule};
use pin_init::PinInit;

/// A world's ID: the global TID of its task.
pub(crate) type Pid = bindings::pid_t;

/// The C ABI. `world_storage.ko`'s own crate compiles this file too and
/// takes [`ffi::Props`] from it: the one Rust mirror of the structure, which
/// its layout test checks against C.
pub(crate) mod ffi {
    use super::*;

    /// `struct world_storage_props` of `include/world_storage.h`.
    #[repr(C)]
    pub(crate) struct Props {
        /// `type`: 0, the only region type.
        pub(crate) kind: u32,
        /// `struct module *`.
        pub(crate) owner: *mut c_void,
        /// Bytes per object.
        pub(crate) size: u32,
        /// Alignment of every object.
        pub(crate) align: u32,
        /// Runs on every new object.
        pub(crate) constructor:
            Option<unsafe extern "C" fn(Pid, *mut c_void, u32, *mut c_void) -> c_int>,
        /// Runs on every object before it is freed.
        pub(crate) destructor: Option<unsafe extern "C" fn(Pid, *mut c_void, u32, *mut c_void)>,
        /// Passed to both callbacks.
        pub(crate) arg: *mut c_void,
    }

    // The exported functions; each is described in `include/world_storage.h`.
    extern "C" {
        /// Creates a region.
        pub(super) fn world_storage_create(props: *const Props, handle: *mut u64) -> c_int;
        /// Destroys a region.
        pub(super) fn world_storage_destroy(handle: u64) -> c_int;
        /// The current world's object.
        pub(super) fn world_storage_lookup_local(handle: u64, object: *mut *mut c_void) -> c_int;
        /// World `wid`'s object, with a reference.
        pub(super) fn world_storage_lookup(
            wid: Pid,
            handle: u64,
            object: *mut *mut c_void,
        ) -> c_int;
        /// As `world_storage_lookup`, by task; `task` is a
        /// `struct task_struct *` (`c_void`: rustc finds the binding of the
        /// structure not FFI-safe, for its fields of empty structures).
        pub(super) fn world_storage_lookup_task(
            task: *mut c_void,
            handle: u64,
            object: *mut *mut c_void,
        ) -> c_int;
        /// Releases a reference a lookup took.
        pub(super) fn world_storage_release(wid: Pid, object: *mut c_void) -> c_int;
        /// Calls `visit(wid, object, arg)` on every world's object.
        pub(super) fn world_storage_for_each(
            handle: u64,
            visit: Option<unsafe extern "C" fn(Pid, *mut c_void, *mut c_void) -> c_int>,
            arg: *mut c_void,
        ) -> c_int;
    }
}

/// The local lookup's fast path, as `world_storage_lookup_local_fast()` in
/// `include/world_storage.h` does it (layout version 2), inlined: `asm!`
/// reads the per-CPU data (the kernel crate of 7.3 has no per-CPU access)
/// and the preemption count, which must pin the CPU while this CPU's
/// record is read (`rcu_read_lock()` does not under preemptible RCU).
#[cfg(all(
    target_arch = "x86_64",
    CONFIG_PREEMPT_COUNT,
    CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS
))]
mod fast {
    use core::{
        arch::asm,
        ffi::c_void,
        sync::atomic::{AtomicU64, Ordering},
    };

    /// `struct world_storage_entry_v3`.
    #[repr(C)]
    struct Entry {
        /// The object.
        object: *mut c_void,
        /// Bits 63-32: the generation of the object's region (0 when
        /// empty); the rest is world storage's own.
        state: AtomicU64,
    }

    /// `struct world_storage_entries_v3`.
    #[repr(C)]
    struct Entries {
        /// How many entries follow.
        nr: u32,
        /// The slot of the first entry.
        base: u32,
        /// One entry per region slot from `base` on.
        entry: [Entry; 0],
    }

    /// `struct world_storage_record_v3`.
    #[repr(C)]
    struct Record {
        /// `struct task_struct *`.
        task: *const c_void,
        /// The world's entry array.
        entries: *const Entries,
    }

    /// These mirrors' offsets, for world storage's own layout test (which
    /// compares them with C's): built only into its KUnit module.
    #[cfg(world_storage_kunit)]
    pub(crate) const LAYOUT: &[(&core::ffi::CStr, usize)] = {
        use core::mem::{offset_of, size_of};
        &[
            (c"world_storage_record_v3.task", offset_of!(Record, task)),
            (
                c"world_storage_record_v3.entries",
                offset_of!(Record, entries),
            ),
            (c"world_storage_entries_v3.nr", offset_of!(Entries, nr)),
            (c"world_storage_entries_v3.base", offset_of!(Entries, base)),
            (
                c"world_storage_entries_v3.entry",
                offset_of!(Entries, entry),
            ),
            (c"world_storage_entry_v3.object", offset_of!(Entry, object)),
            (c"world_storage_entry_v3.state", offset_of!(Entry, state)),
            (c"world_storage_entry_v3.sizeof", size_of::<Entry>()),
        ]
    };

    // Per-CPU variables: only their addresses are used, in `asm!`.
    extern "C" {
        /// The handle published at each of the 1024 region slots.
        static world_storage_handles_v3: [AtomicU64; 1024];
        /// `struct world_storage_record_v3 *`.
        static world_storage_current_v3: *const c_void;
        /// Local lookups the fast paths answered on this CPU.
        static world_storage_local_lookups_v3: u64;
        /// `struct task_struct *`.
        static current_task: *const c_void;
        /// 64 bits with `CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS`, bit 63
        /// the inverted need-resched flag: a decrement to zero means a
        /// reschedule is due.
        static __preempt_count: u64;
    }

    #[cfg(CONFIG_PREEMPT_DYNAMIC)]
    extern "C" {
        /// `preempt_schedule_notrace()`, through its static call.
        #[link_name = "__SCT__preempt_schedule_notrace"]
        fn preempt_schedule_notrace();
    }

    #[cfg(not(CONFIG_PREEMPT_DYNAMIC))]
    extern "C" {
        /// Reschedules, as preemption's re-enabling does.
        fn preempt_schedule_notrace();
    }

    /// The current task's object of region `handle`, if this CPU last
    /// looked up for the current task and its entry has that handle.
    #[inline(always)]
    pub(super) fn lookup_local(handle: u64) -> Option<*mut c_void> {
        let record: *const Record;
        let current: *const c_void;
        // SAFETY: increments this CPU's preemption count (the kernel's
        // `preempt_disable_notrace()`); reads this CPU's pointer to the
        // record of the task that last looked up here, and `current`.
        unsafe {
            asm!(
                "incq %gs:{pc}(%rip)",
                "movq %gs:{cur}(%rip), {record}",
                "movq %gs:{task}(%rip), {current}",
                pc = sym __preempt_count,
                cur = sym world_storage_current_v3,
                task = sym current_task,
                record = out(reg) record,
                current = out(reg) current,
                options(att_syntax, nostack),
            )
        };
        // SAFETY: with preemption off, the record this CPU points at and
        // its entry array are alive (world storage frees them with
        // `call_rcu()` after forgetting them on every CPU); its `task` is
        // current only if it is current's record. `index < nr` indexes its
        // entries, and then `slot` the published handles: an array's
        // `base + nr` is at most 1024.
        let object = unsafe {
            let slot = (handle & 0xffff_ffff) as usize;
            // Volatile, as C's `READ_ONCE()`: the record's owner may replace
            // its array meanwhile (by a longer one, freed after a grace
            // period).
            let entries = core::ptr::read_volatile(&raw const (*record).entries);
            // The entry's index: `slot - base`, wrapping below `base`.
            let index = slot.wrapping_sub((*entries).base as usize);
            if core::ptr::read_volatile(&raw const (*record).task) == current
                && index < (*entries).nr as usize
            {
                let entry = &*(&raw const (*entries).entry).cast::<Entry>().add(index);
                // Acquire: pairs with the store of the state after the
                // object. Then the slot's published handle, which Destroy
                // clears first.
                if entry.state.load(Ordering::Acquire) >> 32 == handle >> 32
                    && world_storage_handles_v3
                        .get_unchecked(slot)
                        .load(Ordering::Relaxed)
                        == handle
                {
                    asm!(
                        "incq %gs:{n}(%rip)",
                        n = sym world_storage_local_lookups_v3,
                        options(att_syntax, nostack),
                    );
                    Some(core::ptr::read_volatile(&raw const entry.object))
                } else {
                    None
                }
            } else {
                None
            }
        };
        let resched: u8;
        // SAFETY: the decrement matching the increment above
        // (`preempt_enable_notrace()`): zero means a reschedule is due.
        unsafe {
            asm!(
                "decq %gs:{pc}(%rip)",
                "sete {resched}",
                pc = sym __preempt_count,
                resched = out(reg_byte) resched,
                options(att_syntax, nostack),
            )
        };
        if resched != 0 {
            // SAFETY: no requirement; preemption is enabled again.
            unsafe { preempt_schedule_notrace() };
        }
        object
    }
}

/// Without the fast path (another architecture, no preemption count, or a
/// 32-bit one): the exported function answers every lookup.
#[cfg(not(all(
    target_arch = "x86_64",
    CONFIG_PREEMPT_COUNT,
    CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS
)))]
mod fast {
    /// Never answers.
    #[inline(always)]
    pub(super) fn lookup_local(_handle: u64) -> Option<*mut core::ffi::c_void> {
        None
    }

    /// No mirror to check.
    #[cfg(world_storage_kunit)]
    pub(crate) const LAYOUT: &[(&core::ffi::CStr, usize)] = &[];
}

/// The fast path's mirrors of the C structures, with their offsets, for
/// world storage's layout test.
#[cfg(world_storage_kunit)]
pub(crate) use fast::LAYOUT as FAST_PATH_MIRROR_LAYOUT;

/// A type whose values live in world storage: one per world.
///
/// Its constructor is [`WorldObject::init`]; its destructor is its `Drop`,
/// or, for a `#[pin_data]` type (one with a pinned field, such as a lock),
/// its `PinnedDrop`: `#[pin_data]` refuses a plain `Drop`, so such a type
/// says `#[pin_data(PinnedDrop)]` and implements `PinnedDrop` with
/// `#[pinned_drop]`. The destructor runs once per object whose constructor
/// succeeded. Both run on the task-creation and exit paths, under
/// `rcu_read_lock()` or world storage's region-table mutex, so they must
/// not sleep nor create or drop a [`WorldStorage`]. Objects are shared with
/// other tasks through [`Ref`], hence `Send + Sync`.
///
/// # Examples
///
/// A pinned type whose constructor can fail (its allocation must not
/// sleep):
///
/// ```ignore
/// #[pin_data(PinnedDrop)]
/// struct Events {
///     #[pin]
///     log: SpinLock<KVec<u32>>,
/// }
///
/// impl WorldObject for Events {
///     fn init(_wid: Pid) -> impl PinInit<Self, Error> {
///         try_pin_init!(Events {
///             log <- new_spinlock!(KVec::with_capacity(16, GFP_NOWAIT)?),
///         }? Error)
///     }
/// }
///
/// #[pinned_drop]
/// impl PinnedDrop for Events {
///     fn drop(self: Pin<&mut Self>) {
///         pr_info!("{} events\n", self.log.lock().len());
///     }
/// }
/// ```
pub(crate) trait WorldObject: Send + Sync + Sized {
    /// Initialises the object of world `wid` in place. An error fails the
    /// region's creation ([`WorldStorage::new`] returns it), or kills a new
    /// user task (see "Where Linux differs from vmkapi" in
    /// `Documentation/world-storage.rst`); nothing is dropped for an object
    /// whose constructor failed.
    fn init(wid: Pid) -> impl PinInit<Self, Error>;
}

/// An exported function's answer (0 or a negative errno) as a `Result`.
fn to_result(ret: c_int) -> Result {
    if ret == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(ret))
    }
}

/// Constructor trampoline for `T`.
///
/// # Safety
///
/// Called by world storage with `object` pointing to uninitialised memory of
/// `T`'s size and alignment.
unsafe extern "C" fn construct<T: WorldObject>(
    wid: Pid,
    object: *mut c_void,
    _size: u32,
    _arg: *mut c_void,
) -> c_int {
    // SAFETY: `object` is valid, aligned memory for a `T` that nobody else
    // uses until this returns; on error `__init` leaves it
    // uninitialised and world storage frees it without running `drop`.
    match unsafe { T::init(wid).__init(object.cast::<T>()) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Destructor trampoline for `T`.
///
/// # Safety
///
/// Called by world storage once per object that `construct` initialised,
/// after the last reference to it is gone.
unsafe extern "C" fn destruct<T: WorldObject>(
    _wid: Pid,
    object: *mut c_void,
    _size: u32,
    _arg: *mut c_void,
) {
    // SAFETY: the object was initialised by `construct` and is dropped once.
    unsafe { core::ptr::drop_in_place(object.cast::<T>()) };
}

/// A visit's state: the caller's closure and the error it stopped with.
struct Visit<F> {
    /// Called on each world's object.
    f: F,
    /// The error `f` stopped the visit with, if it did.
    stopped: Option<Error>,
}

/// Visit trampoline for `T` and closure type `F`: `f(wid, &object)`; an
/// error stops the visit and is kept in the state.
///
/// # Safety
///
/// Called by `world_storage_for_each()` with the `arg` that
/// [`WorldStorage::for_each`] passed, a `Visit<F>` that nothing else uses
/// meanwhile, and `object` pointing to an initialised `T`, valid until this
/// returns.
unsafe extern "C" fn visit<T: WorldObject, F: FnMut(Pid, &T) -> Result>(
    wid: Pid,
    object: *mut c_void,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: the caller's `Visit<F>`, used by this call alone (the visit
    // calls one world at a time).
    let state = unsafe { &mut *arg.cast::<Visit<F>>() };
    // SAFETY: an initialised `T`, valid until this returns; shared with its
    // world, which is sound because `T: Sync` (a `WorldObject` bound).
    let object = unsafe { &*object.cast::<T>() };
    match (state.f)(wid, object) {
        Ok(()) => 0,
        Err(e) => {
            state.stopped = Some(e);
            1
        }
    }
}

/// A region of world storage holding one `T` per world.
///
/// Creating it constructs a `T` for every existing world; every new world
/// gets one before it first runs. Dropping it destroys the region: it waits
/// until every reference taken on its objects is released, then drops
/// every `T`. A [`Ref`] borrows the region, so it cannot be dropped while
/// one lives; an [`ArcRef`] shares it (through an [`Arc`]), so the last
/// of them drops it. Only a leaked reference (`core::mem::forget` of a
/// `Ref`) or one taken by C code through [`WorldStorage::handle`] can make
/// the drop wait for long.
///
/// # Invariants
///
/// `handle` names a live region whose objects are initialised `T`s.
pub(crate) struct WorldStorage<T: WorldObject> {
    /// The region's handle.
    handle: u64,
    /// The objects' type.
    _object: PhantomData<T>,
}

impl<T: WorldObject> WorldStorage<T> {
    /// `T`'s size and alignment as a region takes them, checked when `new`
    /// is compiled for `T`: a zero-sized `T`, one above 1 MiB or one aligned
    /// above `PAGE_SIZE` is a compile-time error.
    const SIZE_ALIGN: (u32, u32) = {
        let (size, align) = (core::mem::size_of::<T>(), core::mem::align_of::<T>());
        assert!(
            size != 0,
            "world storage: a zero-sized type has nothing to store per world"
        );
        assert!(size <= 1 << 20, "world storage: the type is above 1 MiB");
        assert!(
            align <= kernel::page::PAGE_SIZE,
            "world storage: the type's alignment is above PAGE_SIZE"
        );
        (size as u32, align as u32)
    };

    /// Creates the region, owned by `module` (pass `THIS_MODULE`). May sleep.
    ///
    /// Each existing world's object (and what [`WorldObject::init`]
    /// allocates with `__GFP_ACCOUNT`) is charged to that world's memory
    /// cgroup, a kernel thread's to the root cgroup; a new world's to the
    /// forking task's cgroup, never past its `memory.max` (a charge that
    /// does not fit fails the new task as a failed `init` does). A world's
    /// cgroup at its `memory.max` reclaims as for the world's own
    /// allocations, its OOM killer included: Create may kill tasks of that
    /// cgroup.
    ///
    /// Fails with `EINVAL`, `ENOMEM` (also when a world's memory cgroup is
    /// at its `memory.max` and neither reclaim nor its OOM killer makes
    /// room), `ENOSPC` (1024
    /// regions exist) or the first error [`WorldObject::init`] returns
    /// (every object constructed so far is dropped).
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let (size, align) = Self::SIZE_ALIGN;
        let props = ffi::Props {
            kind: 0,
            owner: module.as_ptr().cast(),
            size,
            align,
            constructor: Some(construct::<T>),
            destructor: Some(destruct::<T>),
            arg: core::ptr::null_mut(),
        };
        let mut handle = 0;
        // SAFETY: `props` and `handle` are valid for the call; the callbacks
        // are callable until the region is destroyed (by `drop`, or by world
        // storage itself when `module` unloads).
        to_result(unsafe { ffi::world_storage_create(&props, &mut handle) })?;
        // INVARIANT: the region was created with `T`'s callbacks.
        Ok(Self {
            handle,
            _object: PhantomData,
        })
    }

    /// The region's handle, for C code that shares it.
    pub(crate) fn handle(&self) -> u64 {
        self.handle
    }

    /// The current task's object. Any context, no lock; the guard cannot
    /// leave the current task. `ENOENT` if the task has no object.
    pub(crate) fn local(&self) -> Result<LocalRef<'_, T>> {
        let object = match fast::lookup_local(self.handle) {
            Some(object) => object,
            None => {
                let mut object = core::ptr::null_mut();
                // SAFETY: `object` is valid for writes.
                to_result(unsafe { ffi::world_storage_lookup_local(self.handle, &mut object) })?;
                object
            }
        };
        let object = NonNull::new(object).ok_or(EINVAL)?.cast::<T>();
        // INVARIANT: the current task's object lives until the task's exit
        // hook and while `self` exists; the guard is `!Send` and borrows
        // `self`, so it cannot be kept for code that runs after the exit hook
        // (a file's release or task_work of the exiting task).
        Ok(LocalRef {
            object,
            _region: PhantomData,
            _not_send: PhantomData,
        })
    }

    /// World `wid`'s object, kept alive (even past the world's exit) until
    /// the returned guard is dropped or [released](Ref::release). The guard
    /// borrows `self`, so the region cannot be dropped while it lives.
    /// `ESRCH`: no such live world; `ENOENT`: it has no object.
    pub(crate) fn get(&self, wid: Pid) -> Result<Ref<'_, T>> {
        let mut object = core::ptr::null_mut();
        // SAFETY: `object` is valid for writes.
        to_result(unsafe { ffi::world_storage_lookup(wid, self.handle, &mut object) })?;
        Ok(Ref {
            reference: Reference::new(wid, object)?,
            _region: PhantomData,
        })
    }

    /// As [`WorldStorage::get`], for `task` (which cannot be confused with a
    /// later task of the same TID).
    pub(crate) fn get_task(&self, task: &Task) -> Result<Ref<'_, T>> {
        // Read before the lookup: Release accepts any ID the world had since
        // (a thread that calls execve() takes its leader's TID).
        let wid = task.pid();
        let mut object = core::ptr::null_mut();
        // SAFETY: `task` is a valid task; `object` is valid for writes.
        to_result(unsafe {
            ffi::world_storage_lookup_task(task.as_ptr().cast(), self.handle, &mut object)
        })?;
        Ok(Ref {
            reference: Reference::new(wid, object)?,
            _region: PhantomData,
        })
    }

    /// Visits every world's object: calls `f` with the world's ID and its
    /// `T`, one world at a time, in no particular order, until `f` returns
    /// an error (which this returns). A world that holds its object from
    /// the start of the visit until the visit reaches it is visited exactly
    /// once; a world created or exiting meanwhile at most once. The `T` is
    /// shared with its world, which may use it meanwhile (hence `T: Sync`,
    /// which every [`WorldObject`] is), and is not dropped while `f` runs,
    /// even if its world exits. Process context; may sleep, and `f` may.
    /// Fork and exit never wait for it; the region's drop does.
    ///
    /// Fails with `EOVERFLOW` if a world's object has too many references
    /// outstanding, or `EINVAL` if the region's Destroy begins meanwhile
    /// (only C code sharing [`WorldStorage::handle`] can do that); the visit
    /// stops there.
    pub(crate) fn for_each<F: FnMut(Pid, &T) -> Result>(&self, f: F) -> Result {
        let mut state = Visit { f, stopped: None };
        // SAFETY: `visit::<T, F>` is callable with `state`, a `Visit<F>` that
        // outlives the call and that only the visit uses meanwhile; the
        // region's objects are `T`s (type invariant).
        let ret = unsafe {
            ffi::world_storage_for_each(
                self.handle,
                Some(visit::<T, F>),
                core::ptr::from_mut(&mut state).cast(),
            )
        };
        match state.stopped {
            Some(e) => Err(e),
            None => to_result(ret),
        }
    }
}

impl<T: WorldObject> Drop for WorldStorage<T> {
    fn drop(&mut self) {
        // SAFETY: no requirement; `handle` is live by the type invariant.
        let ret = unsafe { ffi::world_storage_destroy(self.handle) };
        if ret != 0 {
            pr_warn!(
                "world storage region {:#x}: destroy failed: {}\n",
                self.handle,
                ret
            );
        }
    }
}

/// The current task's object of a region: a guard that cannot leave the
/// task (`!Send`) and does not outlive the region.
///
/// # Invariants
///
/// `object` is the current task's initialised `T`, valid while the region
/// (borrowed for `'a`) exists, until the task's exit hook (which drops it
/// when no remote reference is held, before the task closes its files).
pub(crate) struct LocalRef<'a, T: WorldObject> {
    /// The object.
    object: NonNull<T>,
    /// The region, borrowed.
    _region: PhantomData<&'a WorldStorage<T>>,
    /// Makes the guard `!Send`: the object is the current task's.
    _not_send: PhantomData<*mut ()>,
}

impl<T: WorldObject> Deref for LocalRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: valid by the type invariant.
        unsafe { self.object.as_ref() }
    }
}

/// One reference on an object, taken by a lookup; dropping it releases it.
///
/// # Invariants
///
/// `object` is an initialised `T` of world `wid`, and this value owns one
/// reference on it taken by a lookup.
struct Reference<T: WorldObject> {
    /// The world the lookup was for: what Release takes.
    wid: Pid,
    /// The object.
    object: NonNull<T>,
}

// SAFETY: releasing may happen from any task; `T: Sync` makes `&T` shareable.
unsafe impl<T: WorldObject> Send for Reference<T> {}
// SAFETY: `&Reference<T>` only gives `&T`, and `T: Sync`.
unsafe impl<T: WorldObject> Sync for Reference<T> {}

impl<T: WorldObject> Reference<T> {
    /// The reference a lookup of world `wid` just took on `object`.
    fn new(wid: Pid, object: *mut c_void) -> Result<Self> {
        let object = NonNull::new(object).ok_or(EINVAL)?.cast::<T>();
        // INVARIANT: the lookup that produced `object` took the reference.
        Ok(Self { wid, object })
    }

    /// The object.
    fn object(&self) -> &T {
        // SAFETY: valid while the reference is held (type invariant).
        unsafe { self.object.as_ref() }
    }

    /// Releases the reference, returning world storage's answer.
    fn release(self) -> Result {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: releases the reference this value owns, once: `this` is
        // never dropped.
        to_result(unsafe { ffi::world_storage_release(this.wid, this.object.cast().as_ptr()) })
    }
}

impl<T: WorldObject> Drop for Reference<T> {
    fn drop(&mut self) {
        // SAFETY: releases the reference this value owns, once.
        unsafe { ffi::world_storage_release(self.wid, self.object.cast().as_ptr()) };
    }
}

/// Another world's object, with a reference that dropping this (or
/// [`Ref::release`]) releases, exactly once.
///
/// The object is neither dropped nor freed while this exists, even if its
/// world exits. A `Ref` borrows its [`WorldStorage`], whose drop (Destroy)
/// would wait for it: dropping or moving the region while a `Ref` to one
/// of its objects lives is a compile-time error (E0505, E0597), not a
/// Destroy that never returns. To keep a reference beyond a borrow (in a
/// structure, across calls), share the region in an [`Arc`] and take an
/// [`ArcRef`].
///
/// A `Ref` is neither `Clone` nor `Copy`, and [`Ref::release`] consumes
/// it, so it cannot be released twice (E0382).
pub(crate) struct Ref<'a, T: WorldObject> {
    /// The reference, released when this is dropped.
    reference: Reference<T>,
    /// The region, borrowed: it cannot be dropped while this lives.
    _region: PhantomData<&'a WorldStorage<T>>,
}

impl<T: WorldObject> Ref<'_, T> {
    /// The world this object belongs to.
    pub(crate) fn wid(&self) -> Pid {
        self.reference.wid
    }

    /// Releases the reference now, like dropping it, but returns what
    /// world storage answered (`EINVAL` for a reference it did not know).
    pub(crate) fn release(self) -> Result {
        self.reference.release()
    }
}

impl<T: WorldObject> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.reference.object()
    }
}

/// As [`Ref`], but keeping its region alive (a clone of the [`Arc`] it
/// lives in) instead of borrowing it: the reference is released before the
/// clone is dropped, so the last of them to go destroys the region without
/// waiting.
pub(crate) struct ArcRef<T: WorldObject> {
    /// The reference; declared (so dropped) before `region`.
    reference: Reference<T>,
    /// A share of the region, which the last share's drop destroys.
    region: Arc<WorldStorage<T>>,
}

impl<T: WorldObject> ArcRef<T> {
    /// As [`WorldStorage::get`], on the region `region` holds.
    pub(crate) fn get(region: Arc<WorldStorage<T>>, wid: Pid) -> Result<Self> {
        let reference = region.get(wid)?.reference;
        Ok(Self { reference, region })
    }

    /// As [`WorldStorage::get_task`], on the region `region` holds.
    pub(crate) fn get_task(region: Arc<WorldStorage<T>>, task: &Task) -> Result<Self> {
        let reference = region.get_task(task)?.reference;
        Ok(Self { reference, region })
    }

    /// The world this object belongs to.
    pub(crate) fn wid(&self) -> Pid {
        self.reference.wid
    }

    /// As [`Ref::release`]; then drops the clone of the region.
    pub(crate) fn release(self) -> Result {
        let Self { reference, region } = self;
        let released = reference.release();
        drop(region);
        released
    }
}

impl<T: WorldObject> Deref for ArcRef<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.reference.object()
    }
}
