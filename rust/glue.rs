// SPDX-License-Identifier: GPL-2.0

//! The C glue (`rust/world_storage_glue.c`) as Rust sees it: every function
//! of `rust/world_storage_glue.h`, with the header's types.
//!
//! The functions and the data implemented in C are declared here; the ones
//! the C glue calls back, implemented in Rust, are checked against the
//! header's prototypes where they are defined (`exports.rs`, `hooks.rs`).
//! The callers wrap each function in a safe or documented-unsafe function
//! of their own module; this module holds no logic and imports nothing of
//! the domain. The project's own structures cross as untyped pointers
//! ([`RecordV3`], [`EntriesV3`]); the Rust types that mirror them
//! (`#[repr(C)]`, offsets checked by the layout test) are the world
//! module's `WorldRecord` (whose head is `struct world_storage_record_v3`)
//! and `EntryArray` (`struct world_storage_entries_v3`).

/// `struct world_storage_record_v3`, the head of a world record.
pub(crate) type RecordV3 = c_void;
/// `struct world_storage_entries_v3`, an entry array.
pub(crate) type EntriesV3 = c_void;

use kernel::{
    bindings,
    ffi::{c_char, c_int, c_long, c_ulong, c_void},
};

// Only pointers to these structures cross the boundary (bindgen's
// `task_struct` holds a zero-sized member, which the lint rejects).
#[allow(improper_ctypes, reason = "only pointers cross")]
extern "C" {
    /// Sleeps until `*counter` is 0.
    pub(crate) fn ws_wait_var_zero(counter: *mut c_ulong);
    /// Wakes every `ws_wait_var_zero()` waiter; any context.
    pub(crate) fn ws_drained();

    /// `local_irq_save()`: this CPU's interrupts off; the flags to restore.
    pub(crate) fn ws_local_irq_save() -> c_ulong;
    /// `local_irq_restore()`.
    pub(crate) fn ws_local_irq_restore(flags: c_ulong);

    /// A per-CPU `long`, zero on every CPU, or null.
    pub(crate) fn ws_percpu_count_alloc() -> *mut c_long;
    /// Frees a per-CPU `long` of `ws_percpu_count_alloc()`.
    pub(crate) fn ws_percpu_count_free(count: *mut c_long);
    /// Adds `n` to this CPU's `*count` (`this_cpu_add()`); any context.
    pub(crate) fn ws_percpu_count_add(count: *mut c_long, n: c_long);
    /// The sum of every possible CPU's `*count`.
    pub(crate) fn ws_percpu_count_sum(count: *mut c_long) -> c_long;

    /// `tracepoint_synchronize_unregister()`.
    pub(crate) fn ws_tracepoint_synchronize_unregister();

    /// Trace event `region_create`; any context.
    pub(crate) fn ws_trace_region_create(
        handle: u64,
        size: u32,
        align: u32,
        owner: *const c_char,
        ctor: bool,
        dtor: bool,
    );
    /// Trace event `region_destroy`; any context.
    pub(crate) fn ws_trace_region_destroy(handle: u64, objects: u64, waited_us: u64);
    /// Trace event `constructor_failure` (`err` a negative errno); any
    /// context.
    pub(crate) fn ws_trace_constructor_failure(wid: bindings::pid_t, handle: u64, err: c_int);
    /// Trace event `task_failed`; any context.
    pub(crate) fn ws_trace_task_failed(wid: bindings::pid_t, fate: *const c_char);
    /// Trace event `bad_release` (`object` is not read); any context.
    pub(crate) fn ws_trace_bad_release(wid: bindings::pid_t, object: *const c_void);
    /// Trace event `owner_unload`; any context.
    pub(crate) fn ws_trace_owner_unload(owner: *const c_char, handle: u64);

    /// The key of `task`'s world record.
    pub(crate) fn ws_task_key(task: *const bindings::task_struct) -> c_ulong;

    /// The one-time warning of a bad release; any context.
    pub(crate) fn ws_warn_bad_release();

    /// Stores up to `cap` threads, each with a reference, in `buf`; returns
    /// how many threads there were.
    pub(crate) fn ws_collect_threads(buf: *mut *mut bindings::task_struct, cap: usize) -> usize;

    /// The memory cgroup that `task`'s own allocations are charged to, with
    /// a reference: its cgroup, the root's for a kernel thread; null
    /// without memory cgroups. Does not sleep.
    pub(crate) fn ws_task_memcg_get(task: *mut bindings::task_struct) -> *mut bindings::mem_cgroup;
    /// `set_active_memcg()`: current's accounted allocations are charged to
    /// `memcg` (null: to its own cgroup); returns the one set before.
    pub(crate) fn ws_set_active_memcg(
        memcg: *mut bindings::mem_cgroup,
    ) -> *mut bindings::mem_cgroup;
    /// `mem_cgroup_put()`: drops a reference; null is ignored.
    pub(crate) fn ws_memcg_put(memcg: *mut bindings::mem_cgroup);

    /// Counts a local lookup on this CPU.
    pub(crate) fn ws_count_lookup_local();
    /// Counts a remote lookup on this CPU.
    pub(crate) fn ws_count_lookup_remote();
    /// The lookup counters summed over every CPU.
    pub(crate) fn ws_sum_lookups(local: *mut c_ulong, remote: *mut c_ulong);

    /// Whether this context may take a `spinlock_t`.
    pub(crate) fn ws_may_take_spinlock() -> bool;
    /// Queues a record's deferral link for teardown; any context.
    pub(crate) fn ws_defer_teardown(node: *mut bindings::llist_node);
    /// Waits for every queued teardown, the frees they queued and every
    /// deferred wake-up.
    pub(crate) fn ws_flush_deferred();

    /// `refcount_inc_not_zero()` while `*r` is below `max`: 0, `-ESRCH` if
    /// the count is 0, `-EOVERFLOW` if it is `max` or more.
    pub(crate) fn ws_refcount_get_below(r: *mut bindings::refcount_t, max: u32) -> c_int;

    /// Points this CPU at `record`, current's; `false` (undone) if the
    /// record's task was cleared meanwhile.
    pub(crate) fn ws_current_set(record: *mut RecordV3) -> bool;
    /// Clears `record`'s task, then a full barrier.
    pub(crate) fn ws_current_clear_task(record: *mut RecordV3);
    /// Points every CPU that points at `record` elsewhere.
    pub(crate) fn ws_current_forget(record: *mut RecordV3);

    /// A zero-filled block of `size` bytes from `cache` (if not null, its
    /// objects at least that large), else from kmalloc; null without memory.
    pub(crate) fn ws_block_alloc(
        cache: *mut bindings::kmem_cache,
        size: usize,
        gfp: bindings::gfp_t,
    ) -> *mut c_void;
    /// Frees a block from `ws_block_alloc`.
    pub(crate) fn ws_block_free(block: *mut c_void);

    /// A new array of `nr` empty entries, the first for slot `base`, or
    /// null.
    pub(crate) fn ws_entries_new(nr: u32, base: u32, gfp: bindings::gfp_t) -> *mut EntriesV3;
    /// Frees `entries` after a grace period.
    pub(crate) fn ws_entries_free_rcu(entries: *mut EntriesV3);
    /// Frees `entries` now.
    pub(crate) fn ws_entries_free(entries: *mut EntriesV3);

    /// The exported local lookup (`include/world_storage.h`): the fast
    /// path, then `ws_lookup_local_slow`. For tests.
    #[cfg(world_storage_kunit)]
    pub(crate) fn world_storage_lookup_local(handle: u64, object: *mut *mut c_void) -> c_int;

    /// `offsetof()` of `name` ("struct.field"), or `SIZE_MAX`.
    #[cfg(world_storage_kunit)]
    pub(crate) fn ws_layout_c_offset(name: *const kernel::ffi::c_char) -> usize;
}

extern "C" {
    /// `world_storage_handles_v3` of `include/world_storage.h`: the handle
    /// published at each region slot, which the local lookup's fast path
    /// checks.
    pub(crate) static world_storage_handles_v3:
        [core::sync::atomic::AtomicU64; crate::handle::MAX_REGIONS];
}
