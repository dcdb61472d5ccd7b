//! Per-page codec choice for [`Algorithm::Adaptive`](crate::Algorithm::Adaptive): look at a page's
//! [`Estimate`] (sampled entropy, zero bytes, repeated words) and decide, before any codec runs,
//! whether to store it raw, give it to LZ4, or spend Zstandard's entropy coding on it.
//!
//! Why these signals: Zstandard's gain over LZ4 on memory pages comes mostly from entropy-coding the
//! literals and sequences. Pages dominated by zero runs are already cheap for LZ4 (its tokens cover
//! the runs), so the bytes Zstandard can save are on pages with many non-zero literals whose
//! distribution is skewed (moderate entropy). Pages whose sample looks random save nothing with any
//! codec and are stored without running one. Every decision is made on integers and fixed
//! thresholds, so the same page always gets the same encoding on every target.

use crate::Page;
use crate::entropy::{Estimate, StagedEstimate};
use crate::simd::SimdBackend;

/// Where a page goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Choice {
    /// Keep the raw bytes: the estimate says no codec would pay.
    Stored,
    /// LZ4: fastest, for pages Zstandard would not shrink much further.
    Lz4,
    /// Zstandard at this level.
    Zstd(i8),
}

/// The thresholds of the adaptive choice, all public so that a caller can tune them. The defaults
/// were fitted on memory pages of running programs (`cargo xtask bench adaptive` prints the result
/// beside LZ4 and Zstandard alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdaptivePolicy {
    /// Entropy of the quick sample (128 bytes), in 1/65536 bit per byte, at or above which a page is
    /// stored at once, before the rest of the estimate is computed. 128 random bytes measure about
    /// 6.55 bits (never below 6.3 in 300 trials); of the 16,384 pages of memdump.bin, 6 reach 6.25,
    /// and storing them costs 0.02% of the corpus ratio. A random page that slips under it is still
    /// stored by `store_entropy_q16`, one stage later.
    pub quick_store_entropy_q16: u32,
    /// Sample entropy, in 1/65536 bit per byte, at or above which a page is stored without running a
    /// codec. A 1 KiB sample of random bytes measures about 7.8 bits; compressible pages rarely
    /// exceed 6.5.
    pub store_entropy_q16: u32,
    /// Smallest sample entropy (1/65536 bit per byte) for which Zstandard is chosen: below it the page
    /// is nearly one symbol and LZ4 already does well.
    pub zstd_min_entropy_q16: u32,
    /// Sample entropy (1/65536 bit per byte) from which Zstandard is no longer chosen.
    pub zstd_max_entropy_q16: u32,
    /// Most zero bytes a page may have for Zstandard to be chosen (zero runs are cheap for LZ4).
    pub zstd_max_zero_bytes: u32,
    /// The Zstandard level for chosen pages.
    pub zstd_level: i8,
}

impl Default for AdaptivePolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

const fn bits_q16(tenths: u32) -> u32 {
    tenths * 65536 / 10
}

impl AdaptivePolicy {
    /// The default thresholds.
    pub const DEFAULT: Self = Self {
        quick_store_entropy_q16: 25 << 14, // 6.25 bits
        store_entropy_q16: bits_q16(72),
        zstd_min_entropy_q16: bits_q16(5),
        zstd_max_entropy_q16: bits_q16(60),
        zstd_max_zero_bytes: 1536,
        zstd_level: 1,
    };

    /// The choice for `page`, computing only as much of its estimate as the choice needs: a page
    /// whose quick sample looks random is stored without the rest. The same as
    /// [`Self::choose`] of the page's full [`Estimate`].
    pub fn choose_page(&self, backend: SimdBackend, page: &Page) -> Choice {
        let mut estimate = StagedEstimate::new(page);
        let quick = estimate.quick_entropy_q16();
        if quick >= self.quick_store_entropy_q16 {
            return Choice::Stored;
        }
        self.choose(&estimate.finish(backend, quick))
    }

    /// The choice for a page with this estimate.
    pub fn choose(&self, estimate: &Estimate) -> Choice {
        let entropy = estimate.sample_entropy_q16;
        if estimate.quick_entropy_q16 >= self.quick_store_entropy_q16
            || entropy >= self.store_entropy_q16
        {
            Choice::Stored
        } else if (self.zstd_min_entropy_q16..self.zstd_max_entropy_q16).contains(&entropy)
            && estimate.zero_bytes <= self.zstd_max_zero_bytes
        {
            Choice::Zstd(self.zstd_level)
        } else {
            Choice::Lz4
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PAGE_SIZE, entropy};

    fn xorshift_page(seed: u64) -> crate::Page {
        let mut state = seed | 1;
        let mut page = [0u8; PAGE_SIZE];
        for b in page.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = (state >> 56) as u8;
        }
        page
    }

    #[test]
    fn random_pages_are_stored_without_a_codec() {
        for seed in 1..20 {
            let e = entropy::estimate(&xorshift_page(seed));
            assert_eq!(AdaptivePolicy::DEFAULT.choose(&e), Choice::Stored, "{e:?}");
        }
    }

    #[test]
    fn text_goes_to_zstd_and_zero_heavy_pages_to_lz4() {
        let text = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ";
        let mut page = [0u8; PAGE_SIZE];
        for (i, b) in page.iter_mut().enumerate() {
            *b = text[(i * 7 + i / 91) % text.len()];
        }
        let policy = AdaptivePolicy::DEFAULT;
        assert_eq!(
            policy.choose(&entropy::estimate(&page)),
            Choice::Zstd(policy.zstd_level)
        );
        // Mostly zeros with a few pointers: LZ4's tokens already cover the runs.
        let mut sparse = [0u8; PAGE_SIZE];
        for i in (0..PAGE_SIZE).step_by(64) {
            sparse[i..i + 6].copy_from_slice(&(0x7f00_dead_0000u64 + i as u64).to_le_bytes()[..6]);
        }
        assert_eq!(policy.choose(&entropy::estimate(&sparse)), Choice::Lz4);
    }

    #[test]
    fn the_staged_choice_equals_the_full_one() {
        let policy = AdaptivePolicy::DEFAULT;
        let mut text = [0u8; PAGE_SIZE];
        for (i, b) in text.iter_mut().enumerate() {
            *b = b"staged choice "[i % 14].wrapping_add((i / 512) as u8);
        }
        for page in [xorshift_page(5), text, [0u8; PAGE_SIZE]] {
            for backend in SimdBackend::available() {
                assert_eq!(
                    policy.choose_page(backend, &page),
                    policy.choose(&entropy::estimate_with(backend, &page)),
                    "{backend}"
                );
            }
        }
    }

    #[test]
    fn thresholds_are_honoured() {
        let estimate = Estimate {
            quick_entropy_q16: bits_q16(35),
            sample_entropy_q16: bits_q16(30),
            zero_bytes: 100,
            repeated_words: 0,
        };
        let mut policy = AdaptivePolicy::DEFAULT;
        assert_eq!(policy.choose(&estimate), Choice::Zstd(1));
        policy.zstd_max_zero_bytes = 50;
        assert_eq!(policy.choose(&estimate), Choice::Lz4);
        policy.store_entropy_q16 = bits_q16(30);
        assert_eq!(policy.choose(&estimate), Choice::Stored);
        policy.store_entropy_q16 = bits_q16(80);
        policy.quick_store_entropy_q16 = bits_q16(35);
        assert_eq!(policy.choose(&estimate), Choice::Stored);
    }
}
