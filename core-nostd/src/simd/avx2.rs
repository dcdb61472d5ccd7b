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
