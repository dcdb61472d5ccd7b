//! Where a shard keeps its compressed payloads.
//!
//! Interim: each payload in its own heap block, until the `PagePool` of `trueno-zram-alloc` lands and
//! takes this place with the same four operations (insert, get, remove, memory used).

use super::StoreError;

/// A compressed payload held by [`Storage`].
#[derive(Debug)]
pub(crate) struct StoredRef(Box<[u8]>);

/// One shard's payload storage.
#[derive(Debug, Default)]
pub(crate) struct Storage {
    bytes: u64,
}

/// What the system allocator spends on a block of `len` bytes, beyond the bytes themselves: its
/// header and the rounding to 16 bytes.
fn footprint(len: usize) -> u64 {
    (len as u64 + 8).next_multiple_of(16)
}

impl Storage {
    /// Copies `payload` in.
    pub fn insert(&mut self, payload: &[u8]) -> Result<StoredRef, StoreError> {
        self.bytes += footprint(payload.len());
        Ok(StoredRef(payload.into()))
    }

    /// The payload behind `r`.
    pub fn get<'a>(&'a self, r: &'a StoredRef) -> &'a [u8] {
        &r.0
    }

    /// Frees the payload behind `r`.
    pub fn remove(&mut self, r: StoredRef) {
        self.bytes = self.bytes.saturating_sub(footprint(r.0.len()));
    }

    /// Bytes of memory this storage holds.
    pub fn mem_used(&self) -> u64 {
        self.bytes
    }
}
