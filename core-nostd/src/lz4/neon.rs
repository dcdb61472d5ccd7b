//! NEON kernels of the LZ4 codec: 16-byte compares for match extension (a narrowing shift turns the
//! compare into a 64-bit mask), 16-byte copies, and a table lookup that expands a small-offset match
//! into a 16-byte pattern. Tested against [`Scalar`] byte for byte (under qemu in
//! `cargo xtask test-cross`).
//!
//! [`Scalar`]: super::kernels::Scalar

use core::arch::aarch64::*;

use super::compress::{Table, compress_block};
use super::decompress::decompress_block;
use super::error::Lz4Error;
use super::kernels::{
    Kernels, PATTERN_INDEX, PATTERN_STEP_16, WILD_STEP, count_equal_scalar, read_u64_le,
};
use crate::Page;

/// The NEON kernels (NEON is baseline on AArch64).
pub(super) struct Neon;

/// Copies 16 bytes through a NEON register.
///
/// # Safety
/// `src..src + 16` readable, `dst..dst + 16` writable.
#[inline(always)]
unsafe fn copy16_neon(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller guarantees both ranges; vld1q/vst1q need no alignment.
    unsafe { vst1q_u8(dst, vld1q_u8(src)) }
}

impl Kernels for Neon {
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
        while n + 16 <= len {
            // SAFETY: n + 16 <= len: both loads are inside the vouched ranges. The narrowing shift
            // packs each compare byte into 4 bits, in byte order.
            let equal = unsafe {
                let eq = vceqq_u8(vld1q_u8(a.add(n)), vld1q_u8(b.add(n)));
                let nibbles = vshrn_n_u16::<4>(vreinterpretq_u16_u8(eq));
                vget_lane_u64::<0>(vreinterpret_u64_u8(nibbles))
            };
            if equal != u64::MAX {
                return n + ((!equal).trailing_zeros() / 4) as usize;
            }
            n += 16;
        }
        // SAFETY: a + n <= a_end, and the rest of both ranges is still vouched for.
        n + unsafe { count_equal_scalar(a.add(n), b.add(n), a_end) }
    }

    #[inline(always)]
    unsafe fn copy_wild32(dst: *mut u8, src: *const u8, len: usize) {
        let mut i = 0;
        loop {
            // SAFETY: i < max(len, 1), so the 32 bytes at i end by len + 32, inside both ranges.
            unsafe {
                copy16_neon(dst.add(i), src.add(i));
                copy16_neon(dst.add(i + 16), src.add(i + 16));
            }
            i += WILD_STEP;
            if i >= len {
                break;
            }
        }
    }

    #[inline(always)]
    unsafe fn copy_match_wild(op: *mut u8, offset: usize, len: usize) {
        // SAFETY: for the whole body, the caller guarantees op - offset .. op + len + 64 is one writable
        // allocation; every access stays within op - offset .. op + len + 31.
        unsafe {
            let src = op.sub(offset);
            if offset >= 32 {
                copy16_neon(op, src);
                copy16_neon(op.add(16), src.add(16));
                let mut i = 32;
                while i < len {
                    copy16_neon(op.add(i), src.add(i));
                    copy16_neon(op.add(i + 16), src.add(i + 16));
                    i += 32;
                }
            } else if offset >= 16 {
                copy16_neon(op, src);
                copy16_neon(op.add(16), src.add(16));
                let mut i = 32;
                while i < len {
                    copy16_neon(op.add(i), src.add(i));
                    i += 16;
                }
            } else {
                // The `offset` bytes before op, repeated over 16 bytes by a table lookup whose
                // indices are all below offset <= 15.
                let pattern = vqtbl1q_u8(vld1q_u8(src), vld1q_u8(PATTERN_INDEX[offset].as_ptr()));
                let step = usize::from(PATTERN_STEP_16[offset]);
                vst1q_u8(op, pattern);
                let mut i = step;
                while i < len {
                    vst1q_u8(op.add(i), pattern);
                    i += step;
                }
            }
        }
    }
}

/// Decodes a block with the NEON kernels.
pub(super) fn decompress(src: &[u8], dst: &mut [u8]) -> Result<usize, Lz4Error> {
    decompress_block::<Neon>(src, dst)
}

/// Encodes a block with the NEON kernels.
pub(super) fn compress(
    table: &mut Table,
    acceleration: u32,
    src: &[u8],
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    compress_block::<Neon>(table, acceleration, src, dst)
}

/// Encodes one page with the NEON kernels (the length is a constant after inlining).
pub(super) fn compress_page(
    table: &mut Table,
    acceleration: u32,
    page: &Page,
    dst: &mut [u8],
) -> Result<usize, Lz4Error> {
    compress_block::<Neon>(table, acceleration, page, dst)
}
