//! Per-page codec choice for [`Algorithm::Adaptive`](crate::Algorithm::Adaptive): store a page
//! whose sample looks random without running a codec; give every other page to LZ4; and when LZ4's
//! block is large, entropy-code LZ4's own parse of the page as a Zstandard frame
//! ([`Lz4Recoder`](crate::zstd::compress::Lz4Recoder)) instead of running a second match finder.
//!
//! Why these signals: Zstandard's gain over LZ4 on memory pages comes mostly from entropy-coding the
//! literals and sequences, and it is largest on pages that LZ4 leaves large (many literals with a
//! skewed distribution, many short matches): LZ4's block size measures that directly, for the price
//! of LZ4, which every page pays anyway. Pages that LZ4 already shrinks well (zero runs, long
//! repeats) gain little from the entropy stage and keep their LZ4 block. Pages whose quick sample
//! looks random save nothing with any codec and are stored before LZ4 runs. Every decision is made
//! on integers and fixed thresholds, so the same page always gets the same encoding on every target.

use crate::Page;
use crate::entropy::{Estimate, StagedEstimate};
use crate::zstd::compress::{ParsedBlock, Recode};

/// What happens to a page before any codec runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Choice {
    /// Keep the raw bytes: the sample says no codec would pay.
    Stored,
    /// Run LZ4; a block of at least [`AdaptivePolicy::recode_min_lz4_len`] bytes then becomes a
    /// Zstandard frame when that is smaller ([`AdaptivePolicy::recodes`]).
    Lz4,
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
    /// of the corpus ratio. A random page that slips under it costs one LZ4 run, whose block does
    /// not fit a page, and is stored then.
    pub quick_store_entropy_q16: u32,
    /// Length of an LZ4 block (bytes, for a 4096-byte page) from which LZ4's parse is
    /// entropy-coded as a Zstandard frame ([`Lz4Recoder`](crate::zstd::compress::Lz4Recoder)),
    /// kept when it is smaller than the block; shorter blocks are kept as they are. Lower values
    /// recode more pages: a better ratio for more time. On memdump.bin, with LZ4 alone at 3.12,
    /// 1300 recodes 45% of the pages for a ratio of 3.91, 1500 34% for 3.73, 1700 (the default)
    /// 26% for 3.61, 2000 16% for 3.43; 4096 or more recodes nothing (LZ4 alone). A recode costs
    /// about twice what LZ4 costs on its page.
    pub recode_min_lz4_len: u32,
    /// Literal bytes from which a recoded frame's literals are Huffman-coded (when that is smaller
    /// than raw) rather than sent raw. The Huffman stage is about a third of a recode's time (2 us
    /// of it fixed, on a 2.6 GHz Xeon) for a quarter of its saving (170 bytes a page on the
    /// recoded pages of memdump.bin): raising this trades that ratio for speed. With the default
    /// block threshold, `u32::MAX` (always raw) gave 3.47 at 0.65x liblz4 where 0 (the default,
    /// always tried) gave 3.61 at 0.56x.
    pub huffman_min_literals: u32,
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
        recode_min_lz4_len: 1700,
        huffman_min_literals: 0,
    };

    /// How a parsed LZ4 block (one that [`Self::recodes`] accepted) becomes a Zstandard frame:
    /// with Huffman-coded literals from [`Self::huffman_min_literals`] literal bytes on, raw below.
    pub fn recode(&self, parsed: &ParsedBlock) -> Recode {
        if u32::try_from(parsed.literals).is_ok_and(|n| n >= self.huffman_min_literals) {
            Recode::HuffmanLiterals
        } else {
            Recode::RawLiterals
        }
    }

    /// The choice for `page`, from its quick sample only (128 bytes, one histogram of a sample):
    /// the same as [`Self::choose`] of the page's [`Estimate`].
    pub fn choose_page(&self, page: &Page) -> Choice {
        self.choose_quick(StagedEstimate::new(page).quick_entropy_q16())
    }

    /// The choice for a page with this estimate.
    pub fn choose(&self, estimate: &Estimate) -> Choice {
        self.choose_quick(estimate.quick_entropy_q16)
    }

    fn choose_quick(&self, quick_entropy_q16: u32) -> Choice {
        if quick_entropy_q16 >= self.quick_store_entropy_q16 {
            Choice::Stored
        } else {
            Choice::Lz4
        }
    }

    /// Whether a page whose LZ4 block is `lz4_len` bytes long is worth re-encoding as Zstandard
    /// ([`Self::recode`] then says how).
    pub fn recodes(&self, lz4_len: usize) -> bool {
        u32::try_from(lz4_len).is_ok_and(|len| len >= self.recode_min_lz4_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::SimdBackend;
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
            let page = xorshift_page(seed);
            let e = entropy::estimate(&page);
            assert_eq!(AdaptivePolicy::DEFAULT.choose(&e), Choice::Stored, "{e:?}");
            assert_eq!(AdaptivePolicy::DEFAULT.choose_page(&page), Choice::Stored);
        }
    }

    #[test]
    fn compressible_pages_go_to_lz4() {
        let text = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ";
        let mut page = [0u8; PAGE_SIZE];
        for (i, b) in page.iter_mut().enumerate() {
            *b = text[(i * 7 + i / 91) % text.len()];
        }
        let mut sparse = [0u8; PAGE_SIZE];
        for i in (0..PAGE_SIZE).step_by(64) {
            sparse[i..i + 6].copy_from_slice(&(0x7f00_dead_0000u64 + i as u64).to_le_bytes()[..6]);
        }
        let policy = AdaptivePolicy::DEFAULT;
        for p in [page, sparse, [0u8; PAGE_SIZE]] {
            assert_eq!(policy.choose_page(&p), Choice::Lz4);
            for backend in SimdBackend::available() {
                assert_eq!(
                    policy.choose(&entropy::estimate_with(backend, &p)),
                    Choice::Lz4
                );
            }
        }
    }

    #[test]
    fn thresholds_are_honoured() {
        let estimate = Estimate {
            quick_entropy_q16: (35 << 16) / 10,
            sample_entropy_q16: 3 << 16,
            zero_bytes: 100,
            repeated_words: 0,
        };
        let mut policy = AdaptivePolicy::DEFAULT;
        assert_eq!(policy.choose(&estimate), Choice::Lz4);
        policy.quick_store_entropy_q16 = (35 << 16) / 10;
        assert_eq!(policy.choose(&estimate), Choice::Stored);
        policy.recode_min_lz4_len = 1000;
        assert!(!policy.recodes(999));
        assert!(policy.recodes(1000));
        policy.recode_min_lz4_len = u32::MAX;
        assert!(!policy.recodes(4095));
    }

    #[test]
    fn literals_go_raw_below_the_huffman_threshold() {
        let parsed = ParsedBlock {
            lz4_len: 2000,
            decoded: 4096,
            literals: 800,
            sequences: 300,
        };
        let mut policy = AdaptivePolicy::DEFAULT;
        assert_eq!(policy.recode(&parsed), Recode::HuffmanLiterals);
        policy.huffman_min_literals = 801;
        assert_eq!(policy.recode(&parsed), Recode::RawLiterals);
        policy.huffman_min_literals = 800;
        assert_eq!(policy.recode(&parsed), Recode::HuffmanLiterals);
    }
}
