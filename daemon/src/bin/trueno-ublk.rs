//! `trueno-ublk`: create, list, inspect and delete compressed RAM block devices.
fn main() {}
