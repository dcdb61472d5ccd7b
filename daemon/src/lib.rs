//! # trueno-ublk
//!
//! The binaries of trueno-zram and the pieces they share: [`store::BlockStore`], the compressed RAM
//! block device; [`nbd`], our NBD server in front of it; [`control`], the socket through which the
//! command line lists, inspects and stops running devices; [`state`] and [`orphans`], how the
//! leftovers of killed daemons are found and removed; [`generator`], the systemd generator.

pub mod cli;
pub mod control;
pub mod device;
pub mod generator;
pub mod nbd;
pub mod orphans;
pub mod state;
pub mod store;
pub mod swap;
pub mod ublk;
pub mod units;
pub mod zram_cli;
