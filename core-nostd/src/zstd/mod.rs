//! Zstandard (RFC 8878): an allocation-free, panic-free decoder.
//!
//! The files follow the RFC's sections: `frame` (frame header, skippable frames, content checksum),
//! `block`, `literals` (literals section), `sequences` (sequences section and execution), `fse` and
//! `huffman` (entropy tables), `bits` (bit readers), `dictionary`, and `tables` (the format's
//! constants). [`Decompressor`] keeps the decoding tables between frames; [`decompress_into`] uses
//! one on the stack.
//!
//! ```
//! // A frame whose single RLE block repeats b'z' five times.
//! let frame = [0x28, 0xB5, 0x2F, 0xFD, 0x20, 5, 0x2B, 0, 0, b'z'];
//! let mut out = [0u8; 5];
//! assert_eq!(trueno_zram_core::zstd::decompress_into(&frame, &mut out).unwrap(), 5);
//! assert_eq!(&out, b"zzzzz");
//! ```

pub(crate) mod bits;
mod block;
pub mod compress;
mod decompress;
mod dictionary;
mod error;
mod frame;
pub(crate) mod fse;
pub(crate) mod huffman;
mod literals;
mod sequences;
pub(crate) mod tables;

pub use compress::{Compressor, compress_into};
pub use decompress::{Decompressor, decompress_into};
pub use error::ZstdError;
