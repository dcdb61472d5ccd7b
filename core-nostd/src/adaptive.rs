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
    /// Length of an LZ4 block (bytes, for a 4096-byte page) from which LZ4's parse is read back
    /// ([`Lz4Recoder`](crate::zstd::compress::Lz4Recoder)) and, as the gate below allows,
    /// entropy-coded as a Zstandard frame, kept when it is smaller than the block; shorter blocks
    /// are kept as they are. Reading a block back costs about a tenth of what LZ4 costs on the
    /// page, the whole recode about twice. On memdump.bin, with LZ4 alone at 3.12 and no gate,
    /// 1300 recodes 45% of the pages for a ratio of 3.91, 1500 34% for 3.73, 1700 (the default)
    /// 26% for 3.61, 2000 16% for 3.43; 4096 or more recodes nothing (LZ4 alone).
    pub recode_min_lz4_len: u32,
    /// Bytes that a recode must be predicted to save (against the LZ4 block) before its entropy
    /// stage runs, for the fixed part of its cost (three sequence tables and the frame). The
    /// prediction ([`AdaptivePolicy::predicted_saving_q8`]) comes from the parse alone. 0 (the
    /// default) only skips blocks predicted to grow: on memdump.bin a gate of 148 bytes plus 0.9
    /// byte per match from 800-byte blocks with raw literals (about a byte saved per 10 ns spent)
    /// reached 3.63 at the same speed as the default's 3.61, within the noise of the benchmark,
    /// so the simpler rule stays the default (`cargo xtask bench adaptive` prints both).
    pub recode_min_saving: u32,
    /// Bytes, in 1/256 byte, that a recode must be predicted to save in addition per match, for
    /// the part of its cost that grows with the matches (the sequence bitstream). Together with
    /// [`Self::recode_min_saving`] this asks each recode to save about a byte per 10 ns it costs.
    pub recode_saving_per_sequence_q8: u32,
    /// Literal bytes from which a recoded frame's literals are Huffman-coded (when that is smaller
    /// than raw) rather than sent raw. Building a Huffman code costs about as much as the sequence
    /// tables (about 2 us of fixed cost on a 2.6 GHz Xeon) and on the recoded pages of memdump.bin
    /// saves 170 bytes a page on average, a quarter of a recode's saving: raising this trades that
    /// ratio for speed. 0 (the default) always tries.
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
        recode_min_saving: 0,
        recode_saving_per_sequence_q8: 0,
        huffman_min_literals: 0,
    };

    /// Frame bytes besides literals and sequences: frame header (7), block header (3), literals
    /// header (2).
    const FRAME_OVERHEAD: i64 = 12;
    /// The model of a sequences section's size in 1/256 byte, fitted by least squares on the pages
    /// of memdump.bin that LZ4 leaves at 600 bytes or more (mean error 24 bytes in 500): a base for
    /// the header and the table descriptions, then per match, per match with a new offset, and per
    /// bit of new offsets.
    const SEQUENCES_BASE_Q8: i64 = 96 * 256;
    const PER_MATCH_Q8: i64 = 50;
    const PER_NEW_OFFSET_Q8: i64 = 145;
    const PER_OFFSET_BIT_Q8: i64 = 39;

    /// What a recode of `parsed` is predicted to save against its LZ4 block with raw literals, in
    /// 1/256 byte (negative when the frame is predicted larger).
    pub fn predicted_saving_q8(parsed: &ParsedBlock) -> i64 {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX / 1024);
        let new_offsets = count(parsed.sequences.saturating_sub(parsed.repeat_matches));
        let frame_q8 = (Self::FRAME_OVERHEAD + count(parsed.literals)) * 256
            + Self::SEQUENCES_BASE_Q8
            + Self::PER_MATCH_Q8 * count(parsed.sequences)
            + Self::PER_NEW_OFFSET_Q8 * new_offsets
            + Self::PER_OFFSET_BIT_Q8 * i64::from(parsed.new_offset_bits);
        count(parsed.lz4_len) * 256 - frame_q8
    }

    /// Whether and how a parsed LZ4 block becomes a Zstandard frame: when its predicted saving
    /// covers [`Self::recode_min_saving`] plus [`Self::recode_saving_per_sequence_q8`] per match,
    /// with Huffman-coded literals from [`Self::huffman_min_literals`] on.
    pub fn recode(&self, parsed: &ParsedBlock) -> Recode {
        let sequences = i64::try_from(parsed.sequences).unwrap_or(i64::MAX / 1024);
        let needed_q8 = i64::from(self.recode_min_saving) * 256
            + i64::from(self.recode_saving_per_sequence_q8) * sequences;
        if Self::predicted_saving_q8(parsed) < needed_q8 {
            Recode::Keep
        } else if u32::try_from(parsed.literals).is_ok_and(|n| n >= self.huffman_min_literals) {
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

    /// Whether a page whose LZ4 block is `lz4_len` bytes long is worth reading back to judge a
    /// recode ([`Self::recode`] then decides).
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
    fn the_recode_gate_weighs_predicted_saving_against_matches() {
        // 2000 bytes of LZ4 holding 800 literals and 300 matches, 100 of them repeats, the other
        // 200 with 10-bit offset values: predicted sequences 96 + 300 * 50/256 + 200 * 145/256 +
        // 2000 * 39/256 = 572.6 bytes, frame 12 + 800 + 572.6 = 1384.6, saving 615.4.
        let parsed = ParsedBlock {
            lz4_len: 2000,
            decoded: 4096,
            literals: 800,
            sequences: 300,
            repeat_matches: 100,
            new_offset_bits: 2000,
        };
        let saving = AdaptivePolicy::predicted_saving_q8(&parsed);
        assert!((615 * 256..616 * 256).contains(&saving), "{saving}");
        let mut policy = AdaptivePolicy::DEFAULT;
        assert_eq!(policy.recode(&parsed), Recode::HuffmanLiterals);
        policy.huffman_min_literals = 801;
        assert_eq!(policy.recode(&parsed), Recode::RawLiterals);
        // 148 + 300 * 1.6 = 628 bytes needed: more than predicted.
        policy.recode_min_saving = 148;
        policy.recode_saving_per_sequence_q8 = 410;
        assert_eq!(policy.recode(&parsed), Recode::Keep);
        policy.recode_saving_per_sequence_q8 = 230;
        assert_eq!(policy.recode(&parsed), Recode::RawLiterals);
        // A block predicted to grow is kept even without a gate.
        let tiny = ParsedBlock {
            lz4_len: 40,
            literals: 30,
            ..parsed
        };
        assert_eq!(AdaptivePolicy::DEFAULT.recode(&tiny), Recode::Keep);
    }
}
