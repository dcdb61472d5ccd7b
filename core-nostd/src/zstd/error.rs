//! What can be wrong with a Zstandard frame or dictionary, with the offsets and limits that explain it.

/// A detailed Zstandard error; the core [`Error`](crate::Error) wraps it as `Error::Zstd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ZstdError {
    /// A frame starts with a magic number that is neither Zstandard nor skippable.
    #[error("unknown frame magic {magic:#010x} at offset {offset}")]
    BadMagic {
        /// Offset of the frame in the input.
        offset: usize,
        /// The number found.
        magic: u32,
    },
    /// A field runs past the end of its enclosing input.
    #[error("{what} truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// The field.
        what: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A bit that the format reserves is set.
    #[error("reserved bit set in {what}")]
    ReservedBit {
        /// Where.
        what: &'static str,
    },
    /// A block header has the reserved block type 3.
    #[error("reserved block type at offset {offset}")]
    ReservedBlockType {
        /// Offset of the block header in the input.
        offset: usize,
    },
    /// A block is larger than `min(Window_Size, 128 KiB)`.
    #[error("block of {size} bytes exceeds the block limit of {limit}")]
    BlockTooLarge {
        /// Its size (compressed or decoded).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The destination cannot hold the decoded content.
    #[error("output buffer too small: {needed} bytes needed, {available} available")]
    OutputTooSmall {
        /// Bytes needed (a lower bound where the full size is unknown).
        needed: u64,
        /// Bytes the caller provided.
        available: usize,
    },
    /// The frame decoded to a length other than its declared content size.
    #[error("frame declares {declared} content bytes but decodes to {decoded}")]
    ContentSizeMismatch {
        /// `Frame_Content_Size`.
        declared: u64,
        /// Bytes decoded.
        decoded: u64,
    },
    /// The content checksum does not match the decoded content.
    #[error(
        "content checksum {stored:#010x} does not match the decoded content's {computed:#010x}"
    )]
    ChecksumMismatch {
        /// The checksum stored in the frame.
        stored: u32,
        /// The low 32 bits of the XXH64 of what was decoded.
        computed: u32,
    },
    /// The frame needs a dictionary that the decompressor does not hold.
    #[error("frame needs dictionary {frame_id}, decompressor holds dictionary {held_id}")]
    WrongDictionary {
        /// Dictionary ID in the frame header.
        frame_id: u32,
        /// ID of the dictionary held (0: none or raw content).
        held_id: u32,
    },
    /// A dictionary in the zstd format is malformed.
    #[error("dictionary malformed: {what}")]
    BadDictionary {
        /// What is wrong.
        what: &'static str,
    },
    /// An FSE table description states an accuracy log past the limit of its table.
    #[error("{what}: accuracy log {log} exceeds the limit {limit}")]
    AccuracyLogTooLarge {
        /// Which table.
        what: &'static str,
        /// The log stated.
        log: u32,
        /// The limit.
        limit: u32,
    },
    /// An FSE table description's probabilities do not add up to its table size.
    #[error("{what}: probabilities do not fill the table ({remaining} states left)")]
    BadProbabilities {
        /// Which table.
        what: &'static str,
        /// States left unassigned (negative: over-subscribed), the RFC's `remaining - 1`.
        remaining: i32,
    },
    /// A table description or RLE byte names a symbol past the largest of its alphabet.
    #[error("{what}: symbol {symbol} exceeds the largest {max}")]
    SymbolOutOfRange {
        /// Which alphabet.
        what: &'static str,
        /// The symbol found.
        symbol: usize,
        /// The largest allowed.
        max: usize,
    },
    /// Huffman weights that do not describe a complete prefix code.
    #[error("Huffman weights malformed: {what}")]
    BadHuffmanWeights {
        /// What is wrong.
        what: &'static str,
    },
    /// A repeat mode (treeless literals, repeat FSE table) with no previous table to repeat.
    #[error("{what} repeats a table but none was decoded before")]
    NoPreviousTable {
        /// Which table.
        what: &'static str,
    },
    /// A backward bitstream is empty, lacks its end mark, or was read past its start or not to it.
    #[error("{what} bitstream corrupt: {why}")]
    BadBitstream {
        /// Which stream.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A section leaves bytes over or claims more than its block has.
    #[error("{what}: {size} bytes do not match the {expected} the block has for it")]
    SizeMismatch {
        /// Which section.
        what: &'static str,
        /// The size it takes or claims.
        size: usize,
        /// The size available.
        expected: usize,
    },
    /// Sequences consume more literals than the literals section holds.
    #[error("a sequence needs {needed} literals, the literals section has {available} left")]
    LiteralsOverrun {
        /// The sequence's literals length.
        needed: usize,
        /// Literals not yet consumed.
        available: usize,
    },
    /// A match offset of zero (a repeat offset that became 0).
    #[error("match offset 0 in sequence {sequence}")]
    ZeroOffset {
        /// Index of the sequence in its block.
        sequence: usize,
    },
    /// A match reaches before the start of the output (and of the dictionary), or past the window.
    #[error("match offset {offset} reaches past the {available} bytes of history")]
    OffsetTooFar {
        /// The offset.
        offset: usize,
        /// Bytes it may reach back (decoded output, dictionary content or window).
        available: usize,
    },
}
