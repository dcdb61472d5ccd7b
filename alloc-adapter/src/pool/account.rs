//! Memory accounting: every byte the pool holds is charged here before it is allocated, so that a
//! memory limit turns into an error instead of an out-of-memory abort, and `mem_used_total` is exact.
//!
//! All growth goes through [`reserve_exact`], which charges, then allocates fallibly
//! (`try_reserve_exact`), then corrects the charge to the capacity actually obtained.

use alloc::vec::Vec;
use core::mem::size_of;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// Bytes held, their high-water mark and the limit.
#[derive(Debug)]
pub struct Accounting {
    used: AtomicUsize,
    max: AtomicUsize,
    limit: AtomicUsize,
    /// Pages given back by compaction, ever (wraps after `usize::MAX`: 16 TiB on 32-bit targets).
    compacted: AtomicUsize,
}

impl Accounting {
    /// Accounting that starts at `base` bytes (the pool's own inline size) with no limit.
    pub const fn new(base: usize) -> Self {
        Self {
            used: AtomicUsize::new(base),
            max: AtomicUsize::new(base),
            limit: AtomicUsize::new(usize::MAX),
            compacted: AtomicUsize::new(0),
        }
    }

    /// Counts pages given back by compaction.
    pub fn add_compacted(&self, pages: usize) {
        self.compacted.fetch_add(pages, Ordering::Relaxed);
    }

    /// Pages given back by compaction, ever.
    pub fn compacted(&self) -> usize {
        self.compacted.load(Ordering::Relaxed)
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The most bytes ever held. A charge raises `used` just before `max`, so a reader in between
    /// should take the larger of this and the `used` it read.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    /// The limit (`usize::MAX` for none).
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Sets the limit; memory already held above it stays, growth is refused.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Charges `bytes` if that stays within the limit.
    pub fn charge(&self, bytes: usize) -> Result<()> {
        let limit = self.limit();
        let mut used = self.used();
        loop {
            let next = match used.checked_add(bytes) {
                Some(n) if n <= limit => n,
                _ => {
                    return Err(Error::LimitReached {
                        requested: bytes,
                        used,
                        limit,
                    });
                }
            };
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.max.fetch_max(next, Ordering::Relaxed);
                    return Ok(());
                }
                Err(now) => used = now,
            }
        }
    }

    /// Charges `bytes` already allocated (the allocator gave more than asked), past any limit.
    pub fn force_charge(&self, bytes: usize) {
        let next = self
            .used
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        self.max.fetch_max(next, Ordering::Relaxed);
    }

    /// Returns `bytes` that were freed.
    pub fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Bytes of heap a vector holds.
pub fn heap_bytes<T>(vec: &Vec<T>) -> usize {
    vec.capacity().saturating_mul(size_of::<T>())
}

/// Makes room for `additional` more elements past `vec.len()`, charging exactly what the capacity grows.
pub fn reserve_exact<T>(vec: &mut Vec<T>, additional: usize, acct: &Accounting) -> Result<()> {
    if vec.capacity() - vec.len() >= additional {
        return Ok(());
    }
    let before = heap_bytes(vec);
    let wanted = vec
        .len()
        .checked_add(additional)
        .and_then(|n| n.checked_mul(size_of::<T>()))
        .ok_or(Error::OutOfMemory { bytes: usize::MAX })?;
    let bytes = wanted - before;
    acct.charge(bytes)?;
    if vec.try_reserve_exact(additional).is_err() {
        acct.release(bytes);
        return Err(Error::OutOfMemory { bytes });
    }
    let grown = heap_bytes(vec) - before;
    if grown > bytes {
        acct.force_charge(grown - bytes);
    } else {
        acct.release(bytes - grown);
    }
    Ok(())
}

/// Makes room for one more element, growing by `len / 8` (at least `min_step`) so that a vector
/// growing one element at a time reallocates rarely and keeps at most 12.5% unused.
pub fn reserve_one<T>(vec: &mut Vec<T>, min_step: usize, acct: &Accounting) -> Result<()> {
    if vec.len() < vec.capacity() {
        return Ok(());
    }
    let step = (vec.len() / 8).max(min_step).max(1);
    match reserve_exact(vec, step, acct) {
        Ok(()) => Ok(()),
        // Near a limit, one element may still fit where a whole step does not.
        Err(_) if step > 1 => reserve_exact(vec, 1, acct),
        Err(e) => Err(e),
    }
}

/// Gives up a vector's memory.
pub fn release_vec<T>(vec: Vec<T>, acct: &Accounting) {
    acct.release(heap_bytes(&vec));
    drop(vec);
}

/// Moves `vec` into an allocation of exactly `len` elements' capacity (its first `len` elements kept),
/// when that frees memory. Allocates anew and copies, because `shrink_to` aborts when the allocator fails.
/// Returns whether it shrank; under a limit too tight for the copy it leaves the vector as it is.
pub fn shrink_exact<T: Copy>(vec: &mut Vec<T>, len: usize, acct: &Accounting) -> bool {
    if len >= vec.capacity() {
        return false;
    }
    let mut smaller = Vec::new();
    if reserve_exact(&mut smaller, len, acct).is_err() {
        return false;
    }
    smaller.extend_from_slice(vec.get(..len).unwrap_or(vec));
    let old = core::mem::replace(vec, smaller);
    release_vec(old, acct);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_refuses_and_leaves_state() {
        let acct = Accounting::new(100);
        acct.set_limit(1000);
        let mut v: Vec<u8> = Vec::new();
        reserve_exact(&mut v, 800, &acct).unwrap();
        assert_eq!(acct.used(), 100 + v.capacity());
        let err = reserve_exact(&mut v, 1000, &acct).unwrap_err();
        assert!(matches!(
            err,
            Error::LimitReached {
                used: 900,
                limit: 1000,
                ..
            }
        ));
        assert_eq!(acct.used(), 900);
        assert_eq!(acct.max(), 900);
        release_vec(v, &acct);
        assert_eq!(acct.used(), 100);
    }

    #[test]
    fn shrink_keeps_contents_and_accounts() {
        let acct = Accounting::new(0);
        let mut v: Vec<u32> = Vec::new();
        reserve_exact(&mut v, 100, &acct).unwrap();
        v.extend(0..100);
        assert!(shrink_exact(&mut v, 10, &acct));
        assert_eq!(v, (0..10).collect::<Vec<u32>>());
        assert_eq!(acct.used(), heap_bytes(&v));
        assert!(!shrink_exact(&mut v, 10, &acct));
    }

    #[test]
    fn reserve_one_grows_by_an_eighth() {
        let acct = Accounting::new(0);
        let mut v: Vec<u64> = Vec::new();
        for i in 0..1000 {
            reserve_one(&mut v, 16, &acct).unwrap();
            v.push(i);
            assert!(v.capacity() <= v.len() + v.len() / 8 + 16);
        }
        assert_eq!(acct.used(), heap_bytes(&v));
    }
}
