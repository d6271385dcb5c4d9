// SPDX-License-Identifier: GPL-2.0

//! [`ObjectRecord`]: the bookkeeping of one region's object for one world
//! (the object itself is the memory it hands out, `memory`).

use super::record::WorldRecord;
use crate::{
    rcu_box::RcuFreed,
    region::{ObjectMemory, Region},
};
// `core`'s atomics, not `kernel::sync::atomic`: every remote lookup and Release
// counts here (see "Atomics" in Documentation/world-storage.rst).
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{bindings, types::Opaque};

/// One region's object for one world.
///
/// # Invariants
///
/// - `memory` is constructed (or zeroed) once the object is in a record.
/// - `record` outlives the object while the object is in the record, or has
///   a remote reference outstanding (which holds the record): a record is
///   freed a grace period after its teardown, which retires every object
///   still in it. An object claimed from it by Destroy (no remote
///   reference left) may outlive it until Destroy retires the object.
pub(crate) struct ObjectRecord {
    /// Immutable: the memory handed to callers, which keeps its region
    /// alive. Freed with the object, a grace period after it is retired.
    memory: ObjectMemory,
    /// Immutable.
    record: NonNull<WorldRecord>,
    /// LookUp references taken through this object and not yet released.
    /// Incremented under RCU after a reference on `record` was taken;
    /// decremented by Release, never below zero.
    remote: AtomicU32,
    /// For the deferred free (`RcuBox::retire`).
    rcu: Opaque<bindings::callback_head>,
}

// SAFETY: `record` points at a record that is `Sync` and outlives the
// object (type invariant); `memory` is `Send`. Nothing in it is tied to a
// thread.
unsafe impl Send for ObjectRecord {}
// SAFETY: shared references read `memory` (`Sync`), the immutable `record`
// pointer to a `Sync` record, and the atomic `remote`.
unsafe impl Sync for ObjectRecord {}

// SAFETY: `rcu` is an `Opaque<bindings::callback_head>` field that nothing
// but `RcuBox::retire` uses.
unsafe impl RcuFreed for ObjectRecord {
    const RCU_HEAD: usize = core::mem::offset_of!(ObjectRecord, rcu);
}

impl ObjectRecord {
    /// The bookkeeping of `memory`, an object for `record`'s world.
    pub(super) fn new(memory: ObjectMemory, record: &WorldRecord) -> Self {
        // INVARIANT: `memory` is constructed before the object goes in
        // `record`, which outlives it (see the type invariants for how).
        Self {
            memory,
            record: NonNull::from(record),
            remote: AtomicU32::new(0),
            rcu: Opaque::uninit(),
        }
    }

    /// The memory handed to callers.
    pub(super) fn data(&self) -> NonNull<u8> {
        self.memory.as_ptr()
    }

    /// The region it belongs to.
    pub(super) fn region(&self) -> &Region {
        self.memory.region()
    }

    /// The record it was made for.
    pub(super) fn record(&self) -> &WorldRecord {
        // SAFETY: the record outlives the object while the object is in it
        // or has a remote reference (type invariant); the callers reach the
        // object through the record, with a remote reference, or under the
        // RCU guard that found it in a record.
        unsafe { self.record.as_ref() }
    }

    /// The record, for the holder of a remote reference, which owns one of
    /// its counts.
    pub(super) fn record_ptr(&self) -> NonNull<WorldRecord> {
        self.record
    }

    /// Whether a remote reference is outstanding.
    pub(super) fn has_remote(&self) -> bool {
        self.remote.load(Ordering::Acquire) != 0
    }

    /// Takes one remote reference that `WorldTable::release` drops.
    ///
    /// The caller holds a count of the object's record for it.
    pub(super) fn take_remote(&self) {
        self.remote.fetch_add(1, Ordering::Relaxed);
        self.region().remote_ref_taken();
    }

    /// Drops one remote reference; `false` if none is outstanding.
    pub(super) fn drop_remote(&self) -> bool {
        self.remote
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}
