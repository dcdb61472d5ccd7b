//! The codecs' own APIs, below the page API. Each codec's state (hash tables, decoding tables) lives
//! in `static` storage and its input and output are the suite's static buffers, so the stack that a
//! [`StackMeter`](crate::stack::StackMeter) sees is exactly what the codec needs beyond its state:
//! the figure an embedder sizes a stack by, and the one the bounds here hold the codecs to.

use trueno_zram_core::{Encoding, PAGE_SIZE, Page, samefill};

use crate::codecs::{CALL_SLACK, StackBounds};
use crate::suite::Failure;

/// One codec through its own API.
#[derive(Debug, Clone, Copy)]
pub struct RawCodec {
    /// Its name in the report.
    pub name: &'static str,
    /// The encoding its output is (for the summary's counts).
    pub encoding: Encoding,
    /// Puts the codec's state into its static, outside any measurement.
    pub prepare: fn() -> Result<(), Failure>,
    /// Compresses a page into the buffer and returns the output length, or `None` where the codec
    /// does not apply to this page (not same-fill; does not fit in less than a page).
    pub compress: fn(&Page, &mut [u8; PAGE_SIZE]) -> Result<Option<usize>, Failure>,
    /// Decompresses an output of `compress` into a page.
    pub decompress: fn(&[u8], &mut Page) -> Result<(), Failure>,
    /// Stack bounds beyond the state.
    pub bounds: StackBounds,
}

/// Every codec API the core offers, in the order the suite runs them.
pub const RAW_CODECS: &[RawCodec] = &[RawCodec {
    name: "same-fill detect/fill",
    encoding: Encoding::SameFill,
    prepare: || Ok(()),
    compress: samefill_detect,
    decompress: samefill_fill,
    bounds: StackBounds {
        compress: CALL_SLACK,
        decompress: CALL_SLACK,
    },
}];

fn core_error(codec: &'static str) -> impl Fn(trueno_zram_core::Error) -> Failure {
    move |error| Failure::Core {
        codec,
        page: usize::MAX,
        error,
    }
}

fn samefill_detect(page: &Page, out: &mut [u8; PAGE_SIZE]) -> Result<Option<usize>, Failure> {
    Ok(samefill::detect(page).map(|word| {
        out[..8].copy_from_slice(&word.to_le_bytes());
        8
    }))
}

fn samefill_fill(src: &[u8], page: &mut Page) -> Result<(), Failure> {
    let word = <[u8; 8]>::try_from(src).map_err(|_| {
        core_error("same-fill detect/fill")(trueno_zram_core::Error::BadPayloadLength {
            encoding: Encoding::SameFill,
            len: src.len(),
            min: 8,
            max: 8,
        })
    })?;
    samefill::fill(page, u64::from_le_bytes(word));
    Ok(())
}
