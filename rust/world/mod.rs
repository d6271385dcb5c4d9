// SPDX-License-Identifier: GPL-2.0

//! World records, their objects and the tables that find them.
//!
//! A record exists for every world that has, or may get, objects. It is
//! keyed by its task, not by TID (a thread that calls `execve()` takes its
//! leader's TID): a TID is resolved to its task through the kernel's pid
//! hash, then to the record, without a lock (RCU + `xa_load`). A record is
//! kept alive by a reference count that is 1 while the world lives plus one
//! per remote reference; the count is only taken while not zero, so a
//! dying record is never revived. When the count reaches zero the record is
//! torn down: each object is claimed, destructed and retired; records and
//! objects are freed after a grace period. A teardown that would happen
//! where a `spinlock_t` may not be taken is deferred (`deferred.rs`).
//!
//! One concept per file:
//!
//! - `table.rs`: [`WorldTable`], the `worlds` and `index` XArrays, and every
//!   path through them (attach, detach, construct, lookups, Release,
//!   Destroy's sweep, teardown).
//! - `record.rs`: [`WorldRecord`], one world's record; `RecordGuard`, its
//!   lock, the only way to write its entries.
//! - `entries.rs`: the per-world slot map, `Entry` and [`EntryArray`]
//!   (the C fast path's layout) and the record's pointer to its array.
//! - `object.rs`: `ObjectRecord`, the bookkeeping of one object.
//! - `refcount.rs`: `RecordRefcount`, a record's count with its cap.
//! - `record_ref.rs`: `RecordRef`, a counted reference on a record.
//! - `current_cache.rs`: the per-CPU pointer to current's record (private).
//! - `fixture.rs`: objects of a real region for the suites (KUnit module
//!   only).
//!
//! Records and objects are `crate::rcu_box::RcuBox`es: freed a grace period
//! after they are retired.
//!
//! Locks, outermost first:
//!
//! 1. The region table's mutex (`RegionTable::lock`, region/table.rs): Create
//!    holds it while it constructs the new region on every world (attach,
//!    construct), the last Destroy while it detaches every record.
//! 2. Spinlocks, never nested in each other: the `worlds` XArray's lock
//!    (process context: attach, detach), a record's lock (interrupts off;
//!    `RecordGuard`: its entries and `exited`) and the `index` XArray's
//!    lock (interrupts off: an object is indexed or unindexed). `detach`
//!    releases the `worlds` lock before it takes the record's; a teardown
//!    releases the record's lock before it takes the index's; under none
//!    of them is a constructor or destructor called.
//!
//! RCU read-side sections nest anywhere and are held across callbacks:
//! the task-creation hook constructs under one, Destroy's sweep destructs
//! under one. So constructors run under the region table's mutex (Create)
//! or RCU (task creation); destructors under RCU (Destroy's sweep), the
//! region table's mutex (a failing Create, the last Destroy's detach), or
//! neither (the exit hook, the last Release where it may take a
//! `spinlock_t`, a deferred teardown).

mod current_cache;
mod entries;
#[cfg(world_storage_kunit)]
mod fixture;
mod object;
mod record;
mod record_ref;
mod refcount;
mod table;

#[cfg(world_storage_kunit)]
pub(crate) use entries::FAST_PATH_LAYOUT;
pub(crate) use {
    entries::EntryArray,
    record::{DeferredRecords, WorldRecord},
    table::{World, WorldTable},
};
