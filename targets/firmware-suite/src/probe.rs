//! The size probe: the least firmware that uses a given set of codecs, so that `cargo xtask
//! firmware-size` can tell what each codec adds to a firmware's flash. Each `probe-*` feature links one
//! codec; the probe with none is the baseline (runtime, semihosting, the page generator), and a
//! codec's size is its probe's flash minus the baseline's.
//!
//! The probe still round-trips a page with every codec it links and reports the outcome, so that a
//! probe image is also a working firmware (xtask runs each one).

use spin::Mutex;
use trueno_zram_core::{PAGE_SIZE, Page};

struct Buffers {
    original: Page,
    decoded: Page,
}

static BUFFERS: Mutex<Buffers> = Mutex::new(Buffers {
    original: [0; PAGE_SIZE],
    decoded: [0; PAGE_SIZE],
});

/// A codec's output, for the codec-API probes.
#[cfg(any(feature = "probe-lz4", feature = "probe-zstd"))]
static OUTPUT: Mutex<[u8; PAGE_SIZE]> = Mutex::new([0; PAGE_SIZE]);

/// Round-trips one generated text page through every codec this build links; 0 when all held, else
/// the number of codecs that failed (as an exit status).
pub fn run() -> i32 {
    let Some(mut buffers) = BUFFERS.try_lock() else {
        return 1;
    };
    let Buffers { original, decoded } = &mut *buffers;
    // The seed goes through black_box so that the page is not computed at compile time.
    crate::pages::text_page(core::hint::black_box(0x5eed), original);
    let mut failures = 0;
    for round_trip in CODECS {
        decoded.fill(0);
        if !round_trip(original, decoded) || original != decoded {
            failures += 1;
        }
    }
    failures
}

type RoundTrip = fn(&Page, &mut Page) -> bool;

const CODECS: &[RoundTrip] = &[
    #[cfg(feature = "probe-page-api")]
    page_api,
    #[cfg(feature = "probe-lz4")]
    lz4,
    #[cfg(feature = "probe-zstd")]
    zstd,
    #[cfg(feature = "probe-zstd-decompress")]
    zstd_decompress,
];

/// Zstandard through its own API at level 3: `Compressor::compress_into`, `Decompressor`.
#[cfg(feature = "probe-zstd")]
fn zstd(original: &Page, decoded: &mut Page) -> bool {
    use trueno_zram_core::zstd;
    static COMPRESSOR: Mutex<crate::slot::Slot<zstd::Compressor>> =
        Mutex::new(crate::slot::Slot::Empty);
    static DECOMPRESSOR: Mutex<crate::slot::Slot<zstd::Decompressor<'static>>> =
        Mutex::new(crate::slot::Slot::Empty);
    let (Some(mut c), Some(mut d), Some(mut out)) = (
        COMPRESSOR.try_lock(),
        DECOMPRESSOR.try_lock(),
        OUTPUT.try_lock(),
    ) else {
        return false;
    };
    if !c.is_full() {
        let Ok(compressor) = zstd::Compressor::new(core::hint::black_box(3)) else {
            return false;
        };
        c.set(compressor);
        d.set(zstd::Decompressor::new());
    }
    let (Some(c), Some(d)) = (c.get_mut(), d.get_mut()) else {
        return false;
    };
    let Ok(len) = c.compress_into(original, &mut out[..]) else {
        return false;
    };
    d.decompress_into(&out[..len], decoded) == Ok(PAGE_SIZE)
}

/// Zstandard decompression alone (a reader of pages that something else wrote): decodes a frame that
/// the probe cannot see through (`black_box`), so the whole decoder is linked.
#[cfg(feature = "probe-zstd-decompress")]
fn zstd_decompress(original: &Page, decoded: &mut Page) -> bool {
    use trueno_zram_core::zstd;
    // One frame, content size 4096, one RLE block: the probe's page is not this, so the probe
    // compares the decoded page with the frame's content instead.
    const FRAME: [u8; 11] = [
        0x28, 0xB5, 0x2F, 0xFD, 0x60, 0x00, 0x0F, 0x03, 0x80, 0x00, b'z',
    ];
    static DECOMPRESSOR: Mutex<crate::slot::Slot<zstd::Decompressor<'static>>> =
        Mutex::new(crate::slot::Slot::Empty);
    let Some(mut d) = DECOMPRESSOR.try_lock() else {
        return false;
    };
    if !d.is_full() {
        d.set(zstd::Decompressor::new());
    }
    let Some(d) = d.get_mut() else {
        return false;
    };
    let ok = d.decompress_into(core::hint::black_box(&FRAME), decoded) == Ok(PAGE_SIZE)
        && decoded.iter().all(|&b| b == b'z');
    // The caller compares with the original page: give it back what it expects.
    decoded.copy_from_slice(original);
    ok
}

/// LZ4 through its own API: `Compressor::compress_page` and `decompress_page`.
#[cfg(feature = "probe-lz4")]
fn lz4(original: &Page, decoded: &mut Page) -> bool {
    use trueno_zram_core::{SimdBackend, lz4};
    static STATE: Mutex<crate::slot::Slot<lz4::Compressor>> = Mutex::new(crate::slot::Slot::Empty);
    let (Some(mut state), Some(mut out)) = (STATE.try_lock(), OUTPUT.try_lock()) else {
        return false;
    };
    if !state.is_full() {
        state.set(lz4::Compressor::new());
    }
    let Some(compressor) = state.get_mut() else {
        return false;
    };
    let Ok(len) = compressor.compress_page(original, &mut out[..]) else {
        return false;
    };
    lz4::decompress_page(SimdBackend::detect(), &out[..len], decoded).is_ok()
}

/// The page API with every algorithm the core offers (what an embedder who picks `Adaptive` links).
#[cfg(feature = "probe-page-api")]
fn page_api(original: &Page, decoded: &mut Page) -> bool {
    use trueno_zram_core::{CompressorBuilder, PageCompressor};
    crate::codecs::CODECS.iter().all(|codec| {
        let Ok(mut c) = CompressorBuilder::new().algorithm(codec.algorithm).build() else {
            return false;
        };
        c.compress(original)
            .and_then(|packed| c.decompress_into(&packed, decoded))
            .is_ok()
    })
}
