//! The memory of one span: a run of whole pages that grows and shrinks a page at a time.
//!
//! On Linux with feature `std` (outside Miri) a span reserves its largest size of address space with
//! one anonymous `mmap` and uses a prefix of it: growing only moves the end (the kernel supplies
//! zeroed pages as they are first written), shrinking hands the tail pages back with
//! `MADV_DONTNEED`, and dropping unmaps it. Nothing is ever copied to grow, and the process's
//! resident memory is exactly the pages spans cover, with no heap fragments between them.
//! Elsewhere the pages are a `Vec` grown with `try_reserve_exact`, as the rest of the pool grows.
//!
//! Either way the accounting counts the pages covered: charged before growing, released after
//! shrinking.

use super::account::Accounting;
use crate::error::Result;
use trueno_zram_core::PAGE_SIZE;

#[cfg(not(all(feature = "std", target_os = "linux", not(miri))))]
pub use heap::SpanPages;
#[cfg(all(feature = "std", target_os = "linux", not(miri)))]
pub use mapped::SpanPages;

/// Shared by both versions: the bytes of `range`, if covered.
fn checked(range: core::ops::Range<usize>, len: usize) -> Option<core::ops::Range<usize>> {
    (range.start <= range.end && range.end <= len).then_some(range)
}

#[cfg(all(feature = "std", target_os = "linux", not(miri)))]
mod mapped {
    use super::*;
    use core::ptr::NonNull;

    /// A reserved mapping of `reserved` bytes, of which the first `len` are in use.
    #[derive(Debug)]
    pub struct SpanPages {
        base: NonNull<u8>,
        reserved: usize,
        len: usize,
    }

    // SAFETY: the mapping is owned by this value alone (no aliases escape except through borrows of
    // it), so moving it to another thread or sharing `&` between threads is as safe as for a Vec.
    unsafe impl Send for SpanPages {}
    // SAFETY: see `Send`; `&SpanPages` only gives out shared slices.
    unsafe impl Sync for SpanPages {}

    impl SpanPages {
        /// Reserves room for `max_pages` pages; none are in use yet.
        pub fn new(max_pages: usize) -> Result<Self> {
            let reserved = max_pages.max(1) * PAGE_SIZE;
            // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no
            // existing memory; the result is checked below.
            let ptr = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    reserved,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(crate::Error::OutOfMemory { bytes: reserved });
            }
            let base = NonNull::new(ptr.cast::<u8>())
                .ok_or(crate::Error::OutOfMemory { bytes: reserved })?;
            Ok(Self {
                base,
                reserved,
                len: 0,
            })
        }

        /// Bytes in use.
        pub fn len(&self) -> usize {
            self.len
        }

        /// The pages in use.
        pub fn as_slice(&self) -> &[u8] {
            // SAFETY: `base..base + len` lies in the live mapping, readable and writable; pages not
            // yet written read as zeros. The borrow of `self` keeps it mapped.
            unsafe { core::slice::from_raw_parts(self.base.as_ptr(), self.len) }
        }

        /// The pages in use, mutable.
        pub fn as_mut_slice(&mut self) -> &mut [u8] {
            // SAFETY: as in `as_slice`, and `&mut self` makes this the only borrow.
            unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
        }

        /// Takes `more` bytes (whole pages) past the end into use, charging them first.
        pub fn grow(&mut self, more: usize, acct: &Accounting) -> Result<()> {
            let new_len = self
                .len
                .checked_add(more)
                .filter(|&n| n <= self.reserved)
                .ok_or(crate::Error::OutOfMemory { bytes: more })?;
            acct.charge(more)?;
            self.len = new_len;
            Ok(())
        }

        /// Gives back the pages past the first `keep` bytes; false when there are none.
        pub fn shrink(&mut self, keep: usize, acct: &Accounting) -> bool {
            if keep >= self.len {
                return false;
            }
            let freed = self.len - keep;
            // SAFETY: `base + keep .. base + len` lies in the mapping and no borrow of it is live
            // (`&mut self`); after MADV_DONTNEED those pages read as zeros when used again.
            let rc = unsafe {
                libc::madvise(
                    self.base.as_ptr().add(keep).cast(),
                    freed,
                    libc::MADV_DONTNEED,
                )
            };
            if rc != 0 {
                return false;
            }
            self.len = keep;
            acct.release(freed);
            true
        }

        /// Gives all of it back.
        pub fn release(self, acct: &Accounting) {
            acct.release(self.len);
            // Drop unmaps.
        }
    }

    impl Drop for SpanPages {
        fn drop(&mut self) {
            // SAFETY: the mapping was made by `new` with this size and is unmapped only here; no
            // borrow can outlive `self`.
            unsafe {
                libc::munmap(self.base.as_ptr().cast(), self.reserved);
            }
        }
    }
}

#[cfg(not(all(feature = "std", target_os = "linux", not(miri))))]
mod heap {
    use super::*;
    use crate::pool::account::{release_vec, reserve_exact, shrink_exact};
    use alloc::vec::Vec;

    static ZERO_PAGE: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

    /// Pages on the heap.
    #[derive(Debug)]
    pub struct SpanPages {
        data: Vec<u8>,
    }

    impl SpanPages {
        /// No pages yet.
        pub fn new(_max_pages: usize) -> Result<Self> {
            Ok(Self { data: Vec::new() })
        }

        /// Bytes in use.
        pub fn len(&self) -> usize {
            self.data.len()
        }

        /// The pages in use.
        pub fn as_slice(&self) -> &[u8] {
            &self.data
        }

        /// The pages in use, mutable.
        pub fn as_mut_slice(&mut self) -> &mut [u8] {
            &mut self.data
        }

        /// Adds `more` zeroed bytes (whole pages), charging them first.
        pub fn grow(&mut self, more: usize, acct: &Accounting) -> Result<()> {
            reserve_exact(&mut self.data, more, acct)?;
            // Whole zero pages by copying (a memcpy), which Miri runs far faster than `resize`.
            for _ in 0..more / PAGE_SIZE {
                self.data.extend_from_slice(&ZERO_PAGE);
            }
            Ok(())
        }

        /// Keeps the first `keep` bytes in a new allocation of that size; false if it did not.
        pub fn shrink(&mut self, keep: usize, acct: &Accounting) -> bool {
            shrink_exact(&mut self.data, keep, acct)
        }

        /// Gives all of it back.
        pub fn release(self, acct: &Accounting) {
            release_vec(self.data, acct);
        }
    }
}

/// Bytes of `pages` in `range`, if covered.
pub fn slice(pages: &SpanPages, range: core::ops::Range<usize>) -> Option<&[u8]> {
    let r = checked(range, pages.len())?;
    pages.as_slice().get(r)
}

/// Bytes of `pages` in `range`, mutable, if covered.
pub fn slice_mut(pages: &mut SpanPages, range: core::ops::Range<usize>) -> Option<&mut [u8]> {
    let r = checked(range, pages.len())?;
    pages.as_mut_slice().get_mut(r)
}
