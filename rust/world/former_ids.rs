// SPDX-License-Identifier: GPL-2.0

//! [`FormerIds`]: the records that a Release may name by an ID the pid hash
//! no longer gives them.

use super::record::WorldRecord;
use core::{
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    new_spinlock_irq,
    prelude::*,
    sync::{rcu, SpinLockIrq},
};

/// The records of worlds that exited with remote references outstanding,
/// and of live worlds whose thread called `execve()` and took its leader's
/// TID: a Release names them by an ID (`WorldRecord::had_wid`) that the pid
/// hash no longer resolves to them. Few: a Release walks them all.
///
/// # Invariants
///
/// The records linked from `head` through `WorldRecord::former_next` are
/// live and have `in_former_ids` set; one leaves the list (under `lock`)
/// before its teardown retires it, so it is freed only a grace period after
/// it left.
#[pin_data]
pub(super) struct FormerIds {
    /// The first record, or null. Stored (release) under `lock`, loaded
    /// (acquire) under RCU.
    head: AtomicPtr<WorldRecord>,
    /// Serialises adding and removing records; taken with interrupts off
    /// (a teardown may run in interrupt context).
    #[pin]
    lock: SpinLockIrq<()>,
}

impl FormerIds {
    /// An empty list.
    pub(super) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            head: AtomicPtr::new(ptr::null_mut()),
            lock <- new_spinlock_irq!((), "FormerIds::lock"),
        })
    }

    /// Adds `record`, unless it is in the list already.
    pub(super) fn add(&self, record: &WorldRecord) {
        let _lock = self.lock.lock();
        if record.in_former_ids().load(Ordering::Relaxed) {
            return;
        }
        record
            .former_next()
            .store(self.head.load(Ordering::Relaxed), Ordering::Relaxed);
        // INVARIANT: a live record (the caller holds it), marked as in the
        // list; release: readers see its link.
        record.in_former_ids().store(true, Ordering::Relaxed);
        self.head
            .store(ptr::from_ref(record).cast_mut(), Ordering::Release);
    }

    /// Takes `record` out, if it is in the list. Its link is left as it was
    /// for readers standing on it. Called by the record's teardown, when no
    /// one adds it any more (its exit and exec hooks are over, its last
    /// count dropped): a record never added is seen without the lock.
    pub(super) fn remove(&self, record: &WorldRecord) {
        if !record.in_former_ids().load(Ordering::Relaxed) {
            return;
        }
        let _lock = self.lock.lock();
        if !record.in_former_ids().load(Ordering::Relaxed) {
            return;
        }
        let mut link = &self.head;
        loop {
            let p = link.load(Ordering::Relaxed);
            if p.is_null() {
                return;
            }
            if ptr::eq(p, record) {
                link.store(
                    record.former_next().load(Ordering::Relaxed),
                    Ordering::Release,
                );
                record.in_former_ids().store(false, Ordering::Relaxed);
                return;
            }
            // SAFETY: a record in the list is live while it is in it (type
            // invariant), and only the lock's holder, us, takes one out.
            link = unsafe { &*p }.former_next();
        }
    }

    /// The first record in the list for which `f` is true, valid while
    /// `guard` is held.
    pub(super) fn find<'a>(
        &self,
        _guard: &'a rcu::Guard,
        mut f: impl FnMut(&'a WorldRecord) -> bool,
    ) -> Option<&'a WorldRecord> {
        let mut p = self.head.load(Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: a record reached from the list under RCU is freed only
            // a grace period after it left the list (type invariant), so not
            // before `_guard` is dropped; one that left meanwhile still links
            // to records that were in the list when it left.
            let record = unsafe { &*p };
            if f(record) {
                return Some(record);
            }
            p = record.former_next().load(Ordering::Acquire);
        }
        None
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_former_ids)]
mod tests {
    use super::*;
    use crate::object_cache::AllocContext;
    use kernel::task::Task;

    /// Records are found while in the list, once each however often they
    /// are added, and not after they are taken out, wherever they were in
    /// it; a record never added is taken out without effect.
    #[test]
    fn add_find_remove() -> Result {
        let me: &Task = kernel::current!();
        let list = KBox::pin_init(FormerIds::new(), GFP_KERNEL)?;
        let mut records = KVec::new();
        for _ in 0..3 {
            records.push(
                WorldRecord::new(me, 0..1, AllocContext::Sleepable)?,
                GFP_KERNEL,
            )?;
        }
        let found = |record: &WorldRecord| {
            let guard = rcu::read_lock();
            let mut visits = 0;
            let stopped = list.find(&guard, |r| {
                visits += usize::from(ptr::eq(r, record));
                false
            });
            assert!(stopped.is_none());
            visits
        };
        for record in records.iter() {
            list.add(record);
            list.add(record);
        }
        assert!(records.iter().all(|r| found(r) == 1));
        list.remove(&records[1]);
        assert_eq!(found(&records[1]), 0);
        assert_eq!((found(&records[0]), found(&records[2])), (1, 1));
        list.remove(&records[1]);
        list.remove(&records[2]);
        list.remove(&records[0]);
        assert!(records.iter().all(|r| found(r) == 0));
        {
            let guard = rcu::read_lock();
            assert!(list.find(&guard, |_| true).is_none());
        }
        Ok(())
    }
}
