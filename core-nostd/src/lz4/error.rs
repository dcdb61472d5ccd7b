//! What can be wrong with an LZ4 block or with the buffers handed to the codec.

/// An LZ4 block that cannot be decoded, or a buffer that cannot hold the result. Every variant says
/// where (an offset in the block or the output) and which limit was crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Lz4Error {
    /// The block ends inside a sequence: a token, a length byte, an offset or literals are missing.
    #[error("block truncated at input offset {offset}: {needed} more bytes needed for the {field}")]
    Truncated {
        /// Input offset where the missing field starts.
        offset: usize,
        /// Bytes the field needs beyond the end of the block (1 for a token or length byte).
        needed: usize,
        /// Which field is missing.
        field: Field,
    },
    /// A match offset of 0, which no encoder writes.
    #[error("match offset 0 at input offset {offset}")]
    ZeroOffset {
        /// Input offset of the 2-byte match offset.
        offset: usize,
    },
    /// A match that would copy from before the start of the output.
    #[error(
        "match offset {distance} at input offset {offset} reaches before the output start (output position {position})"
    )]
    OffsetBeforeStart {
        /// Input offset of the 2-byte match offset.
        offset: usize,
        /// The distance the match asks for.
        distance: usize,
        /// Bytes decoded so far.
        position: usize,
    },
    /// The block decodes to more bytes than the destination holds.
    #[error(
        "output overrun: {needed} bytes needed at output position {position}, destination holds {capacity}"
    )]
    OutputOverrun {
        /// Output position of the literals or match that does not fit.
        position: usize,
        /// Bytes that literals or match need from `position` (a lower bound for a long length).
        needed: usize,
        /// Size of the destination.
        capacity: usize,
    },
    /// The compressed block does not fit in the destination.
    #[error(
        "destination of {capacity} bytes cannot hold the compressed block ({needed} or more bytes)"
    )]
    DestinationTooSmall {
        /// Bytes the block needs, at least.
        needed: usize,
        /// Size of the destination.
        capacity: usize,
    },
    /// The input is longer than the compressor accepts (see [`crate::lz4::MAX_INPUT_LEN`]).
    #[error("input of {len} bytes exceeds the LZ4 compressor limit of {limit} bytes")]
    InputTooLarge {
        /// Length of the input.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

/// The part of a sequence that a truncated block lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Field {
    /// The token that starts a sequence (an empty block has none).
    Token,
    /// A length byte after a literal or match nibble of 15.
    LengthByte,
    /// Literal bytes.
    Literals,
    /// The 2-byte little-endian match offset.
    Offset,
}

impl core::fmt::Display for Field {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Token => "sequence token",
            Self::LengthByte => "length byte",
            Self::Literals => "literals",
            Self::Offset => "match offset",
        })
    }
}
