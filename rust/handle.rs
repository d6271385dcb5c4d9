// SPDX-License-Identifier: GPL-2.0

//! Region handles: opaque 64-bit names that never name a later region.
//!
//! A handle is `generation << 32 | slot`. Each slot of the region table
//! counts the regions it has held; a destroyed region's handle keeps its old
//! generation, so it never matches the slot's next region. Generation 0 is
//! never issued, so neither 0 nor `WORLD_STORAGE_HANDLE_INVALID` (all ones,
//! slot out of range) is ever a valid handle.

/// `WORLD_STORAGE_HANDLE_INVALID`: never a region's handle.
pub(crate) const HANDLE_INVALID: u64 = u64::MAX;

/// How many regions can be live at once.
pub(crate) const MAX_REGIONS: usize = 1024;

/// A well-formed region handle (it may still name no live region).
///
/// # Invariants
///
/// `slot < MAX_REGIONS` and `generation != 0`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RegionHandle {
    slot: u32,
    generation: u32,
}

impl RegionHandle {
    /// The handle of the region in `slot` at `generation`, if both are valid.
    pub(crate) fn new(slot: usize, generation: u32) -> Option<Self> {
        if slot >= MAX_REGIONS || generation == 0 {
            return None;
        }
        // INVARIANT: checked just above.
        Some(Self {
            slot: slot as u32,
            generation,
        })
    }

    /// Decodes a handle received from a caller; `None` if it is malformed.
    pub(crate) fn decode(raw: u64) -> Option<Self> {
        Self::new((raw & 0xffff_ffff) as usize, (raw >> 32) as u32)
    }

    /// The 64-bit value handed to callers.
    pub(crate) fn encode(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.slot)
    }

    /// The slot of the region table this handle names.
    pub(crate) fn slot(self) -> usize {
        self.slot as usize
    }

    /// Which of the regions that used its slot it names (1 for the first).
    pub(crate) fn generation(self) -> u32 {
        self.generation
    }

    /// The generation after `generation` in a slot, skipping 0.
    pub(crate) fn next_generation(generation: u32) -> u32 {
        generation.wrapping_add(1).max(1)
    }
}

#[cfg(world_storage_kunit)]
#[kernel::prelude::kunit_tests(world_storage_handle)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let h = RegionHandle::new(5, 7).unwrap();
        assert_eq!(h.encode(), (7u64 << 32) | 5);
        assert_eq!(RegionHandle::decode(h.encode()), Some(h));
        assert_eq!(h.slot(), 5);
    }

    #[test]
    fn invalid_handles_do_not_decode() {
        assert_eq!(RegionHandle::decode(HANDLE_INVALID), None);
        assert_eq!(RegionHandle::decode(0), None);
        assert_eq!(RegionHandle::decode(1), None);
        assert_eq!(
            RegionHandle::decode((1u64 << 32) | MAX_REGIONS as u64),
            None
        );
        assert!(RegionHandle::decode((1u64 << 32) | (MAX_REGIONS as u64 - 1)).is_some());
    }

    #[test]
    fn generations_differ_and_skip_zero() {
        assert_eq!(RegionHandle::next_generation(1), 2);
        assert_eq!(RegionHandle::next_generation(u32::MAX), 1);
        let old = RegionHandle::new(3, 1).unwrap();
        let new = RegionHandle::new(3, RegionHandle::next_generation(1)).unwrap();
        assert_ne!(old.encode(), new.encode());
    }
}
