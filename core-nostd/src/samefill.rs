//! Same-fill pages: a page that is one 8-byte word repeated (as kernel zram's same-element pages) is
//! stored as that word. Detection runs on every page, so it has SIMD kernels that stop at the first
//! differing vector; each gives the same answer as the scalar oracle here.

use crate::Page;
use crate::simd::SimdBackend;

/// The word that `page` repeats, if it is one 8-byte word repeated; read little-endian.
pub fn detect(page: &Page) -> Option<u64> {
    detect_with(SimdBackend::detect(), page)
}

/// [`detect`] on a chosen backend; a backend the CPU lacks falls back as [`SimdBackend::resolve`] says.
pub fn detect_with(backend: SimdBackend, page: &Page) -> Option<u64> {
    let word = first_word(page);
    let same = match backend.resolve() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: resolve() returned Avx512, so the CPU and OS support AVX-512 F/BW/VL.
        SimdBackend::Avx512 => unsafe { crate::simd::avx512::is_repeated_word(page, word) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: resolve() returned Avx2, so the CPU and OS support AVX2.
        SimdBackend::Avx2 => unsafe { crate::simd::avx2::is_repeated_word(page, word) },
        #[cfg(target_arch = "aarch64")]
        SimdBackend::Neon => crate::simd::neon::is_repeated_word(page, word),
        _ => is_repeated_word_scalar(page, word),
    };
    same.then_some(word)
}

/// Fills `page` with `word` repeated (little-endian), the inverse of [`detect`].
pub fn fill(page: &mut Page, word: u64) {
    fill_with(SimdBackend::detect(), page, word);
}

/// [`fill`] on a chosen backend.
pub fn fill_with(backend: SimdBackend, page: &mut Page, word: u64) {
    match backend.resolve() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: resolve() returned Avx512, so the CPU and OS support AVX-512 F.
        SimdBackend::Avx512 => unsafe { crate::simd::avx512::fill_word(page, word) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: resolve() returned Avx2, so the CPU and OS support AVX2.
        SimdBackend::Avx2 => unsafe { crate::simd::avx2::fill_word(page, word) },
        _ => fill_scalar(page, word),
    }
}

fn first_word(page: &Page) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&page[..8]);
    u64::from_le_bytes(bytes)
}

/// The scalar oracle: compares 64 bytes at a time, OR-ing the differences so the loop has one branch.
pub(crate) fn is_repeated_word_scalar(page: &Page, word: u64) -> bool {
    let mut chunks = page.chunks_exact(64);
    chunks.all(|chunk| {
        let mut diff = 0u64;
        for w in chunk.chunks_exact(8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(w);
            diff |= u64::from_le_bytes(bytes) ^ word;
        }
        diff == 0
    })
}

fn fill_scalar(page: &mut Page, word: u64) {
    let bytes = word.to_le_bytes();
    for w in page.chunks_exact_mut(8) {
        w.copy_from_slice(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PAGE_SIZE;
    use proptest::prelude::*;

    fn filled(word: u64) -> Page {
        let mut p = [0u8; PAGE_SIZE];
        fill_scalar(&mut p, word);
        p
    }

    #[test]
    fn zero_and_pattern_pages_are_detected_on_every_backend() {
        for b in SimdBackend::available() {
            for word in [0u64, u64::MAX, 0x0102_0304_0506_0708, 0xdead_beef] {
                assert_eq!(detect_with(b, &filled(word)), Some(word), "{b}");
            }
        }
    }

    #[test]
    fn a_difference_in_any_byte_is_seen_on_every_backend() {
        let base = filled(0x1122_3344_5566_7788);
        for b in SimdBackend::available() {
            for pos in (0..PAGE_SIZE)
                .step_by(7)
                .chain([PAGE_SIZE - 1, 8, 63, 64, 4032])
            {
                let mut p = base;
                p[pos] ^= 0x80;
                // Flipping a byte of the first word changes the word, so the rest no longer match it.
                assert_eq!(detect_with(b, &p), None, "{b} pos {pos}");
            }
        }
    }

    #[test]
    fn fill_matches_scalar_on_every_backend() {
        for b in SimdBackend::available() {
            let mut p = [0xaau8; PAGE_SIZE];
            fill_with(b, &mut p, 0x0807_0605_0403_0201);
            assert_eq!(p, filled(0x0807_0605_0403_0201), "{b}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]
        #[test]
        fn every_backend_agrees_with_scalar(word: u64, pos in 0usize..PAGE_SIZE, flip: u8, differ: bool) {
            let mut p = filled(word);
            if differ {
                p[pos] ^= flip | 1;
            }
            let oracle = detect_with(SimdBackend::Scalar, &p);
            prop_assert_eq!(oracle.is_some(), !differ);
            for b in SimdBackend::available() {
                prop_assert_eq!(detect_with(b, &p), oracle, "{}", b);
            }
        }

        #[test]
        fn only_last_byte_differs(word: u64, last: u8) {
            let mut p = filled(word);
            p[PAGE_SIZE - 1] = last;
            let expected = (last == p[7]).then_some(word);
            for b in SimdBackend::available() {
                prop_assert_eq!(detect_with(b, &p), expected, "{}", b);
            }
        }
    }
}
