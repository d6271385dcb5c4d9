// SPDX-License-Identifier: GPL-2.0

//! [`RecordRefcount`]: a world record's reference count, which its holders
//! (a constructor in progress, an exit or exec hook, the orphans) take only
//! while it is not zero and below a cap.

use crate::glue::ws_refcount_get_below;
use core::ptr;
use kernel::{bindings, prelude::*, sync::Refcount};

/// The most references one record takes: a holder past it fails with
/// `EOVERFLOW` rather than saturate the count (a `refcount_t` warning).
/// Remote references are counted on the entries, not here, so only a leak
/// of counts in world storage itself could get near it; holders racing
/// past the check (each may be preempted between check and increment)
/// overshoot it by at most one per task, far below 2^31.
const MAX_RECORD_REFS: u32 = 1 << 30;

/// A reference count that is never revived once it reached zero and never
/// taken past [`MAX_RECORD_REFS`].
///
/// A [`Refcount`]; 7.3's has no `inc_not_zero()`, let alone one with a cap,
/// so [`RecordRefcount::try_get`] calls the C glue's
/// `ws_refcount_get_below()` (`refcount_read()`, then
/// `refcount_inc_not_zero()`): one call, where a compare-and-exchange loop
/// over `Refcount::as_atomic()` would cost two.
pub(super) struct RecordRefcount(Refcount);

impl RecordRefcount {
    /// A count of 1.
    pub(super) fn new() -> Self {
        Self(Refcount::new(1))
    }

    /// Takes a count unless it is zero (`ESRCH`: the record is dying) or
    /// `MAX_RECORD_REFS` or more (`EOVERFLOW`).
    pub(super) fn try_get(&self) -> Result {
        // `Refcount` is a transparent wrapper of an `Opaque<refcount_t>`.
        let count = ptr::from_ref(&self.0)
            .cast_mut()
            .cast::<bindings::refcount_t>();
        // SAFETY: `count` is our `refcount_t`, initialised by
        // `Refcount::new` and in an `Opaque`, which may be written through a
        // shared reference.
        kernel::error::to_result(unsafe { ws_refcount_get_below(count, MAX_RECORD_REFS) })
    }

    /// Takes another count; the caller holds one.
    pub(super) fn get_another(&self) {
        self.0.inc();
    }

    /// Drops a count; `true` if it was the last.
    #[must_use = "the last count's holder tears the record down"]
    pub(super) fn put(&self) -> bool {
        self.0.dec_and_test()
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_record_refs)]
mod tests {
    use super::{RecordRefcount, MAX_RECORD_REFS};
    use kernel::prelude::*;

    fn set(count: &RecordRefcount, n: u32) {
        count.0.set(i32::try_from(n).unwrap_or(i32::MAX));
    }

    /// A leak of references makes lookups fail before the count saturates
    /// (which would be a `refcount_t` warning), and a dying record is never
    /// revived.
    #[test]
    fn lookups_stop_below_saturation() -> Result {
        let count = RecordRefcount::new();
        set(&count, MAX_RECORD_REFS - 1);
        assert_eq!(count.try_get(), Ok(()));
        assert_eq!(count.try_get(), Err(EOVERFLOW));
        set(&count, u32::MAX / 2);
        assert_eq!(count.try_get(), Err(EOVERFLOW));
        set(&count, 0);
        assert_eq!(count.try_get(), Err(ESRCH));
        Ok(())
    }
}
