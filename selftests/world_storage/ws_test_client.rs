// SPDX-License-Identifier: GPL-2.0

//! ws_test_client: a world storage client written with the safe Rust API,
//! driven by the kselftests through debugfs.
//!
//! `/sys/kernel/debug/ws_test_client/control`: write one command; a failing
//! command's write returns its errno. Reading gives the calling task's last
//! result line. Commands (`R` is a region slot, 0 to 3):
//!
//! | command | does | result |
//! |---|---|---|
//! | `create R` | creates a region of `Counted` | |
//! | `destroy R` | drops it: destroys it, or the last held reference does at `unhold` | |
//! | `leak R` | forgets it: only module unload destroys it (`EBUSY` once `hold` shared it) | |
//! | `set R V` | stores `V` in the caller's object (`local()`) | |
//! | `getlocal R` | reads the caller's object | `wid=W value=V` |
//! | `get R TID` | remote lookup by TID, released at once | `wid=W value=V` |
//! | `getleader R` | remote lookup of the caller's group leader by `&Task` | `wid=W value=V` |
//! | `hold R TID` | remote lookup kept until `unhold` (an [`ArcRef`]: it shares the region) | |
//! | `unhold` | releases every held reference; fails with the first release's error | |
//! | `counts R` | constructor and destructor calls so far | `ctor=C dtor=D` |
//! | `fail none`, `fail all`, `fail after N` | constructor failure policy (error `EDOM`) | |
//! | `createbig` | creates the region of `Big` (`BIG_SIZE` bytes, zero-filled) | |
//! | `destroybig` | drops it | |
//! | `destroywindow N` | `N` rounds of Destroy racing the caller's lookups (see [`destroy_window`]) | `raced=K found_after=F` |

use core::{
    ffi::c_int,
    mem::ManuallyDrop,
    sync::atomic::{AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering},
};
use kernel::{
    c_str,
    debugfs::{Dir, File},
    fmt, new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, Mutex, UniqueArc},
    time::{delay::fsleep, Delta},
    uaccess::UserSliceReader,
    workqueue::{self, impl_has_work, new_work, Work, WorkItem},
};

#[path = "../../include/world_storage.rs"]
mod world_storage;

use world_storage::{ArcRef, Pid, WorldObject, WorldStorage};

module! {
    type: TestClient,
    name: "ws_test_client",
    authors: ["world storage developers"],
    description: "World storage test client (safe Rust API), driven from debugfs",
    license: "GPL",
}

const SLOTS: usize = 4;

/// Constructor and destructor calls per region slot.
static CTOR_CALLS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static DTOR_CALLS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

/// Constructor failure policy: -1 never, 0 always, N > 0 after N more
/// successful constructions.
static FAIL_AFTER: AtomicI64 = AtomicI64::new(-1);

fn constructor_fails() -> bool {
    FAIL_AFTER
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n > 0).then(|| n - 1)
        })
        .map_or_else(|n| n == 0, |_| false)
}

/// The object of region slot `R`: its world and a value the tests set.
struct Counted<const R: usize> {
    wid: Pid,
    value: AtomicU64,
}

impl<const R: usize> WorldObject for Counted<R> {
    fn init(wid: Pid) -> impl PinInit<Self, Error> {
        if constructor_fails() {
            return Err(EDOM);
        }
        CTOR_CALLS[R].fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            wid,
            value: AtomicU64::new(0),
        })
    }
}

impl<const R: usize> Drop for Counted<R> {
    fn drop(&mut self) {
        DTOR_CALLS[R].fetch_add(1, Ordering::Relaxed);
    }
}

/// The size of the `Big` region's objects.
const BIG_SIZE: usize = 16384;

/// The object of the `Big` region: large enough that the memory of a few
/// hundred of them stands out of a cgroup's usage.
struct Big {
    bytes: [u8; BIG_SIZE],
}

impl WorldObject for Big {
    fn init(_wid: Pid) -> impl PinInit<Self, Error> {
        // In place: a `Big` does not fit on the kernel stack.
        try_init!(Self {
            bytes <- pin_init::init_zeroed(),
        })
    }
}

/// The object of `destroywindow`'s regions: its world's ID.
struct Window(#[allow(dead_code, reason = "only its place is looked up")] Pid);

impl WorldObject for Window {
    fn init(wid: Pid) -> impl PinInit<Self, Error> {
        Ok::<_, Error>(Window(wid))
    }
}

extern "C" {
    /// The C API's Destroy: `destroywindow` destroys a region by its handle
    /// while its `WorldStorage` stays in place to look up through.
    fn world_storage_destroy(handle: u64) -> c_int;
}

/// Remote lookups a `destroywindow` round makes at most while it waits for
/// the Destroy to start.
const WINDOW_LOOKUPS: usize = 1 << 22;

/// The Destroy of a `destroywindow` round, by handle, from a work item.
/// (A work item of this module's own: `Queue::try_spawn`'s lock class is
/// shared by every module that uses it, under one name per module, which
/// lockdep reports.)
#[pin_data]
struct DestroyByHandle {
    handle: u64,
    /// Destroy's result once it returned; 1 until then.
    result: AtomicI32,
    #[pin]
    work: Work<DestroyByHandle>,
}

impl_has_work! {
    impl HasWork<Self> for DestroyByHandle { self.work }
}

impl WorkItem for DestroyByHandle {
    type Pointer = Arc<DestroyByHandle>;

    fn run(this: Arc<DestroyByHandle>) {
        // SAFETY: no requirement; `handle` names a region destroyed only
        // here (its `WorldStorage` is never dropped).
        let ret = unsafe { world_storage_destroy(this.handle) };
        this.result.store(ret, Ordering::Release);
    }
}

/// `rounds` rounds of the Destroy window through the safe API's
/// `local()` (its inlined `asm!` fast path first), as ws_abi_test's
/// `local_lookup_fails_once_destroy_started` does through the C ones: the
/// caller (pinned to one CPU by the kselftest) has its object found, a
/// work item destroys the region, and the caller looks its object up
/// remotely until that fails, then locally. Lookups fail from the moment
/// Destroy starts: the local one must fail too. Returns the rounds whose
/// remote lookup failed before the bound and, of those, the rounds whose
/// local lookup still found the object.
fn destroy_window(module: &'static ThisModule, rounds: u32) -> Result<(u32, u32)> {
    let me = current!().pid();
    let (mut raced, mut found_after) = (0, 0);
    for _ in 0..rounds {
        let storage = WorldStorage::<Window>::new(module)?;
        // This CPU now points at the caller's record.
        storage.local()?;
        let handle = storage.handle();
        let destroy = Arc::pin_init(
            pin_init!(DestroyByHandle {
                handle,
                result: AtomicI32::new(1),
                work <- new_work!("ws_test_client::DestroyByHandle"),
            }),
            GFP_KERNEL,
        )?;
        // Destroyed by the work item, by handle: never dropped.
        let storage = ManuallyDrop::new(storage);
        if workqueue::system_unbound()
            .enqueue(destroy.clone())
            .is_err()
        {
            drop(ManuallyDrop::into_inner(storage));
            return Err(EBUSY);
        }
        let remote_failed = (0..WINDOW_LOOKUPS).any(|_| storage.get(me).is_err());
        let local_found = storage.local().is_ok();
        if remote_failed {
            raced += 1;
            found_after += u32::from(local_found);
        }
        let mut waited = 0;
        while destroy.result.load(Ordering::Acquire) == 1 {
            if waited == 10_000 {
                return Err(ETIMEDOUT);
            }
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
        kernel::error::to_result(destroy.result.load(Ordering::Acquire))?;
    }
    Ok((raced, found_after))
}

/// A reference kept by `hold`, of any slot's type.
trait Held: Send {
    /// Releases the reference (once; later calls do nothing).
    fn release(&mut self) -> Result;
}

impl<const R: usize> Held for Option<ArcRef<Counted<R>>> {
    fn release(&mut self) -> Result {
        self.take().map_or(Ok(()), ArcRef::release)
    }
}

/// What the commands do with a region, whatever its slot.
trait TestRegion: Send + Sync {
    /// Gives the region up without destroying it: only its owner's unload
    /// will. (Nothing else leaks: the kernel memory of `self` is freed.)
    /// `EBUSY` once the region is shared with held references.
    fn leak(&mut self) -> Result;
    fn set(&self, value: u64) -> Result;
    fn get_local(&self) -> Result<(Pid, u64)>;
    fn get(&self, tid: Pid) -> Result<(Pid, u64)>;
    fn get_leader(&self) -> Result<(Pid, u64)>;
    fn hold(&mut self, tid: Pid) -> Result<KBox<dyn Held>>;
    /// Visits every world's object: (worlds visited, those whose value is
    /// not 0, the sum of the values).
    fn visit_sum(&self) -> Result<(u64, u64, u64)>;
}

fn show<const R: usize>(object: &Counted<R>) -> (Pid, u64) {
    (object.wid, object.value.load(Ordering::Relaxed))
}

/// The region of slot `R`: owned, until `hold` shares it with the held
/// references ([`ArcRef`]s keep it until they are released), or leaked.
enum Slot<const R: usize> {
    Owned(WorldStorage<Counted<R>>),
    Shared(Arc<WorldStorage<Counted<R>>>),
    Leaked,
}

impl<const R: usize> Slot<R> {
    fn storage(&self) -> Result<&WorldStorage<Counted<R>>> {
        match self {
            Slot::Owned(storage) => Ok(storage),
            Slot::Shared(storage) => Ok(storage),
            Slot::Leaked => Err(ENOENT),
        }
    }
}

impl<const R: usize> TestRegion for Slot<R> {
    fn leak(&mut self) -> Result {
        // Only an owned region: an `Arc`'s memory cannot be freed without
        // dropping (destroying) what it holds.
        if matches!(self, Slot::Shared(_)) {
            return Err(EBUSY);
        }
        core::mem::forget(core::mem::replace(self, Slot::Leaked));
        Ok(())
    }

    fn set(&self, value: u64) -> Result {
        self.storage()?
            .local()?
            .value
            .store(value, Ordering::Relaxed);
        Ok(())
    }

    fn get_local(&self) -> Result<(Pid, u64)> {
        Ok(show(&*self.storage()?.local()?))
    }

    fn get(&self, tid: Pid) -> Result<(Pid, u64)> {
        Ok(show(&*self.storage()?.get(tid)?))
    }

    fn get_leader(&self) -> Result<(Pid, u64)> {
        Ok(show(&*self.storage()?.get_task(current!().group_leader())?))
    }

    fn hold(&mut self, tid: Pid) -> Result<KBox<dyn Held>> {
        if matches!(self, Slot::Owned(_)) {
            // Allocated first: nothing fails once the region is taken out.
            let shared = UniqueArc::new_uninit(GFP_KERNEL)?;
            if let Slot::Owned(storage) = core::mem::replace(self, Slot::Leaked) {
                *self = Slot::Shared(shared.write(storage).into());
            }
        }
        let Slot::Shared(storage) = self else {
            return Err(ENOENT);
        };
        Ok(KBox::new(
            Some(ArcRef::get(storage.clone(), tid)?),
            GFP_KERNEL,
        )?)
    }

    fn visit_sum(&self) -> Result<(u64, u64, u64)> {
        let (mut visited, mut set, mut sum) = (0, 0, 0);
        self.storage()?.for_each(|_wid, object| {
            let value = object.value.load(Ordering::Relaxed);
            visited += 1;
            set += u64::from(value != 0);
            sum += value;
            Ok(())
        })?;
        Ok((visited, set, sum))
    }
}

fn new_region(slot: usize, module: &'static ThisModule) -> Result<KBox<dyn TestRegion>> {
    Ok(match slot {
        0 => KBox::new(Slot::<0>::Owned(WorldStorage::new(module)?), GFP_KERNEL)?,
        1 => KBox::new(Slot::<1>::Owned(WorldStorage::new(module)?), GFP_KERNEL)?,
        2 => KBox::new(Slot::<2>::Owned(WorldStorage::new(module)?), GFP_KERNEL)?,
        3 => KBox::new(Slot::<3>::Owned(WorldStorage::new(module)?), GFP_KERNEL)?,
        _ => return Err(EINVAL),
    })
}

/// The state behind the control file.
#[pin_data]
struct Client {
    module: &'static ThisModule,
    /// Held references: each shares its region ([`ArcRef`]), so the last
    /// of a destroyed region's references to be released destroys it.
    #[pin]
    held: Mutex<KVec<KBox<dyn Held>>>,
    #[pin]
    regions: Mutex<[Option<KBox<dyn TestRegion>>; SLOTS]>,
    /// The region of `Big`, if created.
    #[pin]
    big: Mutex<Option<WorldStorage<Big>>>,
    /// Last result line of each task that asked for one.
    #[pin]
    results: Mutex<KVec<(Pid, CString)>>,
}

impl Client {
    fn region<T>(
        &self,
        slot: usize,
        f: impl FnOnce(&mut dyn TestRegion) -> Result<T>,
    ) -> Result<T> {
        let mut regions = self.regions.lock();
        f(regions
            .get_mut(slot)
            .ok_or(EINVAL)?
            .as_deref_mut()
            .ok_or(ENOENT)?)
    }

    fn reply(&self, line: fmt::Arguments<'_>) -> Result {
        let line = CString::try_from_fmt(line)?;
        let tid = current!().pid();
        let mut results = self.results.lock();
        results.retain(|(t, _)| *t != tid);
        results.push((tid, line), GFP_KERNEL)?;
        Ok(())
    }

    fn run(&self, command: &str) -> Result {
        let mut words = command.split_whitespace();
        let verb = words.next().ok_or(EINVAL)?;
        let mut arg = || -> Result<i64> { words.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL) };
        let slot = |n: i64| usize::try_from(n).ok().filter(|&s| s < SLOTS).ok_or(EINVAL);
        let tid = |n: i64| Pid::try_from(n).map_err(|_| EINVAL);
        let shown = |(wid, value): (Pid, u64)| self.reply(fmt!("wid={wid} value={value}"));
        match verb {
            "create" => {
                let s = slot(arg()?)?;
                if self.regions.lock()[s].is_some() {
                    return Err(EBUSY);
                }
                let region = new_region(s, self.module)?;
                self.regions.lock()[s] = Some(region);
                Ok(())
            }
            "destroy" => {
                let region = self.regions.lock()[slot(arg()?)?].take().ok_or(ENOENT)?;
                // Dropped here, outside the lock: Destroy may block.
                drop(region);
                Ok(())
            }
            "leak" => {
                let s = slot(arg()?)?;
                let mut regions = self.regions.lock();
                regions[s].as_deref_mut().ok_or(ENOENT)?.leak()?;
                regions[s] = None;
                Ok(())
            }
            "set" => {
                let (s, v) = (slot(arg()?)?, arg()?);
                self.region(s, |r| r.set(v as u64))
            }
            "getlocal" => shown(self.region(slot(arg()?)?, |r| r.get_local())?),
            "get" => {
                let (s, t) = (slot(arg()?)?, tid(arg()?)?);
                shown(self.region(s, |r| r.get(t))?)
            }
            "visitsum" => {
                let (visited, set, sum) = self.region(slot(arg()?)?, |r| r.visit_sum())?;
                self.reply(fmt!("visited={visited} set={set} sum={sum}"))
            }
            "getleader" => shown(self.region(slot(arg()?)?, |r| r.get_leader())?),
            "hold" => {
                let (s, t) = (slot(arg()?)?, tid(arg()?)?);
                let held = self.region(s, |r| r.hold(t))?;
                self.held.lock().push(held, GFP_KERNEL)?;
                Ok(())
            }
            "unhold" => {
                // Every reference is released, even after a failure.
                let mut held = core::mem::take(&mut *self.held.lock());
                let mut result = Ok(());
                for h in held.iter_mut() {
                    let released = h.release();
                    if result.is_ok() {
                        result = released;
                    }
                }
                result
            }
            "counts" => {
                let s = slot(arg()?)?;
                let (c, d) = (
                    CTOR_CALLS[s].load(Ordering::Relaxed),
                    DTOR_CALLS[s].load(Ordering::Relaxed),
                );
                self.reply(fmt!("ctor={c} dtor={d}"))
            }
            "fail" => {
                let n = match words.next().ok_or(EINVAL)? {
                    "none" => -1,
                    "all" => 0,
                    "after" => words.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?,
                    _ => return Err(EINVAL),
                };
                FAIL_AFTER.store(n, Ordering::Relaxed);
                Ok(())
            }
            "createbig" => {
                if self.big.lock().is_some() {
                    return Err(EBUSY);
                }
                let region = WorldStorage::new(self.module)?;
                *self.big.lock() = Some(region);
                Ok(())
            }
            "destroybig" => {
                let region = self.big.lock().take().ok_or(ENOENT)?;
                // Dropped here, outside the lock: Destroy may block.
                drop(region);
                Ok(())
            }
            "destroywindow" => {
                let rounds = u32::try_from(arg()?).map_err(|_| EINVAL)?;
                let (raced, found_after) = destroy_window(self.module, rounds)?;
                self.reply(fmt!("raced={raced} found_after={found_after}"))
            }
            _ => Err(EINVAL),
        }
    }
}

fn read_result(client: &Client, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let tid = current!().pid();
    for (t, line) in client.results.lock().iter() {
        if *t == tid {
            return writeln!(f, "{}", line.to_str().unwrap_or(""));
        }
    }
    Ok(())
}

fn write_command(client: &Client, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 128];
    let n = reader.len();
    if n >= buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    let command = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
    client.run(command.trim())
}

#[pin_data]
struct TestClient {
    #[pin]
    control: File<Client>,
    _dir: Dir,
}

impl kernel::InPlaceModule for TestClient {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let dir = Dir::new(c_str!("ws_test_client"));
        let client = try_pin_init!(Client {
            module,
            held <- new_mutex!(KVec::new()),
            regions <- new_mutex!([const { None }; SLOTS]),
            big <- new_mutex!(None),
            results <- new_mutex!(KVec::new()),
        });
        try_pin_init!(Self {
            control <- dir.read_write_callback_file(
                c_str!("control"),
                client,
                &read_result,
                &write_command,
            ),
            _dir: dir,
        })
    }
}
