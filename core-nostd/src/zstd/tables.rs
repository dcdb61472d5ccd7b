//! The format constants of RFC 8878: magic numbers, size limits, the literals-length, match-length and
//! offset codes (their baselines and extra bits), the predefined FSE distributions and the accuracy-log
//! limits. Shared by the decoder and the encoder; nothing here changes meaning once written.

/// Magic number of a Zstandard frame (RFC 8878, 3.1.1), little-endian on the wire.
pub(crate) const FRAME_MAGIC: u32 = 0xFD2F_B528;
/// Skippable frames use magic numbers `0x184D2A50..=0x184D2A5F` (3.1.2): the low 4 bits are free.
pub(crate) const SKIPPABLE_MAGIC_BASE: u32 = 0x184D_2A50;
/// Mask that clears the free low bits of a skippable frame's magic number.
pub(crate) const SKIPPABLE_MAGIC_MASK: u32 = 0xFFFF_FFF0;
/// Magic number of a dictionary in the zstd format (5).
pub(crate) const DICTIONARY_MAGIC: u32 = 0xEC30_A437;

/// Largest block content, compressed or not (3.1.1.2.4): `min(Window_Size, 128 KiB)`.
pub(crate) const BLOCK_SIZE_MAX: usize = 128 * 1024;
/// Smallest window log that a window descriptor encodes (3.1.1.1.2).
pub(crate) const WINDOW_LOG_MIN: u32 = 10;
/// Size of a block header (3.1.1.2).
pub(crate) const BLOCK_HEADER_SIZE: usize = 3;
/// Size of the content checksum that ends a frame whose header announces it (3.1.1).
pub(crate) const CHECKSUM_SIZE: usize = 4;

/// The repeat offsets every frame starts with (3.1.1.5), unless a dictionary gives others.
pub(crate) const INITIAL_REPEAT_OFFSETS: [u32; 3] = [1, 4, 8];

/// Largest literals-length code (3.1.1.3.2.1.1).
pub(crate) const LL_MAX_SYMBOL: usize = 35;
/// Largest match-length code (3.1.1.3.2.1.1).
pub(crate) const ML_MAX_SYMBOL: usize = 52;
/// Largest offset code a decoder accepts (3.1.1.3.2.1.1): larger ones would need more than 31 extra bits.
pub(crate) const OF_MAX_SYMBOL: usize = 31;

/// Largest accuracy log of a literals-length FSE table (4.1.1).
pub(crate) const LL_MAX_ACCURACY_LOG: u32 = 9;
/// Largest accuracy log of a match-length FSE table.
pub(crate) const ML_MAX_ACCURACY_LOG: u32 = 9;
/// Largest accuracy log of an offset FSE table.
pub(crate) const OF_MAX_ACCURACY_LOG: u32 = 8;
/// Smallest accuracy log an FSE table description can state (4 bits + 5).
pub(crate) const FSE_MIN_ACCURACY_LOG: u32 = 5;
/// Largest accuracy log of the FSE table that compresses Huffman weights (4.2.1.2).
pub(crate) const HUFFMAN_WEIGHTS_MAX_ACCURACY_LOG: u32 = 6;
/// Longest Huffman code, in bits (4.2.1).
pub(crate) const HUFFMAN_MAX_BITS: u32 = 11;
/// Largest Huffman weight (`HUFFMAN_MAX_BITS`, a weight is `Max_Number_of_Bits + 1 - bits`).
pub(crate) const HUFFMAN_MAX_WEIGHT: u8 = 11;
/// Literal symbols are bytes.
pub(crate) const HUFFMAN_MAX_SYMBOLS: usize = 256;

/// Accuracy log of the predefined literals-length distribution (3.1.1.3.2.2).
pub(crate) const LL_DEFAULT_ACCURACY_LOG: u32 = 6;
/// Accuracy log of the predefined match-length distribution.
pub(crate) const ML_DEFAULT_ACCURACY_LOG: u32 = 6;
/// Accuracy log of the predefined offset distribution.
pub(crate) const OF_DEFAULT_ACCURACY_LOG: u32 = 5;

/// Predefined literals-length distribution (3.1.1.3.2.2.1); `-1` is a "less than 1" probability.
pub(crate) const LL_DEFAULT_DISTRIBUTION: [i16; LL_MAX_SYMBOL + 1] = [
    4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1,
    -1, -1, -1, -1,
];

/// Predefined match-length distribution (3.1.1.3.2.2.2).
pub(crate) const ML_DEFAULT_DISTRIBUTION: [i16; ML_MAX_SYMBOL + 1] = [
    1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
];

/// Predefined offset distribution (3.1.1.3.2.2.3), for offset codes 0..=28.
pub(crate) const OF_DEFAULT_DISTRIBUTION: [i16; 29] = [
    1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
];

/// Literals length of each literals-length code before its extra bits are added (3.1.1.3.2.1.1).
pub(crate) const LL_BASELINE: [u32; LL_MAX_SYMBOL + 1] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64,
    128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
];

/// Extra bits read after each literals-length code.
pub(crate) const LL_EXTRA_BITS: [u8; LL_MAX_SYMBOL + 1] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11,
    12, 13, 14, 15, 16,
];

/// Match length of each match-length code before its extra bits are added (3.1.1.3.2.1.1).
pub(crate) const ML_BASELINE: [u32; ML_MAX_SYMBOL + 1] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
    28, 29, 30, 31, 32, 33, 34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027,
    2051, 4099, 8195, 16387, 32771, 65539,
];

/// Extra bits read after each match-length code.
pub(crate) const ML_EXTRA_BITS: [u8; ML_MAX_SYMBOL + 1] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
];

/// Offset code `n` stands for `Offset_Value = (1 << n) + n extra bits`: the baseline of each code.
pub(crate) const OF_BASELINE: [u32; OF_MAX_SYMBOL + 1] = {
    let mut table = [0u32; OF_MAX_SYMBOL + 1];
    let mut code = 0;
    while code <= OF_MAX_SYMBOL {
        table[code] = 1 << code;
        code += 1;
    }
    table
};

/// Extra bits read after each offset code: the code itself.
pub(crate) const OF_EXTRA_BITS: [u8; OF_MAX_SYMBOL + 1] = {
    let mut table = [0u8; OF_MAX_SYMBOL + 1];
    let mut code = 0;
    while code <= OF_MAX_SYMBOL {
        #[allow(clippy::cast_possible_truncation)] // code <= 31
        {
            table[code] = code as u8;
        }
        code += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn probability_sum(distribution: &[i16]) -> i32 {
        distribution.iter().map(|&p| i32::from(p).abs()).sum()
    }

    #[test]
    fn predefined_distributions_fill_their_tables() {
        assert_eq!(
            probability_sum(&LL_DEFAULT_DISTRIBUTION),
            1 << LL_DEFAULT_ACCURACY_LOG
        );
        assert_eq!(
            probability_sum(&ML_DEFAULT_DISTRIBUTION),
            1 << ML_DEFAULT_ACCURACY_LOG
        );
        assert_eq!(
            probability_sum(&OF_DEFAULT_DISTRIBUTION),
            1 << OF_DEFAULT_ACCURACY_LOG
        );
    }

    #[test]
    fn baselines_continue_where_the_previous_code_ends() {
        for code in 1..=LL_MAX_SYMBOL {
            assert_eq!(
                LL_BASELINE[code],
                LL_BASELINE[code - 1] + (1 << LL_EXTRA_BITS[code - 1]),
                "literals-length code {code}"
            );
        }
        for code in 1..=ML_MAX_SYMBOL {
            assert_eq!(
                ML_BASELINE[code],
                ML_BASELINE[code - 1] + (1 << ML_EXTRA_BITS[code - 1]),
                "match-length code {code}"
            );
        }
        assert_eq!(OF_BASELINE[5], 32);
        assert_eq!(OF_EXTRA_BITS[31], 31);
    }
}
