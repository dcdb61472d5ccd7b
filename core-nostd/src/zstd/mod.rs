//! Zstandard (RFC 8878): an allocation-free, panic-free decoder.
//!
//! Files follow the RFC's sections: [`frame`](self) headers, skippable frames and the checksum;
//! blocks; the literals section; the sequences section; FSE and Huffman entropy tables; the backward
//! bitstream; dictionaries; and the format constants in `tables`.

// Used by the decoder that lands next; allowed until then so the tables can be shared early.
#[allow(dead_code)]
pub(crate) mod bits;
mod error;
#[allow(dead_code)]
pub(crate) mod fse;
#[allow(dead_code)]
pub(crate) mod tables;

pub use error::ZstdError;
