//! LZ4 block compression for pages, in the standard block format that liblz4 and the Linux kernel read
//! and write.
//!
//! - [`compress_into`] / [`Compressor`]: liblz4's fast match finder (acceleration like
//!   `LZ4_compress_fast`), with its 16 KiB hash table owned by a reusable [`Compressor`] and a path
//!   specialised for 4096-byte pages ([`Compressor::compress_page`]). Inputs up to
//!   [`MAX_INPUT_LEN`] bytes.
//! - [`decompress_into`]: any standard block, every length and offset checked; bad input gives
//!   [`Lz4Error`], never a panic or an access outside the buffers.
//!
//! The hot copies and compares run on the SIMD backend chosen at run time (AVX2, AVX-512, NEON, or
//! scalar); every backend writes the same bytes.

mod compress;
mod decompress;
mod error;
mod kernels;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

#[cfg(test)]
mod tests;

pub use compress::{Compressor, MAX_ACCELERATION};
pub use error::{Field, Lz4Error};

use crate::simd::SimdBackend;
use crate::{PAGE_SIZE, Page};

/// The longest input the compressor accepts: 64 KiB. Every match offset then fits LZ4's 16 bits
/// without a distance check. (The decompressor has no such limit.)
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// A match is at least 4 bytes long.
pub(crate) const MIN_MATCH: usize = 4;
/// The last 5 bytes of a block are always literals.
pub(crate) const LAST_LITERALS: usize = 5;
/// The last match starts at least 12 bytes before the end of the input.
pub(crate) const MF_LIMIT: usize = 12;

/// The largest block that an input of `len` bytes can compress to (liblz4's `LZ4_compressBound`):
/// a destination this large never fails.
pub const fn compress_bound(len: usize) -> usize {
    len + len / 255 + 16
}

/// Compresses `src` (at most [`MAX_INPUT_LEN`] bytes) into `dst` as one LZ4 block, returning its
/// length. Uses a fresh [`Compressor`] on the stack (its 16 KiB table); keep a [`Compressor`] to
/// compress many inputs.
pub fn compress_into(src: &[u8], dst: &mut [u8]) -> crate::Result<usize> {
    Compressor::new().compress_into(src, dst)
}

/// Decompresses the LZ4 block `src` into `dst` and returns the number of bytes written, on the best
/// backend of this CPU.
pub fn decompress_into(src: &[u8], dst: &mut [u8]) -> crate::Result<usize> {
    decompress_into_with(SimdBackend::detect(), src, dst)
}

/// [`decompress_into`] on a chosen backend (one the CPU lacks falls back, see
/// [`SimdBackend::resolve`]).
pub fn decompress_into_with(
    backend: SimdBackend,
    src: &[u8],
    dst: &mut [u8],
) -> crate::Result<usize> {
    Ok(dispatch_decompress(backend.resolve(), src, dst)?)
}

/// Decompresses a block that must decode to exactly one page.
pub fn decompress_page(backend: SimdBackend, src: &[u8], page: &mut Page) -> crate::Result<()> {
    let len = dispatch_decompress(backend.resolve(), src, page)?;
    if len == PAGE_SIZE {
        Ok(())
    } else {
        Err(crate::Error::WrongDecodedLength { len })
    }
}

fn dispatch_decompress(
    backend: SimdBackend,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX-512 F/BW/VL (and AVX2).
        SimdBackend::Avx512 => unsafe { avx512::decompress(src, dst) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the backend was resolved, so the CPU supports AVX2, BMI1 and BMI2.
        SimdBackend::Avx2 => unsafe { avx2::decompress(src, dst) },
        #[cfg(target_arch = "aarch64")]
        SimdBackend::Neon => neon::decompress(src, dst),
        _ => decompress::decompress_block::<kernels::Scalar>(src, dst),
    }
}
