// SPDX-License-Identifier: GPL-2.0

//! [`ObjectLayout`]: a region's object size and alignment, validated, and
//! the errno of every bad one.

use kernel::prelude::*;

/// The only region type: a plain block of memory per world.
pub(crate) const TYPE_SIMPLE: u32 = 0;

/// The largest object a region can hold. 64 KiB objects must work; beyond
/// this, a per-world object is a design mistake rather than a request.
pub(crate) const MAX_OBJECT_SIZE: u32 = 1 << 20;

/// Size and alignment of a region's objects.
///
/// # Invariants
///
/// `0 < size <= MAX_OBJECT_SIZE`; `align` is a power of two, at most
/// `PAGE_SIZE`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ObjectLayout {
    size: u32,
    align: u32,
}

impl ObjectLayout {
    /// Checks a caller's type, size and alignment.
    ///
    /// Returns `EINVAL` for an unknown type, size 0 or above
    /// [`MAX_OBJECT_SIZE`], and an alignment that is not a power of two or
    /// is above `PAGE_SIZE`.
    pub(crate) fn new(kind: u32, size: u32, align: u32) -> Result<Self> {
        if kind != TYPE_SIMPLE
            || size == 0
            || size > MAX_OBJECT_SIZE
            || !align.is_power_of_two()
            || align as usize > kernel::page::PAGE_SIZE
        {
            return Err(EINVAL);
        }
        // INVARIANT: checked just above.
        Ok(Self { size, align })
    }

    /// Bytes per object as the caller asked.
    pub(crate) fn size(&self) -> u32 {
        self.size
    }

    /// Alignment of every object.
    pub(crate) fn align(&self) -> u32 {
        self.align
    }
}

#[cfg(world_storage_kunit)]
#[kunit_tests(world_storage_object_layout)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_layouts() {
        let l = ObjectLayout::new(TYPE_SIMPLE, 24, 8).unwrap();
        assert_eq!((l.size(), l.align()), (24, 8));
        assert!(ObjectLayout::new(TYPE_SIMPLE, 1, 1).is_ok());
        assert!(ObjectLayout::new(TYPE_SIMPLE, 65536, 4096).is_ok());
        assert!(ObjectLayout::new(TYPE_SIMPLE, MAX_OBJECT_SIZE, 64).is_ok());
    }

    #[test]
    fn rejects_bad_layouts_with_einval() {
        let page = kernel::page::PAGE_SIZE as u32;
        assert_eq!(ObjectLayout::new(TYPE_SIMPLE, 0, 8), Err(EINVAL));
        assert_eq!(
            ObjectLayout::new(TYPE_SIMPLE, MAX_OBJECT_SIZE + 1, 8),
            Err(EINVAL)
        );
        assert_eq!(ObjectLayout::new(TYPE_SIMPLE, 8, 0), Err(EINVAL));
        assert_eq!(ObjectLayout::new(TYPE_SIMPLE, 8, 24), Err(EINVAL));
        assert_eq!(ObjectLayout::new(TYPE_SIMPLE, 8, page * 2), Err(EINVAL));
        assert_eq!(ObjectLayout::new(1, 8, 8), Err(EINVAL));
    }
}
