//! The suite itself: every page through every codec, round trips checked, wire bytes digested, stack
//! depths measured and bounded.
//!
//! # Static state
//! The page buffers and the compressor (the codec state: hash tables, entropy tables as the core grows
//! them) live in `static` storage, so a firmware's stack holds only what the codec calls themselves
//! need, and nothing allocates. Each static is a [`spin::Mutex`] rather than a `static mut`: a firmware
//! runs this suite from its single context, so the lock is never contended and costs one atomic swap,
//! and no `unsafe` aliasing argument is needed. The suite takes the locks with `try_lock`, so that a
//! second context (an interrupt handler added one day) gets [`Failure::StateBusy`] instead of spinning
//! forever on a lock its own core holds.

use core::fmt;

use spin::Mutex;
use trueno_zram_core::adaptive::{AdaptivePolicy, Choice};
use trueno_zram_core::{
    CompressedPage, CompressorBuilder, Encoding, Error, PAGE_SIZE, Page, PageCompressor,
    StandardCompressor, entropy,
};

use crate::codecs::{CODECS, Codec, MAX_CODECS, StackBounds};
use crate::digest::Fnv1a64;
use crate::pages::{PageKind, PageSet};
use crate::raw::{RAW_CODECS, RawCodec};
use crate::slot::Slot;
use crate::stack::StackMeter;

/// The buffers one round trip works in.
struct Buffers {
    original: Page,
    decoded: Page,
    wire: [u8; PAGE_SIZE + 1],
}

static BUFFERS: Mutex<Buffers> = Mutex::new(Buffers {
    original: [0; PAGE_SIZE],
    decoded: [0; PAGE_SIZE],
    wire: [0; PAGE_SIZE + 1],
});

/// The output buffer of the codec APIs ([`crate::raw`]).
static RAW_OUT: Mutex<[u8; PAGE_SIZE]> = Mutex::new([0; PAGE_SIZE]);

/// The compressor of the codec being run; rebuilt for each codec. A [`Slot`], not an `Option`, so
/// that its tens of KiB of state take RAM (`.bss`) and no flash.
static COMPRESSOR: Mutex<Slot<StandardCompressor>> = Mutex::new(Slot::Empty);

/// Which half of a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Op {
    /// `PageCompressor::compress`.
    Compress,
    /// `PageCompressor::decompress_into`.
    Decompress,
    /// `entropy::estimate` and `AdaptivePolicy::choose`.
    Estimate,
}

/// Why the suite failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Failure {
    /// The core returned an error.
    Core {
        /// The codec.
        codec: &'static str,
        /// The page index (`usize::MAX` while building the compressor).
        page: usize,
        /// The error.
        error: Error,
    },
    /// A page did not come back as it went in.
    Mismatch {
        /// The codec.
        codec: &'static str,
        /// The page index.
        page: usize,
        /// What the page is.
        kind: PageKind,
        /// The first byte that differs.
        offset: usize,
    },
    /// The wire form read back is not the page that was written.
    WireMismatch {
        /// The codec.
        codec: &'static str,
        /// The page index.
        page: usize,
    },
    /// A compress or decompress went deeper than its bound.
    StackOverBound {
        /// The codec.
        codec: &'static str,
        /// Which call.
        op: Op,
        /// Bytes it used.
        used: usize,
        /// Bytes it may use.
        bound: usize,
    },
    /// The digest differs from the one the host computed: some bytes differ across architectures.
    DigestMismatch {
        /// This run's digest.
        got: u64,
        /// The host's.
        expected: u64,
    },
    /// The page pool refused an operation (feature `pool`).
    #[cfg(feature = "pool")]
    Pool {
        /// The codec whose pages it held.
        codec: &'static str,
        /// The page index.
        page: usize,
        /// The pool's error.
        error: trueno_zram_alloc::Error,
    },
    /// A figure of the page pool is not what the pages stored imply (feature `pool`).
    #[cfg(feature = "pool")]
    PoolCheck {
        /// The codec whose pages it held.
        codec: &'static str,
        /// What should have held.
        what: &'static str,
    },
    /// The suite's static state is held by another context.
    StateBusy,
    /// The stack meter did not run the call it was given.
    NotRun,
}

/// What one codec did over the page set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CodecSummary {
    /// The codec.
    pub name: &'static str,
    /// Pages that made the round trip.
    pub pages: usize,
    /// Their uncompressed bytes.
    pub input_bytes: usize,
    /// Their payload bytes once compressed.
    pub payload_bytes: usize,
    /// How many pages got each encoding, indexed by wire tag (stored, same-fill, lz4, zstd).
    pub encodings: [usize; 4],
    /// Deepest stack of `compress` over the pages, where measured.
    pub stack_compress: Option<usize>,
    /// Deepest stack of `decompress_into`, where measured.
    pub stack_decompress: Option<usize>,
    /// The bounds that the depths are checked against.
    pub bounds: StackBounds,
}

impl CodecSummary {
    fn new(name: &'static str, bounds: StackBounds) -> Self {
        Self {
            name,
            pages: 0,
            input_bytes: 0,
            payload_bytes: 0,
            encodings: [0; 4],
            stack_compress: None,
            stack_decompress: None,
            bounds,
        }
    }

    fn count(&mut self, encoding: Encoding, payload_len: usize) {
        self.pages += 1;
        self.input_bytes += PAGE_SIZE;
        self.payload_bytes += payload_len;
        if let Some(count) = self.encodings.get_mut(usize::from(encoding.tag())) {
            *count += 1;
        }
    }

    fn record_depth(&mut self, op: Op, depth: Option<usize>) -> Result<(), Failure> {
        let (deepest, bound) = match op {
            Op::Compress => (&mut self.stack_compress, self.bounds.compress),
            Op::Decompress | Op::Estimate => (&mut self.stack_decompress, self.bounds.decompress),
        };
        if let Some(used) = depth {
            *deepest = Some(deepest.map_or(used, |d| d.max(used)));
            if used > bound {
                return Err(Failure::StackOverBound {
                    codec: self.name,
                    op,
                    used,
                    bound,
                });
            }
        }
        Ok(())
    }
}

/// What the whole suite did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Summary {
    /// Pages in the set.
    pub pages: usize,
    /// Of which embedded at build time.
    pub embedded_pages: usize,
    /// One entry per codec through the page API, in the order of [`CODECS`].
    pub codecs: heapless::Vec<CodecSummary, MAX_CODECS>,
    /// One entry per codec through its own API, in the order of [`RAW_CODECS`]; a page the codec
    /// does not apply to counts as stored.
    pub raw: heapless::Vec<CodecSummary, MAX_CODECS>,
    /// What the adaptive policy chose for the pages.
    pub adaptive: AdaptiveSummary,
    /// FNV-1a 64 of every compressed page's wire form (length, then bytes), codec by codec, then of
    /// every codec API output, then of every page's entropy estimate and adaptive choice.
    pub digest: u64,
}

/// What [`AdaptivePolicy::DEFAULT`] chose for the pages, from each page's entropy estimate (integer
/// arithmetic, so every target must choose the same: the estimates and choices go into the digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdaptiveSummary {
    /// Pages it would store without running a codec.
    pub stored: usize,
    /// Pages it gives to Zstandard at the sparse level (many zero bytes).
    pub sparse: usize,
    /// Pages it gives to Zstandard at the dense level (few zero bytes).
    pub dense: usize,
    /// Deepest stack of `entropy::estimate` and `AdaptivePolicy::choose`, where measured.
    pub stack: Option<usize>,
}

/// Stack bound of `entropy::estimate` and the choice: the sample's 512-byte count table, the
/// estimate, and slack.
pub const ESTIMATE_STACK: usize = 1024;

impl Summary {
    /// `Ok` when the digest is the one the host computed.
    pub fn check_digest(&self, expected: u64) -> Result<(), Failure> {
        if self.digest == expected {
            Ok(())
        } else {
            Err(Failure::DigestMismatch {
                got: self.digest,
                expected,
            })
        }
    }
}

/// Runs every page of `embedded` plus the generated pages through every codec, first through the page
/// API and then through each codec's own API, measuring each call with `meter`.
pub fn run(embedded: &[u8], meter: &mut dyn StackMeter) -> Result<Summary, Failure> {
    let mut buffers = BUFFERS.try_lock().ok_or(Failure::StateBusy)?;
    let mut compressor = COMPRESSOR.try_lock().ok_or(Failure::StateBusy)?;
    let mut raw_out = RAW_OUT.try_lock().ok_or(Failure::StateBusy)?;
    let set = PageSet::new(embedded);
    let mut digest = Fnv1a64::new();
    let mut codecs = heapless::Vec::new();
    for codec in CODECS {
        let built = CompressorBuilder::new()
            .algorithm(codec.algorithm)
            .build()
            .map_err(|error| Failure::Core {
                codec: codec.name,
                page: usize::MAX,
                error,
            })?;
        compressor.set(built);
        let state = compressor.get_mut().ok_or(Failure::NotRun)?;
        let mut summary = CodecSummary::new(codec.name, codec.bounds);
        for page in 0..set.len() {
            round_trip(
                codec,
                state,
                &mut buffers,
                &set,
                page,
                meter,
                &mut digest,
                &mut summary,
            )?;
        }
        // CODECS.len() <= MAX_CODECS is asserted at compile time, so this push always fits.
        let _ = codecs.push(summary);
    }
    compressor.clear();
    let mut raw = heapless::Vec::new();
    for codec in RAW_CODECS {
        (codec.prepare)()?;
        let mut summary = CodecSummary::new(codec.name, codec.bounds);
        for page in 0..set.len() {
            raw_round_trip(
                codec,
                &mut buffers,
                &mut raw_out,
                &set,
                page,
                meter,
                &mut digest,
                &mut summary,
            )
            .map_err(|failure| failure.at_page(page))?;
        }
        let _ = raw.push(summary);
    }
    let adaptive = adaptive_choices(&mut buffers, &set, meter, &mut digest)?;
    Ok(Summary {
        pages: set.len(),
        embedded_pages: set.embedded_len(),
        codecs,
        raw,
        adaptive,
        digest: digest.value(),
    })
}

fn adaptive_choices(
    buffers: &mut Buffers,
    set: &PageSet<'_>,
    meter: &mut dyn StackMeter,
    digest: &mut Fnv1a64,
) -> Result<AdaptiveSummary, Failure> {
    let mut summary = AdaptiveSummary::default();
    for page in 0..set.len() {
        set.load(page, &mut buffers.original)
            .ok_or(Failure::NotRun)?;
        let original = &buffers.original;
        let mut result = None;
        let depth = meter.measure(&mut || {
            let estimate = entropy::estimate(original);
            result = Some((estimate, AdaptivePolicy::DEFAULT.choose(&estimate)));
        });
        let (estimate, choice) = result.ok_or(Failure::NotRun)?;
        if let Some(used) = depth {
            summary.stack = Some(summary.stack.map_or(used, |d| d.max(used)));
            if used > ESTIMATE_STACK {
                return Err(Failure::StackOverBound {
                    codec: "adaptive choice",
                    op: Op::Estimate,
                    used,
                    bound: ESTIMATE_STACK,
                });
            }
        }
        for field in [
            estimate.quick_entropy_q16,
            estimate.sample_entropy_q16,
            estimate.zero_bytes,
            estimate.repeated_words,
        ] {
            digest.write(&field.to_le_bytes());
        }
        let tag = match choice {
            Choice::Stored => {
                summary.stored += 1;
                [0, 0]
            }
            Choice::Zstd { level } => {
                if level == AdaptivePolicy::DEFAULT.sparse_level {
                    summary.sparse += 1;
                } else {
                    summary.dense += 1;
                }
                [1, level.to_le_bytes()[0]]
            }
        };
        digest.write(&tag);
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn raw_round_trip(
    codec: &RawCodec,
    buffers: &mut Buffers,
    out: &mut [u8; PAGE_SIZE],
    set: &PageSet<'_>,
    page: usize,
    meter: &mut dyn StackMeter,
    digest: &mut Fnv1a64,
    summary: &mut CodecSummary,
) -> Result<(), Failure> {
    let Buffers {
        original, decoded, ..
    } = buffers;
    let Some(kind) = set.load(page, original) else {
        return Err(Failure::NotRun);
    };
    let mut compressed = None;
    let depth = meter.measure(&mut || compressed = Some((codec.compress)(original, out)));
    let Some(len) = compressed.ok_or(Failure::NotRun)?? else {
        summary.count(Encoding::Stored, PAGE_SIZE);
        return summary.record_depth(Op::Compress, depth);
    };
    summary.record_depth(Op::Compress, depth)?;
    let output = out.get(..len).ok_or(Failure::WireMismatch {
        codec: codec.name,
        page,
    })?;
    digest.write_len(len);
    digest.write(output);

    decoded.fill(0xa5);
    let mut decompressed = None;
    let depth = meter.measure(&mut || decompressed = Some((codec.decompress)(output, decoded)));
    decompressed.ok_or(Failure::NotRun)??;
    summary.record_depth(Op::Decompress, depth)?;
    if let Some(offset) = first_difference(original, decoded) {
        return Err(Failure::Mismatch {
            codec: codec.name,
            page,
            kind,
            offset,
        });
    }
    summary.count(codec.encoding, len);
    Ok(())
}

fn first_difference(a: &Page, b: &Page) -> Option<usize> {
    a.iter().zip(b.iter()).position(|(x, y)| x != y)
}

#[allow(clippy::too_many_arguments)]
fn round_trip(
    codec: &Codec,
    state: &mut StandardCompressor,
    buffers: &mut Buffers,
    set: &PageSet<'_>,
    page: usize,
    meter: &mut dyn StackMeter,
    digest: &mut Fnv1a64,
    summary: &mut CodecSummary,
) -> Result<(), Failure> {
    let Buffers {
        original,
        decoded,
        wire,
    } = buffers;
    let core_failure = |error: Error| Failure::Core {
        codec: codec.name,
        page,
        error,
    };
    let Some(kind) = set.load(page, original) else {
        return Err(Failure::NotRun);
    };

    let mut compressed: Option<Result<CompressedPage, Error>> = None;
    let depth = meter.measure(&mut || compressed = Some(state.compress(original)));
    let packed = compressed.ok_or(Failure::NotRun)?.map_err(core_failure)?;
    summary.record_depth(Op::Compress, depth)?;

    let len = packed.to_bytes(wire).map_err(core_failure)?;
    let wire = &wire[..len];
    digest.write_len(len);
    digest.write(wire);
    let back = CompressedPage::from_bytes(wire).map_err(core_failure)?;
    if back != packed {
        return Err(Failure::WireMismatch {
            codec: codec.name,
            page,
        });
    }

    decoded.fill(0xa5);
    let mut decompressed: Option<Result<(), Error>> = None;
    let depth = meter.measure(&mut || decompressed = Some(state.decompress_into(&back, decoded)));
    decompressed.ok_or(Failure::NotRun)?.map_err(core_failure)?;
    summary.record_depth(Op::Decompress, depth)?;
    if let Some(offset) = original
        .iter()
        .zip(decoded.iter())
        .position(|(a, b)| a != b)
    {
        return Err(Failure::Mismatch {
            codec: codec.name,
            page,
            kind,
            offset,
        });
    }

    summary.pages += 1;
    summary.input_bytes += PAGE_SIZE;
    summary.payload_bytes += back.payload().len();
    if let Some(count) = summary
        .encodings
        .get_mut(usize::from(back.encoding().tag()))
    {
        *count += 1;
    }
    Ok(())
}

impl Failure {
    /// The failure with its page index filled in where a codec API could not know it.
    fn at_page(self, page: usize) -> Self {
        match self {
            Failure::Core {
                codec,
                page: usize::MAX,
                error,
            } => Failure::Core { codec, page, error },
            other => other,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Compress => "compress",
            Op::Decompress => "decompress",
            Op::Estimate => "estimate",
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Core { codec, page, error } => {
                write!(f, "{codec}: page {page}: core error: {error}")
            }
            Failure::Mismatch {
                codec,
                page,
                kind,
                offset,
            } => write!(
                f,
                "{codec}: page {page} ({kind:?}) decoded differently from byte {offset} on"
            ),
            Failure::WireMismatch { codec, page } => {
                write!(f, "{codec}: page {page}: wire form read back differs")
            }
            Failure::StackOverBound {
                codec,
                op,
                used,
                bound,
            } => write!(f, "{codec}: {op} used {used} bytes of stack, bound {bound}"),
            Failure::DigestMismatch { got, expected } => write!(
                f,
                "digest {got:#018x} differs from the host's {expected:#018x}"
            ),
            #[cfg(feature = "pool")]
            Failure::Pool { codec, page, error } => {
                write!(f, "{codec}: page {page}: pool error: {error}")
            }
            #[cfg(feature = "pool")]
            Failure::PoolCheck { codec, what } => write!(f, "{codec}: pool check failed: {what}"),
            Failure::StateBusy => f.write_str("suite state is held by another context"),
            Failure::NotRun => f.write_str("stack meter did not run the call"),
        }
    }
}

/// `Display` of an optional stack depth: bytes, or `-` where unmeasured.
struct Depth(Option<usize>);

impl fmt::Display for Depth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, "{d} B"),
            None => f.write_str("-"),
        }
    }
}

impl fmt::Display for Summary {
    /// One line per codec with sizes and encodings, one with its stack depths, then the digest line
    /// that xtask looks for.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pages: {} ({} embedded)",
            self.pages, self.embedded_pages
        )?;
        for c in &self.codecs {
            write_codec(f, "page API", c)?;
        }
        for c in &self.raw {
            write_codec(f, "codec API", c)?;
        }
        let a = &self.adaptive;
        writeln!(
            f,
            "adaptive choice (default policy): stored {}, zstd sparse level {}, zstd dense level {}",
            a.stored, a.sparse, a.dense
        )?;
        writeln!(
            f,
            "stack adaptive choice: estimate {} (bound {ESTIMATE_STACK} B)",
            Depth(a.stack)
        )?;
        write!(f, "digest {:#018x}", self.digest)
    }
}

fn write_codec(f: &mut fmt::Formatter<'_>, layer: &str, c: &CodecSummary) -> fmt::Result {
    let [stored, same_fill, lz4, zstd] = c.encodings;
    let per_mille = (c.input_bytes * 1000)
        .checked_div(c.payload_bytes)
        .unwrap_or(0);
    writeln!(
        f,
        "{layer} {}: {} pages round-tripped, {} -> {} bytes (ratio {}.{:03}); stored {stored}, same-fill {same_fill}, lz4 {lz4}, zstd {zstd}",
        c.name,
        c.pages,
        c.input_bytes,
        c.payload_bytes,
        per_mille / 1000,
        per_mille % 1000
    )?;
    writeln!(
        f,
        "stack {layer} {}: compress {} (bound {} B), decompress {} (bound {} B)",
        c.name,
        Depth(c.stack_compress),
        c.bounds.compress,
        Depth(c.stack_decompress),
        c.bounds.decompress
    )
}

/// Encodings in wire-tag order, for readers of [`CodecSummary::encodings`].
pub const ENCODINGS: [Encoding; 4] = [
    Encoding::Stored,
    Encoding::SameFill,
    Encoding::Lz4,
    Encoding::Zstd,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Unmeasured;

    /// The suite's state is one per program: tests that run it take turns (the test harness runs
    /// them on several threads, which `run` would rightly answer with `StateBusy`).
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn a_second_context_gets_state_busy() {
        let _turn = TURN.lock();
        let _held = COMPRESSOR.lock();
        assert_eq!(run(&[], &mut Unmeasured), Err(Failure::StateBusy));
    }

    #[test]
    fn every_codec_round_trips_the_generated_pages() {
        let _turn = TURN.lock();
        let summary = run(&[], &mut Unmeasured).unwrap();
        assert_eq!(summary.codecs.len(), CODECS.len());
        for c in &summary.codecs {
            assert_eq!(c.pages, summary.pages);
            assert_eq!(c.encodings.iter().sum::<usize>(), summary.pages);
            // Zero and pattern pages are same-fill for every codec.
            assert!(c.encodings[1] >= 2, "{c:?}");
        }
        // Text, sparse and half-random pages compress with LZ4; random bytes and counters that
        // never repeat 4 bytes do not.
        let lz4 = summary.codecs.iter().find(|c| c.name == "lz4").unwrap();
        assert_eq!(lz4.encodings, [2, 2, summary.pages - 4, 0]);
        assert!(lz4.payload_bytes < lz4.input_bytes / 2, "{lz4:?}");
        // Adaptive: same-fill first, then the random page stored as its quick sample says, then
        // Zstandard; the counters, with many zero bytes, get level -1, whose raw literals do not
        // shrink them, and are stored too.
        let adaptive = summary
            .codecs
            .iter()
            .find(|c| c.name == "adaptive")
            .unwrap();
        assert_eq!(adaptive.encodings[1..3], [2, 0], "{adaptive:?}");
        assert_eq!(
            adaptive.encodings[0],
            summary.adaptive.stored + 1,
            "{adaptive:?}"
        );
        assert!(adaptive.encodings[3] >= 3, "{adaptive:?}");
        // Zstandard's entropy coding also takes the counters; only the random page is stored.
        for zstd in summary.codecs.iter().filter(|c| c.name.starts_with("zstd")) {
            assert_eq!(zstd.encodings, [1, 2, 0, summary.pages - 3], "{zstd:?}");
            assert!(zstd.payload_bytes < lz4.payload_bytes, "{zstd:?}");
        }
        assert_eq!(summary.raw.len(), RAW_CODECS.len());
        for c in &summary.raw {
            assert_eq!(c.pages, summary.pages, "{c:?}");
        }
        // The random page is stored; the zero and pattern pages never reach the policy in the page
        // API, but the estimate sees them like any other page.
        let a = summary.adaptive;
        assert_eq!(a.stored + a.sparse + a.dense, summary.pages);
        assert!(a.stored >= 1 && a.sparse >= 1 && a.dense >= 1, "{a:?}");
        // Same-fill detection applies to the zero and pattern pages only.
        assert_eq!(summary.raw[0].encodings, [summary.pages - 2, 2, 0, 0]);
    }

    #[test]
    fn digest_depends_on_every_page_and_is_stable() {
        let _turn = TURN.lock();
        let mut page = [0u8; PAGE_SIZE];
        crate::pages::text_page(7, &mut page);
        let a = run(&page, &mut Unmeasured).unwrap();
        let b = run(&page, &mut Unmeasured).unwrap();
        assert_eq!(a.digest, b.digest);
        page[100] ^= 1;
        let c = run(&page, &mut Unmeasured).unwrap();
        assert_ne!(a.digest, c.digest);
        assert_eq!(
            c.check_digest(a.digest),
            Err(Failure::DigestMismatch {
                got: c.digest,
                expected: a.digest
            })
        );
        assert_eq!(a.check_digest(a.digest), Ok(()));
    }

    /// A meter that reports a fixed depth, to show the bounds are enforced.
    struct Deep(usize);
    impl StackMeter for Deep {
        fn measure(&mut self, f: &mut dyn FnMut()) -> Option<usize> {
            f();
            Some(self.0)
        }
    }

    #[test]
    fn a_depth_over_the_bound_fails() {
        let _turn = TURN.lock();
        let bounds = CODECS
            .iter()
            .map(|c| c.bounds)
            .chain(RAW_CODECS.iter().map(|c| c.bounds))
            .flat_map(|b| [b.compress, b.decompress])
            .chain([ESTIMATE_STACK]);
        let smallest = bounds.clone().min().unwrap();
        let ok = run(&[], &mut Deep(smallest)).unwrap();
        assert_eq!(ok.codecs[0].stack_decompress, Some(smallest));
        assert_eq!(ok.adaptive.stack, Some(smallest));
        let over = bounds.max().unwrap() + 1;
        assert!(matches!(
            run(&[], &mut Deep(over)),
            Err(Failure::StackOverBound { used, .. }) if used == over
        ));
    }
}
