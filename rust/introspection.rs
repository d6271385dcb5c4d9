// SPDX-License-Identifier: GPL-2.0

//! debugfs: `/sys/kernel/debug/world_storage/{regions,stats}`, in the format
//! documented in `Documentation/world-storage.rst`.

use crate::exports;
use kernel::{
    c_str,
    debugfs::{Dir, File},
    fmt,
    prelude::*,
};

fn show_regions(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match exports::storage() {
        Ok(storage) => storage.write_regions(f),
        Err(_) => Ok(()),
    }
}

fn show_stats(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match exports::storage() {
        Ok(storage) => storage.write_stats(f),
        Err(_) => Ok(()),
    }
}

/// The module's debugfs directory; removed on drop (which waits for readers).
#[pin_data]
pub(crate) struct Introspection {
    #[pin]
    regions: File<()>,
    #[pin]
    stats: File<()>,
    dir: Dir,
}

impl Introspection {
    /// Creates the directory and its files.
    pub(crate) fn new() -> impl PinInit<Self> {
        let dir = Dir::new(c_str!("world_storage"));
        pin_init!(Self {
            regions <- dir.read_callback_file(c_str!("regions"), (), &show_regions),
            stats <- dir.read_callback_file(c_str!("stats"), (), &show_stats),
            dir,
        })
    }
}
