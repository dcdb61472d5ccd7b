//! The alloc layer's error type: everything the core reports, plus what a heap adds (memory limits,
//! failed allocations) and what a pool refuses (object sizes, stale handles).

/// What went wrong in the alloc layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// An error of the core: a malformed page, a codec failure.
    #[error("{0}")]
    Core(#[from] trueno_zram_core::Error),
    /// Growing would take the pool past its memory limit.
    #[error(
        "memory limit reached: {requested} more bytes requested, {used} of {limit} bytes in use"
    )]
    LimitReached {
        /// Bytes the failed growth needed.
        requested: usize,
        /// Bytes in use when it was refused.
        used: usize,
        /// The limit.
        limit: usize,
    },
    /// The allocator refused memory (the heap is exhausted).
    #[error("the allocator refused {bytes} bytes")]
    OutOfMemory {
        /// Bytes requested.
        bytes: usize,
    },
    /// An object the pool cannot store: empty or larger than a page.
    #[error("object of {len} bytes cannot be stored: sizes 1..={max} are accepted")]
    ObjectSize {
        /// Its length.
        len: usize,
        /// The largest length accepted.
        max: usize,
    },
    /// A handle that names no live object of this pool (removed, or from another pool).
    #[error("handle {raw:#x} names no live object")]
    InvalidHandle {
        /// The handle's raw value.
        raw: u64,
    },
    /// A page was asked for, but the handle names an object stored raw with `insert`.
    #[error("handle {raw:#x} names a raw object, not a page")]
    NotAPage {
        /// The handle's raw value.
        raw: u64,
    },
    /// A size class holds as many objects as its handles can name.
    #[error("size class {class} is full: it holds {max} objects")]
    ClassFull {
        /// The class index.
        class: usize,
        /// Objects it holds.
        max: usize,
    },
    /// The pool's own bookkeeping contradicts itself; nothing was changed. This is a bug in the pool.
    #[error("pool bookkeeping inconsistent: {0}")]
    Inconsistent(&'static str),
    /// A buffer of pages whose length is not a multiple of the page size.
    #[error("buffer of {len} bytes is not a whole number of {page_size}-byte pages")]
    NotWholePages {
        /// Its length.
        len: usize,
        /// The page size.
        page_size: usize,
    },
}

/// Result with the alloc layer's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
