//! # trueno-ublk
//!
//! The binaries of trueno-zram and the pieces they share: [`store::BlockStore`], the compressed RAM
//! block device; [`nbd`], our NBD server in front of it; [`control`], the socket through which the
//! command line lists, inspects and stops running devices.

pub mod store;
