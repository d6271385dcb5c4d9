// SPDX-License-Identifier: GPL-2.0

//! ws_sched_stats: per-task scheduling statistics in world storage.
//!
//! At every context switch, the outgoing task (the current one) finds its
//! own statistics with a *local* lookup and counts the switch and the time
//! it ran. `/sys/kernel/debug/ws_sched_stats/top` lists the tasks that ran
//! longest, found by a *visit* of every task's statistics, which holds each
//! object while it is read.

use core::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use kernel::{
    c_str,
    cpu::CpuId,
    debugfs::{Dir, File},
    fmt,
    prelude::*,
    sync::Arc,
    task::Task,
    time::{Instant, Monotonic},
};

#[path = "sched_switch_probe.rs"]
mod sched_switch_probe;
#[path = "../include/world_storage.rs"]
mod world_storage;

use sched_switch_probe::{SchedSwitchProbe, SwitchHandler};
use world_storage::{Pid, WorldObject, WorldStorage};

module! {
    type: SchedStats,
    name: "ws_sched_stats",
    authors: ["world storage developers"],
    description: "Sample: per-task context switches and on-CPU time in world storage",
    license: "GPL",
}

/// Each task's statistics: its world storage object.
struct TaskStats {
    switches: AtomicU64,
    on_cpu_ns: AtomicU64,
}

impl WorldObject for TaskStats {
    fn init(_wid: Pid) -> impl PinInit<Self, Error> {
        Ok(TaskStats {
            switches: AtomicU64::new(0),
            on_cpu_ns: AtomicU64::new(0),
        })
    }
}

/// On-CPU time from which `top` counts a task as having run.
const NOTABLE_NS: u64 = 1_000_000;

const MAX_CPUS: usize = 64;

/// What the probe and the debugfs file share.
struct Stats {
    storage: WorldStorage<TaskStats>,
    /// When each CPU last switched tasks, in ns since `epoch`.
    last_switch_ns: [AtomicI64; MAX_CPUS],
    epoch: Instant<Monotonic>,
}

impl SwitchHandler for Arc<Stats> {
    fn on_switch(&self, _prev: &Task, _next: &Task) {
        let now = (Instant::<Monotonic>::now() - self.epoch).as_nanos();
        let cpu = CpuId::current().as_u32() as usize % MAX_CPUS;
        let ran = now - self.last_switch_ns[cpu].swap(now, Relaxed);
        // `prev` is still the current task: its object is a local lookup.
        if let Ok(mine) = self.storage.local() {
            mine.switches.fetch_add(1, Relaxed);
            mine.on_cpu_ns.fetch_add(ran.max(0) as u64, Relaxed);
        }
    }
}

/// `top`: the ten live tasks with the most on-CPU time.
fn show_top(stats: &Arc<Stats>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut top: [(u64, u64, Pid); 10] = [(0, 0, 0); 10];
    let mut seen = 0usize;
    // A visit of every task's statistics, one task at a time: each object
    // stays alive while it is read, even if its task exits meanwhile.
    let visited = stats.storage.for_each(|tid, task| {
        let entry = (
            task.on_cpu_ns.load(Relaxed),
            task.switches.load(Relaxed),
            tid,
        );
        seen += usize::from(entry.0 >= NOTABLE_NS);
        if entry > top[9] {
            top[9] = entry;
            top.sort_unstable_by(|a, b| b.cmp(a));
        }
        Ok(())
    });
    visited.map_err(|_| fmt::Error)?;
    writeln!(f, "{:>7} {:>10} {:>12}", "tid", "switches", "on_cpu_us")?;
    for (on_cpu, switches, tid) in top.iter().filter(|e| e.2 != 0) {
        writeln!(f, "{tid:>7} {switches:>10} {:>12}", on_cpu / 1000)?;
    }
    writeln!(f, "({seen} live tasks have run for 1 ms or more)")
}

/// The loaded sample: fields drop in order, file before probe.
struct SchedStats {
    _top: Pin<KBox<File<Arc<Stats>>>>,
    _dir: Dir,
    _probe: SchedSwitchProbe<Arc<Stats>>,
}

impl kernel::Module for SchedStats {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let stats = Arc::new(
            Stats {
                storage: WorldStorage::new(module)?,
                last_switch_ns: [const { AtomicI64::new(0) }; MAX_CPUS],
                epoch: Instant::now(),
            },
            GFP_KERNEL,
        )?;
        let probe = SchedSwitchProbe::new(KBox::pin(stats.clone(), GFP_KERNEL)?)?;
        let dir = Dir::new(c_str!("ws_sched_stats"));
        let top = KBox::pin_init(
            dir.read_callback_file(c_str!("top"), Ok::<_, Error>(stats), &show_top),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _top: top,
            _dir: dir,
            _probe: probe,
        })
    }
}
