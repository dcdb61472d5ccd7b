//! # trueno-ublk
//!
//! The binaries of trueno-zram and the pieces they share.

pub mod zram_cli;
