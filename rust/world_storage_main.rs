// SPDX-License-Identifier: GPL-2.0

//! Per-world storage: every task ("world") gets its own block of memory for
//! each registered region, as VMware's vmkapi per-world storage defines it.
//!
//! This file only wires the crate's modules together; see
//! `Documentation/world-storage.rst` for the design.

use kernel::prelude::*;

mod current_cache;
mod deferred;
mod drain;
mod exports;
mod handle;
mod hooks;
mod introspection;
mod layout;
mod object_cache;
mod props;
mod region;
mod stats;
mod storage;
mod tasks;
mod threads;
mod world;
mod xarray_rcu;

use hooks::{OwnerNotifier, TaskHooks};
use introspection::Introspection;
use storage::WorldStorage;

module! {
    type: WorldStorageModule,
    name: "world_storage",
    authors: ["world storage developers"],
    description: "Per-world (per-task) storage regions with an exported C and Rust API",
    license: "GPL",
}

/// The loaded module. Fields are declared in the order they are torn down.
struct WorldStorageModule {
    introspection: Option<Pin<KBox<Introspection>>>,
    notifier: Option<Pin<KBox<OwnerNotifier>>>,
    hooks: Option<TaskHooks>,
    storage: Pin<KBox<WorldStorage>>,
}

impl kernel::Module for WorldStorageModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let storage = KBox::pin_init(WorldStorage::new()?, GFP_KERNEL)?;
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

impl Drop for WorldStorageModule {
    fn drop(&mut self) {
        self.introspection = None;
        self.notifier = None;
        self.hooks = None;
        self.storage.shutdown();
        exports::set_storage(None);
    }
}
