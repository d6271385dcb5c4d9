// SPDX-License-Identifier: GPL-2.0

//! ws_bench_rust: the Rust API's local lookup, for `make bench`. Reading
//! `/sys/kernel/debug/ws_bench_rust/run` prints `rust_local_hit <ns per op>`
//! (median of 7 runs of 20000 lookups, loop overhead included).

use core::{hint::black_box, sync::atomic::AtomicU64};
use kernel::{
    c_str,
    debugfs::{Dir, File},
    fmt,
    prelude::*,
    time::{Instant, Monotonic},
};

#[path = "../include/world_storage.rs"]
mod world_storage;

use world_storage::{Pid, WorldObject, WorldStorage};

module! {
    type: RustBench,
    name: "ws_bench_rust",
    authors: ["world storage developers"],
    description: "World storage benchmark of the Rust API",
    license: "GPL",
}

const LOOPS: u64 = 20000;
const REPS: usize = 7;

struct Counter(AtomicU64);

impl WorldObject for Counter {
    fn init(_wid: Pid) -> impl PinInit<Self, Error> {
        Ok::<_, Error>(Counter(AtomicU64::new(0)))
    }
}

fn run(storage: &WorldStorage<Counter>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut samples = [0i64; REPS];
    for sample in samples.iter_mut() {
        let start = Instant::<Monotonic>::now();
        for _ in 0..LOOPS {
            let _ = black_box(storage.local().map(|c| core::ptr::from_ref(black_box(&c.0))));
        }
        *sample = (Instant::<Monotonic>::now() - start).as_nanos();
    }
    samples.sort_unstable();
    let median = samples[REPS / 2] as u64;
    writeln!(
        f,
        "rust_local_hit {}.{:02}",
        median / LOOPS,
        median % LOOPS * 100 / LOOPS
    )
}

struct RustBench {
    _run: Pin<KBox<File<WorldStorage<Counter>>>>,
    _dir: Dir,
}

impl kernel::Module for RustBench {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let dir = Dir::new(c_str!("ws_bench_rust"));
        let storage = WorldStorage::<Counter>::new(module)?;
        let run_file = KBox::pin_init(
            dir.read_callback_file(c_str!("run"), Ok::<_, Error>(storage), &run),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _run: run_file,
            _dir: dir,
        })
    }
}
