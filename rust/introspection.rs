// SPDX-License-Identifier: GPL-2.0

//! debugfs: `/sys/kernel/debug/world_storage/{regions,stats}`, in the format
//! documented in `Documentation/world-storage.rst`. The directory owns the
//! service: each file reads it as the file's data.

use crate::service::Service;
use kernel::{
    debugfs::{Scope, ScopedDir},
    fmt,
    prelude::*,
};

fn show_regions(service: &Service, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    service.write_regions(f)
}

fn show_stats(service: &Service, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    service.write_stats(f)
}

fn populate<'data>(service: &'data Service, dir: &ScopedDir<'data, '_>) {
    dir.read_callback_file(c"regions", service, &show_regions);
    dir.read_callback_file(c"stats", service, &show_stats);
}

/// `service` with the module's debugfs directory, whose files read it. On
/// drop the directory is removed (which waits for readers) before the
/// service is dropped.
pub(crate) fn with_debugfs<'a>(
    service: impl PinInit<Service, Error> + 'a,
) -> impl PinInit<Scope<Service>, Error> + 'a {
    Scope::dir(service, c"world_storage", populate)
}
