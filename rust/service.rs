// SPDX-License-Identifier: GPL-2.0

//! [`Service`]: regions and worlds together, and every operation of
//! the contract (Create, Destroy, the lookups, Release, and what happens
//! when a task is created or exits, or a region's owner unloads).

use crate::{
    deferred,
    memcg::ChargeToTask,
    object_cache::AllocContext,
    region::{DestroyingRegions, LockedTable, Region, RegionProps, RegionTable, Unpublished},
    stats, tasks,
    threads::ThreadList,
    trace,
    world::{DeferredRecords, World, WorldRecord, WorldTable},
};
use core::{ops::ControlFlow, ptr::NonNull};
use kernel::{
    bindings, fmt, pr_warn_once,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        barrier::{smp_mb, Full},
        rcu,
    },
    task::Task,
    time::{Instant, Monotonic},
};

/// How long a Destroy waits for remote references before it logs which
/// region it waits for and how many references are left (once).
const DESTROY_WAIT_REPORT_MS: u32 = 5000;

/// The whole service: one per loaded module.
#[pin_data]
pub(crate) struct Service {
    /// Live regions: read under RCU; Create, Destroy and owner unload run
    /// under its lock (see `RegionTable`).
    #[pin]
    regions: RegionTable,
    /// Regions taken out of `regions` whose Destroy is under way: from their
    /// unpublishing (under `regions`' lock, which is taken before this
    /// list's) until every object is freed. debugfs lists them; an owner's
    /// unload and a second Destroy of the same region wait for them.
    #[pin]
    destroying: DestroyingRegions,
    /// World records and objects: their locks and RCU rules are with their
    /// fields in rust/world/.
    #[pin]
    worlds: WorldTable,
    /// Task creations in which a constructor (or an allocation) failed.
    task_constructor_failures: Atomic<usize>,
    /// User tasks killed because of such a failure.
    tasks_killed: Atomic<usize>,
    /// Threads of global init left without an object after such a failure:
    /// init ignores SIGKILL.
    init_tasks_not_killed: Atomic<usize>,
}

/// What becomes of a new task whose constructor (or allocation) failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FailedTask {
    /// A user task: killed (SIGKILL) before it runs user code.
    Kill,
    /// A kernel thread or user worker: left without the object.
    KeepKernelTask,
    /// A thread of global init, which ignores SIGKILL: left without the
    /// object, counted apart.
    KeepInitTask,
}

impl FailedTask {
    /// The fate of `task`.
    pub(crate) fn of(task: &Task) -> Self {
        if tasks::is_kernel_task(task) {
            Self::KeepKernelTask
        } else if tasks::is_global_init(task) {
            Self::KeepInitTask
        } else {
            Self::Kill
        }
    }
}

impl Service {
    /// No region, no world.
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        Ok(try_pin_init!(Self {
            regions <- RegionTable::new()?,
            destroying <- DestroyingRegions::new()?,
            worlds <- WorldTable::new()?,
            task_constructor_failures: Atomic::new(0),
            tasks_killed: Atomic::new(0),
            init_tasks_not_killed: Atomic::new(0),
        }))
    }

    /// Create: a new region, constructed on every existing world before this
    /// returns. On a constructor failure everything constructed is destroyed
    /// and the constructor's error returned. May block.
    pub(crate) fn create(&self, props: RegionProps) -> Result<u64> {
        let mut table = self.regions.lock();
        let handle = table
            .publish(props, |region| self.worlds.settle(region))?
            .encode();
        // Pairs with the barrier in `task_created`: a task that the scan
        // below misses was added to the task list late enough for its hook
        // to see the region.
        smp_mb(Full);
        let region = table.get(handle)?;
        trace::region_created(region);
        if let Err(e) = self.construct_existing(region) {
            let region = table.unpublish(handle)?;
            self.retire(table, region);
            return Err(e);
        }
        // New worlds' entries cover the new region's slot from now on.
        self.worlds.remake_layout(table.live(), table.version());
        Ok(handle)
    }

    /// Constructs `region`'s object on every thread now in the system,
    /// charging what it allocates for a thread (its record, entries and
    /// object, and what the constructor allocates with `__GFP_ACCOUNT`) to
    /// that thread's memory cgroup. A thread that gets no object fails
    /// Create, and is traced.
    fn construct_existing(&self, region: &Region) -> Result {
        let threads = ThreadList::collect()?;
        for task in threads.iter() {
            let _charge = ChargeToTask::new(task);
            self.construct_on(task, region).inspect_err(|&e| {
                trace::constructor_failed(tasks::world_id(task), region.handle().encode(), e)
            })?;
        }
        Ok(())
    }

    /// Gives `task` an object of `region`, and a record first if it has none.
    fn construct_on(&self, task: &Task, region: &Region) -> Result {
        let record = match self.worlds.get_ref(task)? {
            Some(record) => record,
            None => match self.worlds.attach(
                WorldRecord::new(task, self.regions.live_slots(), AllocContext::Sleepable)?,
                task,
            )? {
                Some(record) => record,
                // Exiting: its exit hook has run or will find nothing.
                None => return Ok(()),
            },
        };
        self.worlds
            .construct(&record, region, AllocContext::Sleepable)
    }

    /// Destroy: the handle fails from now on; waits for remote references,
    /// destructs and frees every object. May block for long.
    /// A Destroy of a region whose Destroy is already under way (another
    /// caller's, or its owner's unload) waits for that one to finish, then
    /// fails as for any destroyed handle.
    pub(crate) fn destroy(&self, handle: u64) -> Result {
        let mut table = self.regions.lock();
        match table.unpublish(handle) {
            Ok(region) => {
                self.retire(table, region);
                Ok(())
            }
            Err(e) => {
                drop(table);
                // Unpublished under the table's lock, so listed already if
                // it is being destroyed.
                self.destroying.wait_for_handle(handle);
                Err(e)
            }
        }
    }

    /// Everything after unpublishing (under `table`, which this unlocks):
    /// drain lookups and references, sweep objects, wait for their frees,
    /// free the region, then let its slot be reused.
    fn retire(&self, table: LockedTable<'_>, region: Unpublished) {
        // New worlds' entries no longer cover its slot.
        self.worlds.remake_layout(table.live(), table.version());
        // Listed before the table is unlocked: an owner's unload that no
        // longer finds the region in the table finds it in the list, and
        // waits until none of its destructors can run (`owner_going`).
        let (swept, waited) = self.destroying.listed(&region, || {
            drop(table);
            let wait_started = Instant::<Monotonic>::now();
            // Lookups that saw the region published have finished (and
            // counted their references), the local lookup's fast path
            // included (it checks the published handle with preemption
            // off); hooks that saw it have finished constructing.
            rcu::synchronize_rcu();
            region.wait_for_remote_refs(DESTROY_WAIT_REPORT_MS, |left| {
                pr_warn!(
                    "destroy of region {:#x} (owner {}) still waits for {} remote references after {} s\n",
                    region.handle().encode(),
                    region.owner_name().to_str().unwrap_or("?"),
                    left,
                    DESTROY_WAIT_REPORT_MS / 1000
                )
            });
            let waited = wait_started.elapsed();
            let swept = self.worlds.sweep(&region);
            // Destructors that exits and releases run on objects they
            // claimed before the sweep have returned, and every object is
            // freed.
            region.wait_until_freed();
            (swept, waited)
        });
        let (handle, slot) = (region.handle().encode(), region.slot());
        drop(region);
        let mut table = self.regions.lock();
        self.worlds.unsettle(slot);
        table.release_slot(slot);
        // The last region is gone: no world needs a record any more. Under
        // the lock no Create runs, and a hook that saw a region has finished
        // (the grace period above), so no record is being attached.
        if !self.regions.any_live() {
            self.worlds.detach_all();
        }
        drop(table);
        trace::region_destroyed(handle, swept, waited);
    }

    /// The owner of regions is unloading without having destroyed them.
    /// Its text is freed when this returns, so this also waits for another
    /// module's Destroy of one of its regions, whose sweep and racing exits
    /// call its destructor.
    pub(crate) fn owner_going(&self, module: *mut bindings::module, name: &CStr) {
        while let Some((table, region)) = self.take_owned_by(Some(module)) {
            pr_warn!(
                "module {} unloaded without destroying region {:#x}; destroying it\n",
                name.to_str().unwrap_or("?"),
                region.handle().encode()
            );
            trace::owner_unloaded(name, region.handle().encode());
            self.retire(table, region);
        }
        self.destroying.wait_for_owner(module);
    }

    /// Destroys every region left (module unload) and detaches every world.
    pub(crate) fn shutdown(&self) {
        while let Some((table, region)) = self.take_owned_by(None) {
            pr_warn!(
                "region {:#x} was never destroyed; destroying it\n",
                region.handle().encode()
            );
            self.retire(table, region);
        }
        self.worlds.detach_all();
        deferred::flush();
    }

    /// Tears down records whose last reference was dropped where that could
    /// not be done. Process context.
    pub(crate) fn run_deferred_teardowns(&self, records: DeferredRecords) {
        self.worlds.tear_down_deferred(records);
    }

    /// Unpublishes a region `module` owns (any region for `None`), and
    /// keeps the table locked for [`Service::retire`].
    fn take_owned_by(
        &self,
        module: Option<*mut bindings::module>,
    ) -> Option<(LockedTable<'_>, Unpublished)> {
        let mut table = self.regions.lock();
        let handle = table.find_owned_by(module)?.handle().encode();
        let region = table.unpublish(handle).ok()?;
        Some((table, region))
    }

    /// LookUpLocal: the current task's object. Any context; no lock.
    pub(crate) fn lookup_local(&self, handle: u64) -> Result<NonNull<u8>> {
        stats::count_local_lookup();
        let guard = rcu::read_lock();
        let region = self.regions.get(handle, &guard)?;
        self.worlds.lookup_local(kernel::current!(), region, &guard)
    }

    /// LookUp: the object of `world`, with a reference. Never blocks.
    pub(crate) fn lookup(&self, world: World<'_>, handle: u64) -> Result<NonNull<u8>> {
        stats::count_remote_lookup();
        let guard = rcu::read_lock();
        let region = self.regions.get(handle, &guard)?;
        self.worlds.lookup(world, region, &guard)
    }

    /// Visit: calls `f` with the world ID and object of every world that
    /// holds an object of region `handle`, each at most once, one at a time
    /// (see [`WorldTable::visit`] for which worlds and what `f` may do),
    /// until `f` breaks. The region's Destroy waits until the visit ends;
    /// once that Destroy has begun, the visit stops at the next world
    /// (`EINVAL`). Process context; may sleep (and `f` may).
    pub(crate) fn visit<B>(
        &self,
        handle: u64,
        f: impl FnMut(i32, NonNull<u8>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>> {
        kernel::task::might_sleep();
        let region = self.regions.hold(handle)?;
        self.worlds.visit(&region, f)
    }

    /// Release: drops a LookUp reference. Never blocks.
    pub(crate) fn release(&self, wid: i32, object: *const u8) -> Result {
        self.worlds.release(wid, object)
    }

    /// Hook: `task` is being created and has not run yet. Gives it an
    /// object of every live region; on a failure a user task is killed
    /// before it runs user code, a kernel task is left without the object.
    pub(crate) fn task_created(&self, task: &Task) {
        // Taken first: Destroy's grace period covers everything from the
        // check of `any_live` on, so no record is attached after the last
        // Destroy has detached them all.
        let guard = rcu::read_lock();
        // Pairs with the barrier in `create`.
        smp_mb(Full);
        if !self.regions.any_live() {
            return;
        }
        let mut failed = false;
        // The layout, if no region was published or unpublished since it was
        // made: then its span is exactly the live regions' slots.
        let fresh = match self
            .worlds
            .layout(&guard)
            .filter(|layout| layout.version() == self.regions.version())
        {
            Some(layout) => WorldRecord::in_layout(task, layout, AllocContext::NewTask),
            None => WorldRecord::new(task, self.regions.live_slots(), AllocContext::NewTask),
        };
        match fresh.and_then(|fresh| self.worlds.attach(fresh, task)) {
            Ok(Some(record)) => self.regions.for_each(&guard, |region| {
                if let Err(e) = self
                    .worlds
                    .construct(&record, region, AllocContext::NewTask)
                {
                    trace::constructor_failed(tasks::world_id(task), region.handle().encode(), e);
                    failed = true;
                }
            }),
            Ok(None) => {}
            // No record: no region's object.
            Err(e) => {
                self.regions.for_each(&guard, |region| {
                    trace::constructor_failed(tasks::world_id(task), region.handle().encode(), e)
                });
                failed = true;
            }
        }
        drop(guard);
        if !failed {
            return;
        }
        self.task_constructor_failures.add(1, Relaxed);
        let fate = FailedTask::of(task);
        trace::task_failed(tasks::world_id(task), fate);
        match fate {
            FailedTask::Kill => {
                // SAFETY: `task` is valid for the hook's duration. SIGKILL to
                // a task that has not run yet is delivered before it returns
                // to user space.
                unsafe { bindings::send_sig(bindings::SIGKILL as i32, task.as_ptr(), 1) };
                self.tasks_killed.add(1, Relaxed);
            }
            FailedTask::KeepInitTask => {
                pr_warn_once!("a new thread of init has no object: a constructor failed\n");
                self.init_tasks_not_killed.add(1, Relaxed);
            }
            FailedTask::KeepKernelTask => {}
        }
    }

    /// debugfs `regions`: a header, then one line per live region, then one
    /// per region being destroyed.
    pub(crate) fn write_regions(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "handle owner size align ctor dtor objects bytes remote_refs ctor_failures state"
        )?;
        {
            let guard = rcu::read_lock();
            let mut result = Ok(());
            self.regions.for_each(&guard, |r| {
                result = result.and_then(|()| write_region(f, r, "live"));
            });
            result?;
        }
        let destroying = self.destroying.lock();
        let result = destroying
            .iter()
            .try_for_each(|r| write_region(f, r, "destroying"));
        result
    }

    /// debugfs `stats`: one `name value` line per total.
    pub(crate) fn write_stats(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut regions, mut objects, mut bytes) = (0, 0, 0);
        {
            let guard = rcu::read_lock();
            self.regions.for_each(&guard, |r| {
                regions += 1;
                let live = r.live_objects();
                objects += live;
                bytes += live * r.bytes_per_object();
            });
        }
        let (local, remote) = stats::lookup_totals();
        writeln!(f, "worlds {}", self.worlds.records())?;
        writeln!(f, "regions {regions}")?;
        writeln!(f, "objects {objects}")?;
        writeln!(f, "bytes {bytes}")?;
        writeln!(f, "lookups_local {local}")?;
        writeln!(f, "lookups_remote {remote}")?;
        writeln!(
            f,
            "task_constructor_failures {}",
            self.task_constructor_failures.load(Relaxed)
        )?;
        writeln!(f, "tasks_killed {}", self.tasks_killed.load(Relaxed))?;
        writeln!(
            f,
            "init_tasks_not_killed {}",
            self.init_tasks_not_killed.load(Relaxed)
        )
    }

    /// Hook: `task` has called `execve()` (and may have a new TID).
    pub(crate) fn task_execed(&self, task: &Task) {
        self.worlds.exec(task);
    }

    /// Hook: `task` exits. Without a record it takes no lock (see
    /// `WorldTable::detach`).
    pub(crate) fn task_exited(&self, task: &Task) {
        self.worlds.detach(task);
    }
}

/// One line of debugfs `regions`: `region`'s fields, then `state`.
fn write_region(f: &mut fmt::Formatter<'_>, r: &Region, state: &str) -> fmt::Result {
    let (ctor, dtor) = r.has_callbacks();
    let objects = r.live_objects();
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    writeln!(
        f,
        "{:#x} {} {} {} {} {} {} {} {} {} {}",
        r.handle().encode(),
        r.owner_name().to_str().unwrap_or("?"),
        r.props_layout().size(),
        r.props_layout().align(),
        yes_no(ctor),
        yes_no(dtor),
        objects,
        objects * r.bytes_per_object(),
        r.remote_refs(),
        r.constructor_failures(),
        state,
    )
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_failed_task)]
mod tests {
    use super::FailedTask;
    use crate::{tasks, threads::ThreadList};
    use kernel::{prelude::*, sync::rcu};

    /// Global init ignores SIGKILL: its new threads must not count as killed.
    #[test]
    fn init_is_not_killed() -> Result {
        let guard = rcu::read_lock();
        let init = tasks::by_world_id(1, &guard).ok_or(ESRCH)?;
        assert_eq!(FailedTask::of(init), FailedTask::KeepInitTask);
        Ok(())
    }

    #[test]
    fn kernel_threads_are_kept_and_user_tasks_killed() -> Result {
        assert_eq!(
            FailedTask::of(kernel::current!()),
            FailedTask::KeepKernelTask
        );
        let threads = ThreadList::collect()?;
        let user = threads
            .iter()
            .find(|t| !tasks::is_kernel_task(t) && !tasks::is_global_init(t))
            .ok_or(ESRCH)?;
        assert_eq!(FailedTask::of(user), FailedTask::Kill);
        Ok(())
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_destroy_window)]
mod destroy_window_tests {
    use super::Service;
    use crate::{
        glue::world_storage_lookup_local,
        region::{destroy_window, RegionProps},
    };
    use kernel::prelude::*;

    /// The local lookup's fast path (no service is exported in the KUnit
    /// module, so a miss is `ENODEV`).
    fn fast_path(handle: u64) -> i32 {
        let mut object = core::ptr::null_mut();
        // SAFETY: `object` is valid for writes.
        unsafe { world_storage_lookup_local(handle, &mut object) }
    }

    /// Lookups fail from the moment Destroy starts, the local lookup's fast
    /// path included: inside Destroy's unpublication (a point only this
    /// module has, `destroy_window`), the fast path no longer finds the
    /// object that this task's CPU found just before. Rounds in which the
    /// task migrated in between prove nothing, and are counted apart.
    #[test]
    fn fast_path_fails_inside_destroy() -> Result {
        let service = KBox::pin_init(Service::new()?, GFP_KERNEL)?;
        let (mut warm, mut found_inside) = (0, 0);
        for _ in 0..20 {
            let handle = service.create(RegionProps::without_callbacks(8, 8)?)?;
            service.lookup_local(handle)?;
            let warmed = fast_path(handle) == 0;
            destroy_window::watch(handle);
            service.destroy(handle)?;
            let inside = destroy_window::answer();
            assert_ne!(inside, destroy_window::NOT_REACHED);
            if warmed {
                warm += 1;
                found_inside += i32::from(inside == 0);
            }
        }
        service.shutdown();
        pr_info!("{found_inside} of {warm} warm rounds found the object inside Destroy\n");
        assert!(warm > 0);
        assert_eq!(found_inside, 0);
        Ok(())
    }
}
