//! AVX-512 (F, BW, VL) kernels shared by the page code. Each has a scalar twin that it is tested against.

use core::arch::x86_64::*;

use crate::Page;

/// Whether every 8-byte word of `page` equals `word`: 256 bytes per step, one mask test per step.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn is_repeated_word(page: &Page, word: u64) -> bool {
    let pattern = _mm512_set1_epi64(word.cast_signed());
    let ptr = page.as_ptr().cast::<__m512i>();
    let mut i = 0;
    while i < page.len() / 64 {
        // SAFETY: i + 3 < 64, so each 64-byte load lies inside the 4096-byte page; loadu allows any
        // alignment.
        let (a, b, c, d) = unsafe {
            (
                _mm512_loadu_si512(ptr.add(i)),
                _mm512_loadu_si512(ptr.add(i + 1)),
                _mm512_loadu_si512(ptr.add(i + 2)),
                _mm512_loadu_si512(ptr.add(i + 3)),
            )
        };
        let diff = _mm512_or_si512(
            _mm512_or_si512(_mm512_xor_si512(a, pattern), _mm512_xor_si512(b, pattern)),
            _mm512_or_si512(_mm512_xor_si512(c, pattern), _mm512_xor_si512(d, pattern)),
        );
        if _mm512_test_epi64_mask(diff, diff) != 0 {
            return false;
        }
        i += 4;
    }
    true
}

/// Writes `word` repeated over `page`.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn fill_word(page: &mut Page, word: u64) {
    let pattern = _mm512_set1_epi64(word.cast_signed());
    let ptr = page.as_mut_ptr().cast::<__m512i>();
    for i in 0..page.len() / 64 {
        // SAFETY: i < 64, so the 64-byte store lies inside the page; storeu allows any alignment.
        unsafe { _mm512_storeu_si512(ptr.add(i), pattern) };
    }
}

/// Zero bytes, and 8-byte words equal to the word before them (see `entropy::redundancy_counts`).
///
/// # Safety
/// The CPU must support AVX-512 F and BW, and POPCNT.
#[target_feature(enable = "avx512f,avx512bw,popcnt")]
pub(crate) unsafe fn redundancy_counts(page: &Page) -> (u32, u32) {
    let ptr = page.as_ptr();
    let zero = _mm512_setzero_si512();
    let mut zeros = 0u32;
    for i in (0..page.len()).step_by(64) {
        // SAFETY: i + 64 <= 4096, so the load stays inside the page.
        let v = unsafe { _mm512_loadu_si512(ptr.add(i).cast()) };
        zeros += _mm512_cmpeq_epi8_mask(v, zero).count_ones();
    }
    // Words 1..=504 eight at a time, each against the word before it; the rest in scalar.
    let mut repeated = 0u32;
    let mut offset = 8;
    while offset + 64 <= page.len() {
        // SAFETY: offset >= 8 and offset + 64 <= 4096, so both loads stay inside the page.
        let (cur, prev) = unsafe {
            (
                _mm512_loadu_si512(ptr.add(offset).cast()),
                _mm512_loadu_si512(ptr.add(offset - 8).cast()),
            )
        };
        repeated += _mm512_cmpeq_epi64_mask(cur, prev).count_ones();
        offset += 64;
    }
    (
        zeros,
        repeated + crate::entropy::repeated_words_from(page, offset / 8),
    )
}
