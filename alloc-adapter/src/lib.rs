//! # trueno-zram-alloc
//!
//! The `no_std + alloc` layer of trueno-zram: what needs a heap but no operating system. It re-exports
//! the core so that its users need only this crate.
#![no_std]

extern crate alloc;

pub use trueno_zram_core as core;
pub use trueno_zram_core::{
    Algorithm, CompressedPage, CompressorBuilder, Encoding, Error, PAGE_SIZE, Page, PageCompressor,
    SimdBackend, StandardCompressor,
};
