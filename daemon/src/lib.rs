//! # trueno-ublk
//!
//! The binaries of trueno-zram and the pieces they share.

pub mod generator;
pub mod zram_cli;
