//! The core's error type: every malformed, truncated or oversized input ends here, never in a panic.

/// What went wrong, with the offsets and limits that explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a field that it announces.
    #[error("input truncated: {needed} bytes needed at offset {offset}, {available} available")]
    Truncated {
        /// Where the missing field starts.
        offset: usize,
        /// How many bytes the field needs.
        needed: usize,
        /// How many bytes remain from `offset`.
        available: usize,
    },
    /// The destination buffer cannot hold the output.
    #[error("output buffer too small: {needed} bytes needed, {available} available")]
    OutputTooSmall {
        /// Bytes the output needs (a lower bound where the full size is unknown).
        needed: usize,
        /// Bytes the caller provided.
        available: usize,
    },
    /// The input is longer than this function accepts.
    #[error("input too large: {len} bytes, limit {limit}")]
    InputTooLarge {
        /// Length of the input.
        len: usize,
        /// The documented limit.
        limit: usize,
    },
    /// A wire-form page starts with a tag that names no encoding.
    #[error("unknown page encoding tag {tag}")]
    UnknownEncoding {
        /// The tag byte found.
        tag: u8,
    },
    /// A page payload has a length its encoding does not allow.
    #[error("payload of {len} bytes is not valid for a {encoding:?} page (allowed: {min}..={max})")]
    BadPayloadLength {
        /// The encoding the payload claims.
        encoding: crate::page::Encoding,
        /// Its length.
        len: usize,
        /// Smallest length allowed.
        min: usize,
        /// Largest length allowed.
        max: usize,
    },
    /// A compressed page decoded to a length other than `PAGE_SIZE`.
    #[error("compressed page decodes to {len} bytes, expected a whole page")]
    WrongDecodedLength {
        /// The length it decoded to.
        len: usize,
    },
    /// An LZ4 block could not be decoded, or its buffers could not hold the result.
    #[error("lz4: {0}")]
    Lz4(#[from] crate::lz4::Lz4Error),
    /// The requested algorithm or setting is not valid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// A Zstandard frame or dictionary is malformed, or its output does not fit.
    #[error("zstd: {0}")]
    Zstd(#[from] crate::zstd::ZstdError),
}

/// Result with the core [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
