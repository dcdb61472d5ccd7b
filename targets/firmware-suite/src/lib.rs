//! # trueno-zram-firmware
//!
//! The suite that proves the `no_std` core embeds: the firmware for the emulated boards under
//! `targets/` runs it on real Cortex-M4F and RISC-V 32 instruction sets, and `cargo xtask test-cross`
//! runs the very same code on the host to learn the digest that every board must reproduce.
//!
//! For each page of a set (a few real pages embedded at build time, plus generated same-fill,
//! text-like, structured and pseudo-random pages) and each codec the core offers, the suite
//! compresses, writes the wire form, reads it back, decompresses and compares with the original. The
//! wire bytes of every compressed page go into a [`digest::Fnv1a64`]: equal digests on the host and on
//! a board mean the same bytes on every architecture and SIMD backend.
//!
//! All codec state and page buffers live in `static` storage ([`suite`]); nothing allocates. A
//! [`stack::StackMeter`] measures how deep each compress and decompress goes, and the suite checks
//! each depth against its codec's bound ([`codecs::Codec`]).
#![no_std]

#[cfg(feature = "pool")]
extern crate alloc;

pub mod board;
pub mod codecs;
pub mod digest;
pub mod pages;
#[cfg(feature = "pool")]
pub mod pool;
pub mod probe;
pub mod raw;
pub mod slot;
pub mod stack;
pub mod suite;

pub use suite::{CodecSummary, Failure, Summary, run};
