//! AVX2 kernels of the LZ4 codec: 32-byte compares for match extension, 32-byte copies, and a byte
//! shuffle that expands a small-offset match into a 32-byte pattern. Tested against [`Scalar`]
//! byte for byte.
//!
//! [`Scalar`]: super::kernels::Scalar

use core::arch::x86_64::*;

use super::compress::{Table, compress_block};
use super::decompress::decompress_block;
use super::error::Lz4Error;
use super::kernels::{
    Kernels, PATTERN_INDEX, PATTERN_STEP_32, WILD_STEP, copy16, count_equal_scalar, read_u64_le,
};
use crate::Page;

/// The AVX2 kernels. Only reachable through the `#[target_feature]` entry points below.
/// Copies 32 bytes through a YMM register (load before store, so the ranges may overlap).
///
/// # Safety
/// `src..src + 32` readable, `dst..dst + 32` writable; AVX enabled in the caller.
#[inline(always)]
unsafe fn copy32(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller guarantees both ranges; loadu/storeu need no alignment.
    unsafe { _mm256_storeu_si256(dst.cast(), _mm256_loadu_si256(src.cast())) }
}

pub(super) struct Avx2;

impl Kernels for Avx2 {
    #[inline(always)]
    unsafe fn count_equal(a: *const u8, b: *const u8, a_end: *const u8) -> usize {
        // SAFETY: a <= a_end within one allocation (caller).
        let len = unsafe { a_end.offset_from(a) }.unsigned_abs();
        // Most matches are short: settle them with one 8-byte compare, whose latency is lower than
        // a vector compare's; only longer matches go on to the wide loop.
        if len >= 8 {
            // SAFETY: 8 <= len bytes are inside both ranges.
            let diff = unsafe { read_u64_le(a) ^ read_u64_le(b) };
            if diff != 0 {
                return (diff.trailing_zeros() / 8) as usize;
            }
        }
        let mut n = if len >= 8 { 8 } else { 0 };
        while n + 32 <= len {
            // SAFETY: n + 32 <= len: both 32-byte loads are inside the ranges the caller vouches
            // for; loadu needs no alignment. AVX2 is enabled in every function this inlines into.
            let equal = unsafe {
                let x = _mm256_loadu_si256(a.add(n).cast());
                let y = _mm256_loadu_si256(b.add(n).cast());
                _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, y)).cast_unsigned()
            };
            if equal != u32::MAX {
                return n + (!equal).trailing_zeros() as usize;
            }
            n += 32;
        }
        // SAFETY: a + n <= a_end, and the rest of both ranges is still vouched for.
        n + unsafe { count_equal_scalar(a.add(n), b.add(n), a_end) }
    }

    #[inline(always)]
    unsafe fn copy_wild32(dst: *mut u8, src: *const u8, len: usize) {
        let mut i = 0;
        loop {
            // SAFETY: i < max(len, 1), so the 32 bytes at i end by len + 32, inside both ranges.
            unsafe { copy32(dst.add(i), src.add(i)) };
            i += WILD_STEP;
            if i >= len {
                break;
            }
        }
    }

    #[inline(always)]
    unsafe fn copy_match_wild(op: *mut u8, offset: usize, len: usize) {
        // SAFETY: for the whole body, the caller guarantees op - offset .. op + len + 64 is one writable
        // allocation; every access stays within op - offset .. op + len + 31. The first store is
        // unconditional: it covers every match of a token without length bytes.
        unsafe {
            let src = op.sub(offset);
            if offset >= 32 {
                // The first 64 bytes without a branch on the length (most long matches are
                // shorter): the second block, when the match does not need it, is read at the
                // first one's source, so that its load cannot straddle recent stores.
                copy32(op, src);
                copy32(op.add(32), src.add(32 * usize::from(len > 32)));
                let mut i = 64;
                while i < len {
                    copy32(op.add(i), src.add(i));
                    i += 32;
                }
            } else if offset >= 16 {
                // Each 16-byte source block ends at or before its destination block starts.
                copy16(op, src);
                copy16(op.add(16), src.add(16));
                let mut i = 32;
                while i < len {
                    copy16(op.add(i), src.add(i));
                    i += 16;
                }
            } else {
                // The `offset` bytes before op, repeated over 32 bytes by a shuffle of the 16 bytes
                // at src (in both lanes: every index is below offset <= 15).
                let seed = _mm256_broadcastsi128_si256(_mm_loadu_si128(src.cast()));
                let index = _mm256_loadu_si256(PATTERN_INDEX[offset].as_ptr().cast());
                let pattern = _mm256_shuffle_epi8(seed, index);
                let step = usize::from(PATTERN_STEP_32[offset]);
                _mm256_storeu_si256(op.cast(), pattern);
                let mut i = step;
                while i < len {
                    _mm256_storeu_si256(op.add(i).cast(), pattern);
                    i += step;
                }
            }
        }
    }
}

/// Decodes a block with the AVX2 kernels.
///
/// # Safety
/// The CPU must support AVX2, BMI1 and BMI2.
#[target_feature(enable = "avx2,bmi1,bmi2")]
pub(super) unsafe fn decompress(src: &[u8], dst: &mut [u8]) -> Result<usize, Lz4Error> {
    decompress_block::<Avx2>(src, dst)
}

/// Encodes a block with the AVX2 kernels.
///
/// # Safety
/// The CPU must support AVX2, BMI1 and BMI2.
#[target_feature(enable = "avx2,bmi1,bmi2")]
pub(super) unsafe fn compress(
    table: &mut Table,
    acceleration: u32,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    compress_block::<Avx2>(table, acceleration, src, dst)
}

/// Encodes one page with the AVX2 kernels (the length is a constant after inlining).
///
/// # Safety
/// The CPU must support AVX2, BMI1 and BMI2.
#[target_feature(enable = "avx2,bmi1,bmi2")]
pub(super) unsafe fn compress_page(
    table: &mut Table,
    acceleration: u32,
    page: &Page,
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    compress_block::<Avx2>(table, acceleration, page, dst)
}
