//! FNV-1a, 64 bits: a tiny, byte-order-free hash that folds every compressed page into one number
//! that the host and each board compare. It detects any difference in the bytes; it is no defence
//! against an adversary, which a determinism check does not need.

/// The running FNV-1a 64 state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv1a64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The empty digest.
    pub const fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    /// Folds `bytes` in.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }

    /// Folds a length in as 4 bytes little-endian, so that concatenations of records stay distinct.
    pub fn write_len(&mut self, len: usize) {
        // Lengths here are at most PAGE_SIZE + 1; saturating keeps the fold total on any usize.
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.write(&len.to_le_bytes());
    }

    /// The digest so far.
    pub const fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_vectors() {
        // Reference values of FNV-1a 64 for "" and "a" and "foobar".
        assert_eq!(Fnv1a64::new().value(), 0xcbf2_9ce4_8422_2325);
        let mut h = Fnv1a64::new();
        h.write(b"a");
        assert_eq!(h.value(), 0xaf63_dc4c_8601_ec8c);
        let mut h = Fnv1a64::new();
        h.write(b"foobar");
        assert_eq!(h.value(), 0x8594_4171_f739_67e8);
    }
}
