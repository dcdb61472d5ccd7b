//! # trueno-zram-core
//!
//! The `no_std`, allocation-free heart of trueno-zram: the 4 KiB page format, same-fill detection,
//! the LZ4 codec and the SIMD dispatch that the codecs build on. Nothing here allocates; every decoder returns
//! [`Error`] for bad input instead of panicking.
//!
//! ```
//! use trueno_zram_core::{CompressorBuilder, PageCompressor, Encoding, PAGE_SIZE};
//! let page = [0u8; PAGE_SIZE];
//! let mut c = CompressorBuilder::new().build().unwrap();
//! let packed = c.compress(&page).unwrap();
//! assert_eq!(packed.encoding(), Encoding::SameFill);
//! assert_eq!(c.decompress(&packed).unwrap(), page);
//! ```
#![no_std]
#![cfg_attr(test, allow(clippy::cast_possible_truncation))]

pub mod adaptive;
pub mod codec;
pub mod entropy;
pub mod error;
pub mod lz4;
pub mod page;
pub mod samefill;
pub mod simd;
pub mod zstd;

pub use codec::{
    Algorithm, CompressorBuilder, PageCompressor, PageDecompressor, StandardCompressor,
};
pub use error::{Error, Result};
pub use page::{CompressedPage, Encoding};
pub use simd::SimdBackend;

/// Size of a memory page, the unit that every page API works on.
pub const PAGE_SIZE: usize = 4096;

/// One uncompressed memory page.
pub type Page = [u8; PAGE_SIZE];
