//! The small operations that the LZ4 loops spend their time in, as a trait with one implementation per
//! SIMD backend. [`Scalar`] here is the oracle; the others (beside this file) are tested against it.
//!
//! Every kernel may read and write past the bytes it is asked for, up to a documented slack: the
//! callers only take these paths when the buffers have that slack, and fall back to exact copies near
//! the ends. That overshoot is what makes a copy one or two vector stores instead of a byte loop.

/// Bytes after the end of a match that [`Kernels::copy_match_wild`] may write (and read).
pub(crate) const MATCH_SLACK: usize = 64;

/// Bytes from the start of a match that [`Kernels::copy_match_short`] may write (and read), on every
/// backend: the room the decoder's fast loop keeps after a short match, far less than
/// [`MATCH_SLACK`], so that only the last few sequences of a page take the checked path.
pub(crate) const SHORT_MATCH_REACH: usize = 34;

/// Step of [`Kernels::copy_wild32`]: it copies whole 32-byte blocks.
pub(crate) const WILD_STEP: usize = 32;

/// The operations the compressor and the decompressor are generic over. All are `unsafe`: they take
/// raw pointers whose ranges the caller proves valid.
pub(crate) trait Kernels {
    /// The number of leading bytes at `a` that equal those at `b`, looking only at `a..a_end`.
    ///
    /// # Safety
    /// `a <= a_end`; `a..a_end` and `b..b + (a_end - a)` are readable.
    unsafe fn count_equal(a: *const u8, b: *const u8, a_end: *const u8) -> usize;

    /// Copies `len` bytes from `src` to `dst` in blocks of [`WILD_STEP`] bytes: the first block
    /// always, so it reads and writes `len` rounded up to a multiple of 32, and at least 32 bytes.
    ///
    /// # Safety
    /// `src..src + len + 32` is readable, `dst..dst + len + 32` is writable, and the two do not overlap.
    unsafe fn copy_wild32(dst: *mut u8, src: *const u8, len: usize);

    /// Copies the `len`-byte match that starts `offset` bytes before `op` to `op`; the two may overlap
    /// (a small offset repeats a pattern). Writes at most [`MATCH_SLACK`] bytes past `op + len`, and
    /// reads `op - offset .. op + len + MATCH_SLACK`.
    ///
    /// # Safety
    /// `1 <= offset`, `op - offset .. op + len + MATCH_SLACK` lies inside one writable allocation.
    unsafe fn copy_match_wild(op: *mut u8, offset: usize, len: usize);

    /// Copies a match of `len` <= 18 bytes (a token without length bytes) from `op - offset` to
    /// `op`, writing at most [`SHORT_MATCH_REACH`] bytes from `op`. At offsets of 8 or more it
    /// copies three 8-byte words in order (each word's source is already written): small loads are
    /// more often wholly inside one earlier store, so the CPU forwards them instead of stalling,
    /// which wider loads of just-written bytes cannot. A word past the match's `len` bytes is not
    /// needed, so it is read at the first word's source instead of its own (still written, so the
    /// stores need no branch): an unneeded load then cannot straddle recent stores and stall.
    /// Smaller offsets expand a pattern with [`Kernels::copy_match_wild`], whose stores for 18 bytes
    /// reach at most 33 bytes on the scalar, AVX2 and NEON backends; a backend with wider stores
    /// overrides this.
    ///
    /// # Safety
    /// `1 <= offset`, `len <= 18`, and `op - offset .. op + SHORT_MATCH_REACH` lies inside one
    /// writable allocation.
    #[inline(always)]
    unsafe fn copy_match_short(op: *mut u8, offset: usize, len: usize) {
        // SAFETY: the caller guarantees op - offset .. op + SHORT_MATCH_REACH is one writable
        // allocation; the words read inside op - offset .. op - offset + 24 and write op .. op + 24,
        // and the pattern stores of this default stay below op + 34 (see above).
        unsafe {
            if offset >= 8 {
                copy_short_words(op, offset, len);
            } else {
                Self::copy_match_wild(op, offset, 18);
            }
        }
    }
}

/// The three word copies of [`Kernels::copy_match_short`] at an offset of 8 or more: word `k` from
/// its own source when the match needs it (`len > 8 * k`), else from the first word's source.
///
/// # Safety
/// `offset >= 8`; `op - offset .. op + 24` lies inside one writable allocation.
#[inline(always)]
pub(crate) unsafe fn copy_short_words(op: *mut u8, offset: usize, len: usize) {
    let second = 8 * usize::from(len > 8);
    let third = 16 * usize::from(len > 16);
    // SAFETY: second <= 8 and third <= 16, so every read is inside op - offset .. op - offset + 24
    // and every write inside op .. op + 24 (caller); a read at an offset of 8 or more comes before
    // the write of the same word.
    unsafe {
        let src = op.sub(offset);
        copy8(op, src);
        copy8(op.add(8), src.add(second));
        copy8(op.add(16), src.add(third));
    }
}

/// For each small match offset `o` (1..16), the byte indices `i % o`: a shuffle with this row turns
/// the `o` bytes before a match into the repeated pattern that the match writes. Row 0 is unused.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) static PATTERN_INDEX: [[u8; 64]; 16] = pattern_index();

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const fn pattern_index() -> [[u8; 64]; 16] {
    let mut table = [[0u8; 64]; 16];
    let mut o = 1;
    while o < 16 {
        let mut i = 0;
        while i < 64 {
            // i % o < 16, so the cast keeps the value.
            #[allow(clippy::cast_possible_truncation)]
            {
                table[o][i] = (i % o) as u8;
            }
            i += 1;
        }
        o += 1;
    }
    table
}

/// For each small match offset `o` (1..16) and a pattern register of `W` bytes, the largest multiple
/// of `o` that is at most `W`: how far a pattern store can advance and stay in phase. A table, so the
/// hot path has no division. Entry 0 is unused.
pub(crate) static PATTERN_STEP_16: [u8; 16] = pattern_step::<16>();
/// [`PATTERN_STEP_16`] for 32-byte registers.
#[cfg(target_arch = "x86_64")]
pub(crate) static PATTERN_STEP_32: [u8; 16] = pattern_step::<32>();
/// [`PATTERN_STEP_16`] for 64-byte registers.
#[cfg(target_arch = "x86_64")]
pub(crate) static PATTERN_STEP_64: [u8; 16] = pattern_step::<64>();

const fn pattern_step<const W: usize>() -> [u8; 16] {
    let mut table = [0u8; 16];
    let mut o = 1;
    while o < 16 {
        // W - W % o <= 64, so the cast keeps the value.
        #[allow(clippy::cast_possible_truncation)]
        {
            table[o] = (W - W % o) as u8;
        }
        o += 1;
    }
    table
}

/// Reads a little-endian `u64` at `p`.
///
/// # Safety
/// `p..p + 8` is readable.
#[inline(always)]
pub(crate) unsafe fn read_u64_le(p: *const u8) -> u64 {
    // SAFETY: the caller guarantees 8 readable bytes; read_unaligned needs no alignment.
    u64::from_le(unsafe { p.cast::<u64>().read_unaligned() })
}

/// Copies 8 bytes with one unaligned load and one store.
///
/// # Safety
/// `src..src + 8` is readable and `dst..dst + 8` writable.
#[inline(always)]
pub(crate) unsafe fn copy8(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller guarantees both 8-byte ranges; unaligned accesses are allowed.
    unsafe {
        dst.cast::<u64>()
            .write_unaligned(src.cast::<u64>().read_unaligned())
    }
}

/// Copies 16 bytes with one unaligned load and one store (the load happens before the store, so the
/// ranges may overlap).
///
/// # Safety
/// `src..src + 16` is readable and `dst..dst + 16` writable.
#[inline(always)]
pub(crate) unsafe fn copy16(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller guarantees both 16-byte ranges; unaligned accesses are allowed.
    unsafe {
        let v = src.cast::<[u8; 16]>().read_unaligned();
        dst.cast::<[u8; 16]>().write_unaligned(v);
    }
}

/// Counts equal bytes 8 at a time, then one at a time: the tail shared by every backend.
///
/// # Safety
/// As [`Kernels::count_equal`].
#[inline(always)]
pub(crate) unsafe fn count_equal_scalar(a: *const u8, b: *const u8, a_end: *const u8) -> usize {
    // SAFETY: a <= a_end within one allocation (caller), so the distance is non-negative.
    let len = unsafe { a_end.offset_from(a) }.unsigned_abs();
    let mut n = 0;
    while n + 8 <= len {
        // SAFETY: n + 8 <= len, so both 8-byte reads stay inside the ranges the caller vouches for.
        let diff = unsafe { read_u64_le(a.add(n)) ^ read_u64_le(b.add(n)) };
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    // SAFETY: n < len, inside both ranges.
    while n < len && unsafe { *a.add(n) == *b.add(n) } {
        n += 1;
    }
    n
}

/// The portable oracle: 8-byte compares, 16-byte copies, a byte loop to seed small-offset patterns.
pub(crate) struct Scalar;

impl Kernels for Scalar {
    #[inline(always)]
    unsafe fn count_equal(a: *const u8, b: *const u8, a_end: *const u8) -> usize {
        // SAFETY: same contract.
        unsafe { count_equal_scalar(a, b, a_end) }
    }

    #[inline(always)]
    unsafe fn copy_wild32(dst: *mut u8, src: *const u8, len: usize) {
        let mut i = 0;
        loop {
            // SAFETY: i < max(len, 1), so i + 32 <= len + 32: inside both ranges the caller
            // vouches for.
            unsafe {
                copy16(dst.add(i), src.add(i));
                copy16(dst.add(i + 16), src.add(i + 16));
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
        // allocation; every access below stays within op - offset .. op + len + 15.
        unsafe {
            let src = op.sub(offset);
            if offset >= 16 {
                // Each 16-byte source block ends at or before the destination block starts. The
                // first two blocks cover every match of a token without length bytes.
                copy16(op, src);
                copy16(op.add(16), src.add(16));
                let mut i = 32;
                while i < len {
                    copy16(op.add(i), src.add(i));
                    i += 16;
                }
            } else {
                // Seed 16 bytes one at a time (each may read the byte just written), then repeat
                // that block at a step that keeps the pattern in phase.
                for i in 0..16 {
                    *op.add(i) = *src.add(i);
                }
                let step = usize::from(PATTERN_STEP_16[offset]);
                let mut i = step;
                while i < len {
                    copy16(op.add(i), op);
                    i += step;
                }
            }
        }
    }
}
