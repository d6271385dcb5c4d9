// SPDX-License-Identifier: GPL-2.0

//! Per-world storage: every task ("world") gets its own block of memory for
//! each registered region, as VMware's vmkapi per-world storage defines it.
//!
//! This file only wires the crate's modules together; see
//! `Documentation/world-storage.rst` for the design.

use kernel::prelude::*;

mod layout;

module! {
    type: WorldStorageModule,
    name: "world_storage",
    authors: ["world storage developers"],
    description: "Per-world (per-task) storage regions with an exported C and Rust API",
    license: "GPL",
}

struct WorldStorageModule;

impl kernel::Module for WorldStorageModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded\n");
        Ok(WorldStorageModule)
    }
}

impl Drop for WorldStorageModule {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
