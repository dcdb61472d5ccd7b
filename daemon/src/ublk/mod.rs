//! The ublk transport: the kernel's userspace block driver (`ublk_drv`, Linux 6.0+) hands each
//! block request to this daemon through io_uring, and we answer it from the same [`BlockStore`]
//! the NBD transport serves.
//!
//! [`io`] maps one request to a store operation; [`params`] builds the device parameters;
//! [`device`] is the libublk glue that adds, serves and removes `/dev/ublkbN`; [`kernel`] lists
//! the kernel's ublk devices and removes those whose server is gone.
//!
//! [`BlockStore`]: crate::store::BlockStore

pub mod device;
pub mod io;
pub mod kernel;
pub mod params;
