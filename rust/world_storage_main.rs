// SPDX-License-Identifier: GPL-2.0

//! Per-world storage: every task ("world") gets its own block of memory for
//! each registered region, as VMware's vmkapi per-world storage defines it.
//!
//! This file only wires the crate's modules together; see
//! `Documentation/world-storage.rst` for the design.
//!
//! Built twice (see `Kbuild`): as `world_storage.ko`, the product, and with
//! `--cfg world_storage_kunit` as `world_storage_kunit.ko`, which holds the
//! crate's KUnit suites (each `#[kunit_tests]` module is
//! `#[cfg(world_storage_kunit)]`) and neither exports the API nor attaches
//! the hooks: its suites run when it is loaded, and loading
//! `world_storage.ko` prints no KTAP.
#![cfg_attr(
    world_storage_kunit,
    allow(dead_code, reason = "the test module runs only the crate's suites")
)]

use kernel::prelude::*;

#[cfg(world_storage_kunit)]
mod abi_layout_test;
/// The Rust client API (`include/world_storage.rs`), compiled here for its
/// C ABI mirror, `ffi::Props`, which `exports` receives.
#[path = "../include/world_storage.rs"]
mod client_api;
mod current_cache;
mod deferred;
mod drain;
mod exports;
mod glue;
mod handle;
mod hooks;
mod introspection;
mod object_cache;
mod object_layout;
mod region;
mod service;
mod stats;
mod tasks;
mod threads;
mod world;
mod xarray_rcu;

#[cfg(not(world_storage_kunit))]
use hooks::{OwnerNotifier, TaskHooks};
#[cfg(not(world_storage_kunit))]
use introspection::Introspection;
#[cfg(not(world_storage_kunit))]
use service::Service;

#[cfg(not(world_storage_kunit))]
module! {
    type: WorldStorageModule,
    name: "world_storage",
    authors: ["world storage developers"],
    description: "Per-world (per-task) storage regions with an exported C and Rust API",
    license: "GPL",
}

#[cfg(world_storage_kunit)]
module! {
    type: WorldStorageKunit,
    name: "world_storage_kunit",
    authors: ["world storage developers"],
    description: "KUnit suites of world_storage.ko's crate (run when loaded)",
    license: "GPL",
}

/// The test module: its suites run at load; nothing else happens.
#[cfg(world_storage_kunit)]
struct WorldStorageKunit;

#[cfg(world_storage_kunit)]
impl kernel::Module for WorldStorageKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(WorldStorageKunit)
    }
}

/// The loaded module. Fields are declared in the order they are torn down.
#[cfg(not(world_storage_kunit))]
struct WorldStorageModule {
    introspection: Option<Pin<KBox<Introspection>>>,
    notifier: Option<Pin<KBox<OwnerNotifier>>>,
    hooks: Option<TaskHooks>,
    storage: Pin<KBox<Service>>,
}

#[cfg(not(world_storage_kunit))]
impl kernel::Module for WorldStorageModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let storage = KBox::pin_init(Service::new()?, GFP_KERNEL)?;
        exports::set_storage(Some(&storage));
        let mut this = WorldStorageModule {
            introspection: None,
            notifier: None,
            hooks: None,
            storage,
        };
        // SAFETY: `this.storage` outlives the hooks and the notifier: they
        // are dropped (detached) first, in `Drop`.
        this.hooks = Some(unsafe { TaskHooks::register(&this.storage)? });
        // SAFETY: as above.
        this.notifier = Some(KBox::pin_init(
            unsafe { OwnerNotifier::register(&this.storage) },
            GFP_KERNEL,
        )?);
        this.introspection = Some(KBox::pin_init(Introspection::new(), GFP_KERNEL)?);
        Ok(this)
    }
}

#[cfg(not(world_storage_kunit))]
impl Drop for WorldStorageModule {
    fn drop(&mut self) {
        self.introspection = None;
        self.notifier = None;
        self.hooks = None;
        self.storage.shutdown();
        exports::set_storage(None);
    }
}
