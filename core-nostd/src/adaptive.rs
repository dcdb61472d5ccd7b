//! Per-page codec choice for [`Algorithm::Adaptive`](crate::Algorithm::Adaptive): store a page
//! whose sample looks random without running a codec; compress every other page with Zstandard, at
//! a fast level when the page has many zero bytes and at a stronger one when it has few.
//!
//! Why these signals, measured on the memory pages of `memdump.bin` (each page's size and time at
//! each level, then every rule on the features of [`Estimate`] tried against them):
//! - Zstandard at level -1 (raw literals) already gives more ratio per unit of time than LZ4 with
//!   any share of the pages: giving LZ4 the pages that any cheap feature (sample entropy, zero
//!   bytes, repeated words) picks moves the point below the straight line between LZ4 and
//!   Zstandard level 1, because LZ4's loss is largest on exactly the pages it compresses fastest.
//!   Earlier versions ran LZ4 on every page and re-encoded LZ4's parse of the large blocks as a
//!   Zstandard frame; that gave 3.61 at 0.58x liblz4's speed, where level -1 alone now gives 4.56
//!   at 0.67x.
//! - Between levels -1 and 1 (Huffman-coded literals and a slower skip) the zero bytes tell which
//!   pages gain: a page with few zeros is mostly literal bytes (text, code, packed data), where the
//!   Huffman stage saves the most. Level 1 on the pages with fewer than 1024 zero bytes (a fifth of
//!   memdump.bin) and level -1 on the rest gives 4.83 at 0.60x liblz4's speed: above the line
//!   between levels -1 and 1 (choosing levels for the same share of pages at random would give
//!   4.77) and above the line between LZ4 and level 1 (4.68).
//! - Pages whose quick sample looks random save nothing with any codec and are stored before any
//!   codec runs.
//!
//! Every decision is made on integers and fixed thresholds, so the same page always gets the same
//! encoding on every target.

use crate::Page;
use crate::entropy::{Estimate, StagedEstimate, redundancy_counts};
use crate::simd::SimdBackend;

/// What happens to a page that is not same-fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Choice {
    /// Keep the raw bytes: the sample says no codec would pay.
    Stored,
    /// A Zstandard frame at this level (stored after all when it is not smaller than a page).
    Zstd {
        /// The level, in `-7..=9`.
        level: i8,
    },
}

/// The thresholds of the adaptive choice, all public so that a caller can tune them. The defaults
/// were fitted on memory pages of running programs (`cargo xtask bench adaptive` prints the result
/// beside LZ4 and Zstandard alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdaptivePolicy {
    /// Entropy of the quick sample (128 bytes), in 1/65536 bit per byte, at or above which a page is
    /// stored without running a codec. 128 random bytes measure about 6.55 bits (never below 6.3 in
    /// 300 trials); of the 16,384 pages of memdump.bin, 6 reach 6.25, and storing them costs 0.02%
    /// of the corpus ratio. A random page that slips under it costs one Zstandard run, whose frame
    /// does not fit a page, and is stored then.
    pub quick_store_entropy_q16: u32,
    /// Zero bytes (of 4096) from which a page is compressed at [`Self::sparse_level`]; pages with
    /// fewer get [`Self::dense_level`]. Higher values give more pages the dense level: more ratio
    /// for more time. On memdump.bin, with levels -1 and 1: 256 gives 4.79 at 0.61x liblz4, 1024
    /// (the default) 4.83 at 0.60x, 1792 4.98 at 0.56x, 2560 5.06 at 0.53x; level 1 alone gives 5.10
    /// at 0.50x, level -1 alone 4.56 at 0.67x.
    pub sparse_min_zero_bytes: u32,
    /// The Zstandard level of pages with many zero bytes (`-7..=9`). Levels -7 to 2 share one
    /// match finder, so a switch between two of them costs nothing; between levels with different
    /// finders, each switch builds the new finder's tables (a clear of 16 KiB or more).
    pub sparse_level: i8,
    /// The Zstandard level of pages with few zero bytes (`-7..=9`).
    pub dense_level: i8,
}

impl Default for AdaptivePolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl AdaptivePolicy {
    /// The default thresholds.
    pub const DEFAULT: Self = Self {
        quick_store_entropy_q16: 25 << 14, // 6.25 bits
        sparse_min_zero_bytes: 1024,
        sparse_level: -1,
        dense_level: 1,
    };

    /// The choice for `page`, counting its zero bytes on `backend` only when the quick sample (128
    /// bytes) has not already stored it: the same as [`Self::choose`] of the page's [`Estimate`].
    pub fn choose_page(&self, backend: SimdBackend, page: &Page) -> Choice {
        let quick_entropy_q16 = StagedEstimate::new(page).quick_entropy_q16();
        if self.stores(quick_entropy_q16) {
            return Choice::Stored;
        }
        let (zero_bytes, _) = redundancy_counts(backend, page);
        self.zstd_choice(zero_bytes)
    }

    /// The choice for a page with this estimate.
    pub fn choose(&self, estimate: &Estimate) -> Choice {
        if self.stores(estimate.quick_entropy_q16) {
            Choice::Stored
        } else {
            self.zstd_choice(estimate.zero_bytes)
        }
    }

    fn stores(&self, quick_entropy_q16: u32) -> bool {
        quick_entropy_q16 >= self.quick_store_entropy_q16
    }

    fn zstd_choice(&self, zero_bytes: u32) -> Choice {
        let level = if zero_bytes >= self.sparse_min_zero_bytes {
            self.sparse_level
        } else {
            self.dense_level
        };
        Choice::Zstd { level }
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

    fn both_ways(policy: &AdaptivePolicy, page: &crate::Page) -> Choice {
        let by_page = policy.choose_page(SimdBackend::Scalar, page);
        for backend in SimdBackend::available() {
            assert_eq!(policy.choose_page(backend, page), by_page, "{backend:?}");
            assert_eq!(
                policy.choose(&entropy::estimate_with(backend, page)),
                by_page,
                "{backend:?}"
            );
        }
        by_page
    }

    #[test]
    fn random_pages_are_stored_without_a_codec() {
        for seed in 1..20 {
            let page = xorshift_page(seed);
            assert_eq!(both_ways(&AdaptivePolicy::DEFAULT, &page), Choice::Stored);
        }
    }

    #[test]
    fn pages_with_few_zeros_get_the_dense_level() {
        let text = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ";
        let mut page = [0u8; PAGE_SIZE];
        for (i, b) in page.iter_mut().enumerate() {
            *b = text[(i * 7 + i / 91) % text.len()];
        }
        assert_eq!(
            both_ways(&AdaptivePolicy::DEFAULT, &page),
            Choice::Zstd { level: 1 }
        );
    }

    #[test]
    fn pages_with_many_zeros_get_the_sparse_level() {
        let mut sparse = [0u8; PAGE_SIZE];
        for i in (0..PAGE_SIZE).step_by(64) {
            sparse[i..i + 6].copy_from_slice(&(0x7f00_dead_0000u64 + i as u64).to_le_bytes()[..6]);
        }
        for p in [sparse, [0u8; PAGE_SIZE]] {
            assert_eq!(
                both_ways(&AdaptivePolicy::DEFAULT, &p),
                Choice::Zstd { level: -1 }
            );
        }
    }

    #[test]
    fn thresholds_are_honoured() {
        let mut estimate = Estimate {
            quick_entropy_q16: (35 << 16) / 10,
            sample_entropy_q16: 3 << 16,
            zero_bytes: 100,
            repeated_words: 0,
        };
        let mut policy = AdaptivePolicy {
            sparse_min_zero_bytes: 100,
            sparse_level: -3,
            dense_level: 5,
            ..AdaptivePolicy::DEFAULT
        };
        assert_eq!(policy.choose(&estimate), Choice::Zstd { level: -3 });
        estimate.zero_bytes = 99;
        assert_eq!(policy.choose(&estimate), Choice::Zstd { level: 5 });
        policy.quick_store_entropy_q16 = (35 << 16) / 10;
        assert_eq!(policy.choose(&estimate), Choice::Stored);
    }
}
