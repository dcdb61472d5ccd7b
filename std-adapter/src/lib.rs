//! # trueno-zram
//!
//! Memory-page compression for programs on a full operating system. Everything from the lower layers
//! is re-exported here, so a std user depends on this crate alone.

pub use trueno_zram_alloc as alloc_layer;
pub use trueno_zram_alloc::{
    Error as AllocError, Handle, ObjectKind, ObjectRef, OwnedCompressedPage, OwnedPage, PagePool,
    PoolStats, compress_buffer, decompress_buffer, decompress_buffer_into,
};
pub use trueno_zram_core::zstd;
pub use trueno_zram_core::{
    Algorithm, CompressedPage, CompressorBuilder, Encoding, Error, PAGE_SIZE, Page, PageCompressor,
    SimdBackend, StandardCompressor, entropy, samefill,
};

pub mod backend;
pub mod batch;
pub mod bench;
#[cfg(feature = "cuda")]
pub mod gpu;
pub mod kernel;

pub use backend::{AutoBatch, Backend};
pub use batch::{BatchCompressor, BatchError, RayonBatch};
