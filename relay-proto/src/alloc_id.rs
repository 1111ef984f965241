//! The name of an allocation: below both the allocation slab and the channel routes that
//! carry it, so neither imports the other for it.

/// Names an allocation (slab index and generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllocId {
    pub(crate) idx: u32,
    pub(crate) generation: u32,
}

impl AllocId {
    /// As one number (for a driver's socket tag).
    pub fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.idx)
    }
}
