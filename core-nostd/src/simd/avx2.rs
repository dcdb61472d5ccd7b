//! AVX2 kernels shared by the page code. Each has a scalar twin that it is tested against.

use core::arch::x86_64::*;

use crate::Page;

/// Whether every 8-byte word of `page` equals `word`: 128 bytes per step, one branch per step.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn is_repeated_word(page: &Page, word: u64) -> bool {
    let pattern = _mm256_set1_epi64x(word.cast_signed());
    let ptr = page.as_ptr().cast::<__m256i>();
    let mut i = 0;
    while i < page.len() / 32 {
        // SAFETY: i + 3 < 128, so each 32-byte load lies inside the 4096-byte page; loadu allows any
        // alignment.
        let (a, b, c, d) = unsafe {
            (
                _mm256_loadu_si256(ptr.add(i)),
                _mm256_loadu_si256(ptr.add(i + 1)),
                _mm256_loadu_si256(ptr.add(i + 2)),
                _mm256_loadu_si256(ptr.add(i + 3)),
            )
        };
        let diff = _mm256_or_si256(
            _mm256_or_si256(_mm256_xor_si256(a, pattern), _mm256_xor_si256(b, pattern)),
            _mm256_or_si256(_mm256_xor_si256(c, pattern), _mm256_xor_si256(d, pattern)),
        );
        if _mm256_testz_si256(diff, diff) == 0 {
            return false;
        }
        i += 4;
    }
    true
}

/// Writes `word` repeated over `page`.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn fill_word(page: &mut Page, word: u64) {
    let pattern = _mm256_set1_epi64x(word.cast_signed());
    let ptr = page.as_mut_ptr().cast::<__m256i>();
    for i in 0..page.len() / 32 {
        // SAFETY: i < 128, so the 32-byte store lies inside the page; storeu allows any alignment.
        unsafe { _mm256_storeu_si256(ptr.add(i), pattern) };
    }
}

/// Zero bytes, and 8-byte words equal to the word before them (see `entropy::redundancy_counts`).
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[target_feature(enable = "avx2,popcnt")]
pub(crate) unsafe fn redundancy_counts(page: &Page) -> (u32, u32) {
    let ptr = page.as_ptr();
    let zero = _mm256_setzero_si256();
    let mut zeros = 0u32;
    for i in (0..page.len()).step_by(32) {
        // SAFETY: i + 32 <= 4096, so the load stays inside the page.
        let v = unsafe { _mm256_loadu_si256(ptr.add(i).cast()) };
        zeros += _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, zero)).count_ones();
    }
    // Words 1..=508 four at a time, each against the word before it; the rest in scalar.
    let mut repeated = 0u32;
    let mut offset = 8;
    while offset + 32 <= page.len() {
        // SAFETY: offset >= 8 and offset + 32 <= 4096, so both loads stay inside the page.
        let (cur, prev) = unsafe {
            (
                _mm256_loadu_si256(ptr.add(offset).cast()),
                _mm256_loadu_si256(ptr.add(offset - 8).cast()),
            )
        };
        let eq = _mm256_castsi256_pd(_mm256_cmpeq_epi64(cur, prev));
        repeated += _mm256_movemask_pd(eq).count_ones();
        offset += 32;
    }
    (
        zeros,
        repeated + crate::entropy::repeated_words_from(page, offset / 8),
    )
}
