//! AVX-512 (F, BW, VL) kernels of the LZ4 codec: 64-byte compares for match extension (one mask per
//! 64 bytes), 64-byte match copies, and a per-lane byte shuffle that expands a small-offset match into
//! a 64-byte pattern. Tested against [`Scalar`] byte for byte.
//!
//! [`Scalar`]: super::kernels::Scalar

use core::arch::x86_64::*;

use super::compress::{Table, compress_block};
use super::decompress::decompress_block;
use super::error::Lz4Error;
use super::kernels::{
    Kernels, PATTERN_INDEX, PATTERN_STEP_64, WILD_STEP, copy_short_words, copy16,
    count_equal_scalar, read_u64_le,
};
use crate::Page;

/// The AVX-512 kernels. Only reachable through the `#[target_feature]` entry points below.
/// Copies 32 bytes through a YMM register (load before store, so the ranges may overlap).
///
/// # Safety
/// `src..src + 32` readable, `dst..dst + 32` writable; AVX enabled in the caller.
#[inline(always)]
unsafe fn copy32(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller guarantees both ranges; loadu/storeu need no alignment.
    unsafe { _mm256_storeu_si256(dst.cast(), _mm256_loadu_si256(src.cast())) }
}

pub(super) struct Avx512;

impl Kernels for Avx512 {
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
        while n + 64 <= len {
            // SAFETY: n + 64 <= len: both 64-byte loads are inside the ranges the caller vouches
            // for; loadu needs no alignment. AVX-512 BW is enabled wherever this inlines.
            let equal = unsafe {
                let x = _mm512_loadu_si512(a.add(n).cast());
                let y = _mm512_loadu_si512(b.add(n).cast());
                _mm512_cmpeq_epi8_mask(x, y)
            };
            if equal != u64::MAX {
                return n + (!equal).trailing_zeros() as usize;
            }
            n += 64;
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
    unsafe fn copy_match_short(op: *mut u8, offset: usize, len: usize) {
        // SAFETY: the caller guarantees op - offset .. op + SHORT_MATCH_REACH is one writable
        // allocation. The words read op - offset .. op - offset + 24 and write op .. op + 24; the
        // pattern (offset < 8) is one 32-byte store at op, from a 16-byte load at op - offset.
        unsafe {
            if offset >= 8 {
                copy_short_words(op, offset, len);
            } else {
                // Every index of the first 32 is below offset, so both lanes may hold the seed.
                let seed = _mm256_broadcastsi128_si256(_mm_loadu_si128(op.sub(offset).cast()));
                let index = _mm256_loadu_si256(PATTERN_INDEX[offset].as_ptr().cast());
                _mm256_storeu_si256(op.cast(), _mm256_shuffle_epi8(seed, index));
            }
        }
    }

    #[inline(always)]
    unsafe fn copy_match_wild(op: *mut u8, offset: usize, len: usize) {
        // SAFETY: for the whole body, the caller guarantees op - offset .. op + len + 64 is one writable
        // allocation; every access stays within op - offset .. op + len + 63. The first store is
        // unconditional: it covers every match of a token without length bytes.
        unsafe {
            let src = op.sub(offset);
            if offset >= 32 {
                // The first 64 bytes without a branch on the length (most long matches are
                // shorter): the second block, when the match does not need it, is read at the
                // first one's source, so that its load cannot straddle recent stores.
                copy32(op, src);
                copy32(op.add(32), src.add(32 * usize::from(len > 32)));
                if len > 64 {
                    let mut i = 64;
                    if offset >= 64 {
                        while i < len {
                            let v = _mm512_loadu_si512(src.add(i).cast());
                            _mm512_storeu_si512(op.add(i).cast(), v);
                            i += 64;
                        }
                    } else {
                        while i < len {
                            copy32(op.add(i), src.add(i));
                            i += 32;
                        }
                    }
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
                // The `offset` bytes before op, repeated over 64 bytes: the 16 bytes at src in every
                // lane, shuffled by indices that are all below offset <= 15.
                let seed = _mm512_broadcast_i32x4(_mm_loadu_si128(src.cast()));
                let index = _mm512_loadu_si512(PATTERN_INDEX[offset].as_ptr().cast());
                let pattern = _mm512_shuffle_epi8(seed, index);
                let step = usize::from(PATTERN_STEP_64[offset]);
                _mm512_storeu_si512(op.cast(), pattern);
                let mut i = step;
                while i < len {
                    _mm512_storeu_si512(op.add(i).cast(), pattern);
                    i += step;
                }
            }
        }
    }
}

/// Decodes a block with the AVX-512 kernels.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VL, AVX2, BMI1 and BMI2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,bmi1,bmi2")]
pub(super) unsafe fn decompress(src: &[u8], dst: &mut [u8]) -> Result<usize, Lz4Error> {
    decompress_block::<Avx512>(src, dst)
}

/// Encodes a block with the AVX-512 kernels.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VL, AVX2, BMI1 and BMI2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,bmi1,bmi2")]
pub(super) unsafe fn compress(
    table: &mut Table,
    acceleration: u32,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    compress_block::<Avx512>(table, acceleration, src, dst)
}

/// Encodes one page with the AVX-512 kernels (the length is a constant after inlining).
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VL, AVX2, BMI1 and BMI2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,bmi1,bmi2")]
pub(super) unsafe fn compress_page(
    table: &mut Table,
    acceleration: u32,
    page: &Page,
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    compress_block::<Avx512>(table, acceleration, page, dst)
}
