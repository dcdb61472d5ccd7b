//! # trueno-zram-alloc
//!
//! The `no_std + alloc` layer of trueno-zram: what needs a heap but no operating system.
//!
//! - [`PagePool`]: dense storage of compressed pages in size classes, with compaction, a memory limit
//!   and zram's `mm_stat` statistics ([`pool`]).
//! - [`OwnedPage`] and [`OwnedCompressedPage`]: a page on the heap, and a compressed page held in
//!   exactly as many bytes as its wire form needs ([`owned`]).
//! - [`compress_buffer`] and [`decompress_buffer`]: any whole number of pages to compressed pages and
//!   back ([`buffer`]).
//!
//! Every allocation here is fallible: running out of memory is an [`Error`], never an abort. The core
//! is re-exported so that users need only this crate.
#![no_std]
#![cfg_attr(test, allow(clippy::cast_possible_truncation))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod buffer;
pub mod error;
pub mod owned;
pub mod pool;

pub use buffer::{compress_buffer, decompress_buffer, decompress_buffer_into};
pub use error::{Error, Result};
pub use owned::{OwnedCompressedPage, OwnedPage};
pub use pool::{Handle, ObjectKind, ObjectRef, PagePool, PoolStats};

pub use trueno_zram_core as core;
pub use trueno_zram_core::{
    Algorithm, CompressedPage, CompressorBuilder, Encoding, Error as CoreError, PAGE_SIZE, Page,
    PageCompressor, SimdBackend, StandardCompressor,
};
