// SPDX-License-Identifier: GPL-2.0

//! [`RecordRef`]: a counted reference on a world record; dropping the last
//! one tears the record down.

use super::{record::WorldRecord, table::WorldTable};
use crate::rcu_box::RcuBox;
use core::{ops::Deref, ptr::NonNull};
use kernel::prelude::*;

/// A counted reference on a [`WorldRecord`]: the record is not torn down
/// while it is held.
///
/// # Invariants
///
/// `record` is live and this value owns one count of its `refs`.
pub(crate) struct RecordRef<'t> {
    record: NonNull<WorldRecord>,
    table: &'t WorldTable,
}

impl<'t> RecordRef<'t> {
    /// A reference on `record`, a record of `table`, unless it is dying
    /// (`None`) or holds too many references (`EOVERFLOW`).
    pub(super) fn try_new(record: &WorldRecord, table: &'t WorldTable) -> Result<Option<Self>> {
        match record.refs().try_get() {
            // INVARIANT: the count just taken.
            Ok(()) => Ok(Some(Self {
                record: NonNull::from(record),
                table,
            })),
            Err(e) if e == ESRCH => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Another count of the same record.
    pub(super) fn another(&self) -> Self {
        self.refs().get_another();
        // INVARIANT: the count just taken, on a record kept live by ours.
        Self {
            record: self.record,
            table: self.table,
        }
    }

    /// A reference made of a count its caller owns.
    ///
    /// # Safety
    ///
    /// `record` is a record of `table` on which the caller owns one count,
    /// which it hands to the new value.
    pub(super) unsafe fn adopt(record: NonNull<WorldRecord>, table: &'t WorldTable) -> Self {
        // INVARIANT: by the contract, the caller's count keeps `record` live
        // and is ours now.
        Self { record, table }
    }
}

impl Deref for RecordRef<'_> {
    type Target = WorldRecord;

    fn deref(&self) -> &WorldRecord {
        // SAFETY: live while the count is held (type invariant).
        unsafe { self.record.as_ref() }
    }
}

impl Drop for RecordRef<'_> {
    /// Drops the count. The last one takes the record's box back and has it
    /// torn down, here if this context may take a `spinlock_t`, or later in
    /// process context.
    fn drop(&mut self) {
        if !self.refs().put() {
            return;
        }
        // SAFETY: that was the last count, so we own the record's box, given
        // up with `RcuBox::into_raw` when the record entered the table
        // (`WorldRecord` invariant); no one else takes it back.
        let record = unsafe { RcuBox::from_raw(self.record) };
        self.table.tear_down_last(record);
    }
}
