//! The codecs the suite runs, each with the stack bounds that the boards enforce.

use trueno_zram_core::{Algorithm, CompressedPage, PAGE_SIZE};

/// The most stack, in bytes, that compressing or decompressing one page may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StackBounds {
    /// Bound for `PageCompressor::compress`.
    pub compress: usize,
    /// Bound for `PageCompressor::decompress_into`.
    pub decompress: usize,
}

/// One codec as the suite exercises it.
#[derive(Debug, Clone, Copy)]
pub struct Codec {
    /// Its name in the report.
    pub name: &'static str,
    /// The page-API algorithm.
    pub algorithm: Algorithm,
    /// The stack bounds through the page API, state excluded (it is in `static` storage). Decompression
    /// puts nothing around the codec: the `StandardCompressor` holds the Zstandard decoder's workspace.
    pub bounds: StackBounds,
}

/// What the page API itself puts on the stack around any codec: `compress` returns a
/// [`CompressedPage`] by value, whose payload buffer is inline (4 KiB), and compresses into a block
/// buffer of a page before copying the block into it (the buffer is in the frame whatever the
/// algorithm, since one function serves them all).
pub const PAGE_API_STACK: usize = core::mem::size_of::<CompressedPage>() + PAGE_SIZE;

/// Slack for the call chain itself (saved registers, small locals) in every bound.
pub const CALL_SLACK: usize = 512;

/// The stack LZ4 may use beyond its state (its 32 KiB hash table), compressing or decompressing.
pub const LZ4_STACK: usize = 1024;

/// The stack Zstandard decompression may use beyond its workspace (`zstd::Decompressor`).
pub const ZSTD_DECOMPRESS_STACK: usize = 4096;

/// The stack Zstandard compression may use beyond its tables (`zstd::Compressor`): about 13.4 KiB
/// measured at every level on both boards, bounded at 16 KiB.
pub const ZSTD_COMPRESS_STACK: usize = 16 * 1024;

/// Every codec the core offers, in the order the suite runs them.
pub const CODECS: &[Codec] = &[
    Codec {
        name: "same-fill/stored",
        algorithm: Algorithm::SameFillOnly,
        bounds: StackBounds {
            compress: PAGE_API_STACK + CALL_SLACK,
            decompress: CALL_SLACK,
        },
    },
    Codec {
        name: "lz4",
        algorithm: Algorithm::Lz4,
        bounds: StackBounds {
            compress: PAGE_API_STACK + LZ4_STACK,
            decompress: LZ4_STACK,
        },
    },
    Codec {
        name: "zstd level 1",
        algorithm: Algorithm::Zstd { level: 1 },
        bounds: StackBounds {
            compress: PAGE_API_STACK + ZSTD_COMPRESS_STACK,
            decompress: ZSTD_DECOMPRESS_STACK,
        },
    },
    Codec {
        name: "zstd level 3",
        algorithm: Algorithm::Zstd { level: 3 },
        bounds: StackBounds {
            compress: PAGE_API_STACK + ZSTD_COMPRESS_STACK,
            decompress: ZSTD_DECOMPRESS_STACK,
        },
    },
    Codec {
        name: "zstd level 7",
        algorithm: Algorithm::Zstd { level: 7 },
        bounds: StackBounds {
            compress: PAGE_API_STACK + ZSTD_COMPRESS_STACK,
            decompress: ZSTD_DECOMPRESS_STACK,
        },
    },
    Codec {
        name: "adaptive",
        algorithm: Algorithm::Adaptive,
        bounds: StackBounds {
            // The estimate runs first and returns before the chosen codec runs.
            compress: PAGE_API_STACK + ZSTD_COMPRESS_STACK,
            decompress: ZSTD_DECOMPRESS_STACK,
        },
    },
];

/// The largest number of codecs the summary can hold.
pub const MAX_CODECS: usize = 8;

const _: () = assert!(CODECS.len() <= MAX_CODECS);
