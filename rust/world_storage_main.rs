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
mod deferred;
mod drain;
mod exports;
mod glue;
mod handle;
mod hooks;
mod introspection;
mod irqs_off;
mod memcg;
mod object_cache;
mod object_layout;
mod percpu_count;
mod rcu_box;
mod region;
mod service;
mod stats;
mod tasks;
mod threads;
mod trace;
mod world;
mod xarray_rcu;

#[cfg(not(world_storage_kunit))]
use {
    exports::Exported,
    hooks::{OwnerNotifier, TaskHooks},
    kernel::debugfs::Scope,
    service::Service,
};

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

/// The loaded module. Initialised in the order of `init`'s list; its
/// fields are dropped in the order they are declared: the notifier and the
/// hooks detach, the exported service shuts down and is unexported, then
/// the debugfs directory goes and with it the service.
#[cfg(not(world_storage_kunit))]
#[pin_data]
struct WorldStorageModule {
    #[pin]
    notifier: OwnerNotifier,
    hooks: TaskHooks,
    exported: Exported,
    /// The service, owned by its debugfs directory (whose files read it).
    #[pin]
    service: Scope<Service>,
}

#[cfg(not(world_storage_kunit))]
impl kernel::InPlaceModule for WorldStorageModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            service <- introspection::with_debugfs(Service::new()?),
            // SAFETY: `service` is initialised (above) and pinned in `this`;
            // it is declared after `exported`, so it is dropped after it (and
            // on an error below, pin-init drops `exported` first too). This is
            // the only `Exported`.
            exported: unsafe { Exported::new(&(*this.as_ptr()).service) },
            // SAFETY: `service` is initialised and pinned in `this`, and
            // declared after `hooks`, so it outlives them (on an error below,
            // pin-init drops `hooks` before `service`).
            hooks: unsafe { TaskHooks::register(&(*this.as_ptr()).service)? },
            // SAFETY: `service` is initialised and pinned in `this`, and
            // declared after `notifier`, so it outlives it.
            notifier <- unsafe { OwnerNotifier::register(&(*this.as_ptr()).service) },
        })
    }
}
