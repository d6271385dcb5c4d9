// SPDX-License-Identifier: GPL-2.0

//! World records, their objects and the tables that find them.
//!
//! A record exists for every world that has, or may get, objects. It is
//! keyed by its task, not by TID (a thread that calls `execve()` takes its
//! leader's TID): a TID is resolved to its task through the kernel's pid
//! hash, then to the record, without a lock (RCU + `xa_load`). A record's
//! entries, one per region slot, hold its objects; a remote reference is
//! counted on the object's entry, one compare-and-exchange, and an object
//! is destroyed only by whoever claims its entry while it has no
//! reference: Destroy's sweep, the world's exit, or, for an object still
//! referenced at the exit (an orphan), the world's teardown after its last
//! reference. A record is kept alive by a count that is 1 while it is in
//! the table, plus one per holder (a constructor in progress) and one while
//! it has orphans; it is freed a grace period after the last count goes. A
//! teardown that would happen where a `spinlock_t` may not be taken is
//! deferred (`deferred.rs`). Objects are freed as soon as they are
//! destructed: no reader touches an object without a reference or its own
//! world's local lookup, which the exit hook or Destroy's grace period
//! ends.
//!
//! A record is the start of its world's block: the record, then its first
//! entry array, one allocation (for a new task, of the size the current
//! layout gives, `layout.rs`).
//!
//! One concept per file:
//!
//! - `table.rs`: [`WorldTable`], the `worlds` XArray, and every path
//!   through it (attach, detach, construct, lookups, Release, Destroy's
//!   sweep, teardown).
//! - `record.rs`: [`WorldRecord`], one world's record; `RecordGuard`, its
//!   lock, the only way to reserve, fill and move its entries.
//! - `entries.rs`: the per-world slot map, `Entry` and `EntryArray`
//!   (the C fast path's layout), the state machine of an entry, and the
//!   record's pointer to its array.
//! - `layout.rs`: `WorldLayout`, the size and span of a new world's
//!   block, and `BlockCaches`, the caches of blocks.
//! - `former_ids.rs`: `FormerIds`, the records Release finds by an ID the
//!   pid hash no longer gives them (exited with references, or exec'd).
//! - `refcount.rs`: `RecordRefcount`, a record's count with its cap.
//! - `record_ref.rs`: `RecordRef`, a counted reference on a record.
//! - `current_cache.rs`: the per-CPU pointer to current's record (private).
//! - `fixture.rs`: objects of a real region for the suites (KUnit module
//!   only).
//!
//! Records are `crate::rcu_box::RcuBox`es: freed a grace period after they
//! are retired.
//!
//! Locks, outermost first:
//!
//! 1. The region table's mutex (`RegionTable::lock`, region/table.rs): Create
//!    holds it while it constructs the new region on every world (attach,
//!    construct), the last Destroy while it detaches every record.
//! 2. Spinlocks, never nested in each other: the `worlds` XArray's lock
//!    (process context: attach, detach), a record's lock (interrupts off;
//!    `RecordGuard`: reserving, filling and moving its entries, and
//!    `EXITED`) and the former IDs' lock (interrupts off). Under none of
//!    them is a constructor or destructor called.
//!
//! RCU read-side sections nest anywhere and are held across callbacks:
//! the task-creation hook constructs under one, Destroy's sweep and the
//! exit hook destruct under one. So constructors run under the region
//! table's mutex (Create) or RCU (task creation); destructors under RCU
//! (Destroy's sweep, the exit hook, a teardown) or the region table's
//! mutex (a failing Create), or with neither (a constructor that lost to
//! an exit).

mod current_cache;
mod entries;
#[cfg(world_storage_kunit)]
mod fixture;
mod former_ids;
mod layout;
mod record;
mod record_ref;
mod refcount;
mod table;

#[cfg(world_storage_kunit)]
pub(crate) use entries::FAST_PATH_LAYOUT;
pub(crate) use {
    record::{DeferredRecords, WorldRecord},
    table::{World, WorldTable},
};
