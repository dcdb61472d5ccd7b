//! The codecs' own APIs, below the page API. Each codec's state (hash tables, decoding tables) lives
//! in `static` storage and its input and output are the suite's static buffers, so the stack that a
//! [`StackMeter`](crate::stack::StackMeter) sees is exactly what the codec needs beyond its state:
//! the figure an embedder sizes a stack by, and the one the bounds here hold the codecs to.

use spin::Mutex;
use trueno_zram_core::{Encoding, Error, PAGE_SIZE, Page, SimdBackend, lz4, samefill, zstd};

use crate::codecs::{
    CALL_SLACK, LZ4_STACK, StackBounds, ZSTD_COMPRESS_STACK, ZSTD_DECOMPRESS_STACK,
};
use crate::slot::Slot;
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
pub const RAW_CODECS: &[RawCodec] = &[
    RawCodec {
        name: "same-fill detect/fill",
        encoding: Encoding::SameFill,
        prepare: || Ok(()),
        compress: samefill_detect,
        decompress: samefill_fill,
        bounds: StackBounds {
            compress: CALL_SLACK,
            decompress: CALL_SLACK,
        },
    },
    RawCodec {
        name: "lz4 compress_page/decompress_page",
        encoding: Encoding::Lz4,
        prepare: lz4_prepare,
        compress: lz4_compress,
        decompress: lz4_decompress,
        bounds: StackBounds {
            compress: LZ4_STACK,
            decompress: LZ4_STACK,
        },
    },
    RawCodec {
        name: "zstd level 1 Compressor/Decompressor",
        encoding: Encoding::Zstd,
        prepare: zstd_prepare::<1>,
        compress: zstd_compress,
        decompress: zstd_decompress,
        bounds: StackBounds {
            compress: ZSTD_COMPRESS_STACK,
            decompress: ZSTD_DECOMPRESS_STACK,
        },
    },
    RawCodec {
        name: "zstd level 3 Compressor/Decompressor",
        encoding: Encoding::Zstd,
        prepare: zstd_prepare::<3>,
        compress: zstd_compress,
        decompress: zstd_decompress,
        bounds: StackBounds {
            compress: ZSTD_COMPRESS_STACK,
            decompress: ZSTD_DECOMPRESS_STACK,
        },
    },
    RawCodec {
        name: "zstd level 7 Compressor/Decompressor",
        encoding: Encoding::Zstd,
        prepare: zstd_prepare::<7>,
        compress: zstd_compress,
        decompress: zstd_decompress,
        bounds: StackBounds {
            compress: ZSTD_COMPRESS_STACK,
            decompress: ZSTD_DECOMPRESS_STACK,
        },
    },
];

const LZ4: &str = "lz4 compress_page/decompress_page";

/// The LZ4 compressor: its 32 KiB hash table, kept between pages (in `.bss`, see [`Slot`]).
static LZ4_STATE: Mutex<Slot<lz4::Compressor>> = Mutex::new(Slot::Empty);

fn lz4_prepare() -> Result<(), Failure> {
    let mut state = LZ4_STATE.try_lock().ok_or(Failure::StateBusy)?;
    if !state.is_full() {
        state.set(lz4::Compressor::new());
    }
    Ok(())
}

fn lz4_compress(page: &Page, out: &mut [u8; PAGE_SIZE]) -> Result<Option<usize>, Failure> {
    let mut state = LZ4_STATE.try_lock().ok_or(Failure::StateBusy)?;
    let compressor = state.get_mut().ok_or(Failure::NotRun)?;
    // One byte short of a page, as the page API does: a block that does not fit is not worth it.
    match compressor.compress_page(page, &mut out[..PAGE_SIZE - 1]) {
        Ok(len) => Ok(Some(len)),
        Err(Error::Lz4(lz4::Lz4Error::DestinationTooSmall { .. })) => Ok(None),
        Err(error) => Err(core_error(LZ4)(error)),
    }
}

const ZSTD: &str = "zstd Compressor/Decompressor";

/// The Zstandard compressor of the level being run: its match finder's tables, sequence store and
/// entropy tables.
static ZSTD_COMPRESSOR: Mutex<Slot<zstd::Compressor>> = Mutex::new(Slot::Empty);

/// The Zstandard decompressor: its workspace (Huffman and FSE tables), kept between frames.
static ZSTD_DECOMPRESSOR: Mutex<Slot<zstd::Decompressor<'static>>> = Mutex::new(Slot::Empty);

fn zstd_prepare<const LEVEL: i8>() -> Result<(), Failure> {
    let compressor = zstd::Compressor::new(LEVEL).map_err(core_error(ZSTD))?;
    ZSTD_COMPRESSOR
        .try_lock()
        .ok_or(Failure::StateBusy)?
        .set(compressor);
    let mut decompressor = ZSTD_DECOMPRESSOR.try_lock().ok_or(Failure::StateBusy)?;
    if !decompressor.is_full() {
        decompressor.set(zstd::Decompressor::new());
    }
    Ok(())
}

fn zstd_compress(page: &Page, out: &mut [u8; PAGE_SIZE]) -> Result<Option<usize>, Failure> {
    let mut state = ZSTD_COMPRESSOR.try_lock().ok_or(Failure::StateBusy)?;
    let compressor = state.get_mut().ok_or(Failure::NotRun)?;
    // One byte short of a page, as the page API does.
    match compressor.compress_into(page, &mut out[..PAGE_SIZE - 1]) {
        Ok(len) => Ok(Some(len)),
        Err(Error::OutputTooSmall { .. }) => Ok(None),
        Err(error) => Err(core_error(ZSTD)(error)),
    }
}

fn zstd_decompress(frame: &[u8], page: &mut Page) -> Result<(), Failure> {
    let mut state = ZSTD_DECOMPRESSOR.try_lock().ok_or(Failure::StateBusy)?;
    let decompressor = state.get_mut().ok_or(Failure::NotRun)?;
    let len = decompressor
        .decompress_into(frame, page)
        .map_err(core_error(ZSTD))?;
    if len == PAGE_SIZE {
        Ok(())
    } else {
        Err(core_error(ZSTD)(Error::WrongDecodedLength { len }))
    }
}

fn lz4_decompress(block: &[u8], page: &mut Page) -> Result<(), Failure> {
    lz4::decompress_page(SimdBackend::detect(), block, page).map_err(core_error(LZ4))
}

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
