//! The page API: choose an [`Algorithm`] and a backend with [`CompressorBuilder`], then compress and
//! decompress whole pages through [`PageCompressor`].
//!
//! Every algorithm applies the same rules: a same-fill page becomes [`Encoding::SameFill`] before any
//! codec runs, and a page whose codec output would be `PAGE_SIZE` bytes or more becomes
//! [`Encoding::Stored`]. Decompression needs nothing but the page: its encoding says everything.

use crate::adaptive::{AdaptivePolicy, Choice};
use crate::error::{Error, Result};
use crate::lz4;
use crate::page::{CompressedPage, Encoding};
use crate::simd::SimdBackend;
use crate::{PAGE_SIZE, Page, samefill};

/// What a compressor does with pages that are not same-fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Algorithm {
    /// LZ4 blocks (the standard block format), liblz4's fast mode at acceleration 1. The default.
    Lz4,
    /// Detect same-fill pages and store every other page raw: for data known to be incompressible
    /// (encrypted or already compressed), where running a codec only costs time.
    SameFillOnly,
    /// One Zstandard frame per page at `level` (`-7..=9`, 0 meaning 3; see [`crate::zstd::compress`]
    /// for what each level does and the memory it takes).
    Zstd {
        /// Compression level: negative is faster, higher is smaller.
        level: i8,
    },
    /// Per page: same-fill, stored when a quick entropy sample says no codec would pay, otherwise
    /// Zstandard at a fast level for pages with many zero bytes and a stronger one for the others,
    /// as the [`AdaptivePolicy`] (set with [`CompressorBuilder::adaptive_policy`]) decides. Decoding
    /// needs no knowledge of the policy.
    Adaptive,
}

/// Compresses and decompresses whole pages. Implementations keep codec state (hash tables, entropy
/// tables) between calls, hence `&mut self`; give each thread its own.
pub trait PageCompressor {
    /// Compresses one page.
    fn compress(&mut self, page: &Page) -> Result<CompressedPage>;

    /// Decompresses `packed` into `out`, which receives exactly one page.
    fn decompress_into(&mut self, packed: &CompressedPage, out: &mut Page) -> Result<()>;

    /// Decompresses `packed` into a new page.
    fn decompress(&mut self, packed: &CompressedPage) -> Result<Page> {
        let mut page = [0u8; PAGE_SIZE];
        self.decompress_into(packed, &mut page)?;
        Ok(page)
    }
}

/// Builds a [`StandardCompressor`] without allocating.
#[derive(Debug, Clone, Copy)]
pub struct CompressorBuilder {
    algorithm: Algorithm,
    backend: Option<SimdBackend>,
    policy: AdaptivePolicy,
}

impl Default for CompressorBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl CompressorBuilder {
    /// A builder with the default algorithm and the best backend this CPU has.
    pub const fn new() -> Self {
        Self {
            algorithm: Algorithm::Lz4,
            backend: None,
            policy: AdaptivePolicy::DEFAULT,
        }
    }

    /// The thresholds that [`Algorithm::Adaptive`] applies (other algorithms ignore them).
    pub const fn adaptive_policy(mut self, policy: AdaptivePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Chooses the algorithm.
    pub const fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Prefers a SIMD backend; one the CPU lacks falls back to the best it has
    /// ([`SimdBackend::resolve`]). The output bytes are the same on every backend.
    pub const fn prefer_backend(mut self, backend: SimdBackend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Builds the compressor, checking the configuration.
    pub fn build(self) -> Result<StandardCompressor> {
        let backend = match self.backend {
            Some(b) => b.resolve(),
            None => SimdBackend::detect(),
        };
        let entropy_stage = match self.algorithm {
            Algorithm::Zstd { level } => {
                EntropyStage::Zstd(crate::zstd::Compressor::new(level)?.with_backend(backend))
            }
            Algorithm::Adaptive => {
                // Both levels are checked here, so that compressing a page cannot fail on them;
                // the sparse one without building a second compressor's tables.
                crate::zstd::compress::check_level(self.policy.sparse_level)?;
                EntropyStage::Zstd(
                    crate::zstd::Compressor::new(self.policy.dense_level)?.with_backend(backend),
                )
            }
            Algorithm::Lz4 | Algorithm::SameFillOnly => EntropyStage::None,
        };
        Ok(StandardCompressor {
            algorithm: self.algorithm,
            backend,
            policy: self.policy,
            lz4: lz4::Compressor::with_backend(backend),
            entropy_stage,
            decoder: PageDecompressor::new(backend),
        })
    }
}

/// The compressor that [`CompressorBuilder`] builds: one algorithm, one backend, and the state of the
/// codecs it uses, a [`PageDecompressor`] included (any compressor may meet a Zstandard page).
#[derive(Debug, Clone)]
pub struct StandardCompressor {
    algorithm: Algorithm,
    backend: SimdBackend,
    policy: AdaptivePolicy,
    /// The LZ4 hash table, kept between pages.
    lz4: lz4::Compressor,
    /// The Zstandard side's tables, kept between pages.
    entropy_stage: EntropyStage,
    /// The Zstandard decoder's workspace.
    decoder: PageDecompressor,
}

/// What a compressor needs besides LZ4: one of them, so that it takes the room of the largest only.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum EntropyStage {
    /// `Lz4` and `SameFillOnly`.
    None,
    /// `Zstd` and `Adaptive`: the whole encoder (`Adaptive` sets its level page by page).
    Zstd(crate::zstd::Compressor),
}

/// Decompresses pages of any encoding: the part of a [`StandardCompressor`] that decoding needs, for
/// a user that only decodes (a GPU thread, a reader). It holds the Zstandard decoder's workspace
/// ([`crate::zstd::Decompressor::SIZE`] bytes), scratch space for one page at a time, so that
/// decoding a page neither initialises nor puts on the stack 20 KiB of tables.
#[derive(Debug)]
pub struct PageDecompressor {
    backend: SimdBackend,
    zstd: crate::zstd::Decompressor<'static>,
}

impl PageDecompressor {
    /// A decompressor whose kernels run on `backend` (one the CPU lacks falls back to the best it
    /// has, as [`SimdBackend::resolve`] says). The output is the same on every backend.
    pub fn new(backend: SimdBackend) -> Self {
        let backend = backend.resolve();
        Self {
            backend,
            zstd: crate::zstd::Decompressor::new().prefer_backend(backend),
        }
    }

    /// Decompresses `packed` into `out`, which receives exactly one page.
    pub fn decompress_into(&mut self, packed: &CompressedPage, out: &mut Page) -> Result<()> {
        self.decompress_payload_into(packed.encoding(), packed.payload(), out)
    }

    /// Decompresses a page given as its encoding and payload (what [`CompressedPage::from_parts`]
    /// takes) into `out`: for a caller that holds the payload elsewhere, such as in a page pool,
    /// and need not copy it into a [`CompressedPage`] first.
    pub fn decompress_payload_into(
        &mut self,
        encoding: Encoding,
        payload: &[u8],
        out: &mut Page,
    ) -> Result<()> {
        decode_page(self.backend, &mut self.zstd, encoding, payload, out)
    }
}

impl Clone for PageDecompressor {
    /// The workspace holds nothing between pages: a clone gets a fresh one.
    fn clone(&self) -> Self {
        Self::new(self.backend)
    }
}

impl StandardCompressor {
    /// The algorithm this compressor applies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The backend its kernels run on.
    pub fn backend(&self) -> SimdBackend {
        self.backend
    }

    /// [`PageDecompressor::decompress_payload_into`] with this compressor's decoder.
    pub fn decompress_payload_into(
        &mut self,
        encoding: Encoding,
        payload: &[u8],
        out: &mut Page,
    ) -> Result<()> {
        self.decoder.decompress_payload_into(encoding, payload, out)
    }

    /// The adaptive policy (used by [`Algorithm::Adaptive`] only).
    pub fn adaptive_policy(&self) -> &AdaptivePolicy {
        &self.policy
    }

    /// Out of line, so that its page-sized buffer is not on the stack of every other path.
    #[inline(never)]
    fn lz4_page(&mut self, page: &Page) -> Result<CompressedPage> {
        let mut block = [0u8; PAGE_SIZE - 1];
        match self.lz4.compress_page(page, &mut block) {
            Ok(len) => CompressedPage::from_parts(Encoding::Lz4, &block[..len]),
            // Not smaller than a page.
            Err(Error::Lz4(lz4::Lz4Error::DestinationTooSmall { .. })) => {
                Ok(CompressedPage::stored(page))
            }
            Err(e) => Err(e),
        }
    }

    /// A Zstandard page at `level` (the algorithm's, or the one the adaptive policy chose: both
    /// checked by [`CompressorBuilder::build`]), or a stored one when the frame would not be
    /// smaller than a page. Out of line, as [`Self::lz4_page`].
    #[inline(never)]
    fn zstd_page(&mut self, page: &Page, level: i8) -> Result<CompressedPage> {
        let EntropyStage::Zstd(z) = &mut self.entropy_stage else {
            return Err(Error::InvalidConfig("zstd compressor missing"));
        };
        if z.level() != level {
            z.set_level(level)?;
        }
        let mut frame = [0u8; PAGE_SIZE - 1];
        match z.compress_into(page, &mut frame) {
            Ok(n) => CompressedPage::from_parts(Encoding::Zstd, &frame[..n]),
            Err(Error::OutputTooSmall { .. }) => Ok(CompressedPage::stored(page)),
            Err(e) => Err(e),
        }
    }
}

impl PageCompressor for StandardCompressor {
    fn compress(&mut self, page: &Page) -> Result<CompressedPage> {
        if let Some(word) = samefill::detect_with(self.backend, page) {
            return Ok(CompressedPage::same_fill(word));
        }
        match self.algorithm {
            Algorithm::SameFillOnly => Ok(CompressedPage::stored(page)),
            Algorithm::Lz4 => self.lz4_page(page),
            Algorithm::Zstd { level } => self.zstd_page(page, level),
            Algorithm::Adaptive => match self.policy.choose_page(self.backend, page) {
                Choice::Stored => Ok(CompressedPage::stored(page)),
                Choice::Zstd { level } => self.zstd_page(page, level),
            },
        }
    }

    fn decompress_into(&mut self, packed: &CompressedPage, out: &mut Page) -> Result<()> {
        self.decoder.decompress_into(packed, out)
    }
}

/// Decodes any compressed page into `out`, Zstandard frames with `zstd`'s tables.
fn decode_page(
    backend: SimdBackend,
    zstd: &mut crate::zstd::Decompressor<'_>,
    encoding: Encoding,
    payload: &[u8],
    out: &mut Page,
) -> Result<()> {
    match encoding {
        Encoding::Stored => {
            let raw: &Page = payload
                .try_into()
                .map_err(|_| Error::WrongDecodedLength { len: payload.len() })?;
            out.copy_from_slice(raw);
            Ok(())
        }
        Encoding::SameFill => {
            let word = <[u8; 8]>::try_from(payload).map_err(|_| Error::BadPayloadLength {
                encoding: Encoding::SameFill,
                len: payload.len(),
                min: 8,
                max: 8,
            })?;
            samefill::fill_with(backend, out, u64::from_le_bytes(word));
            Ok(())
        }
        Encoding::Lz4 => lz4::decompress_page(backend, payload, out),
        Encoding::Zstd => {
            // One frame that must fill the page exactly; a frame of more fails as output too small.
            let len = zstd.decompress_into(payload, out)?;
            if len != PAGE_SIZE {
                return Err(Error::WrongDecodedLength { len });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_levels_outside_the_encoders_are_refused_at_build() {
        for (sparse_level, dense_level) in [(10, 1), (-1, -8), (-1, 10)] {
            let policy = AdaptivePolicy {
                sparse_level,
                dense_level,
                ..AdaptivePolicy::DEFAULT
            };
            let built = CompressorBuilder::new()
                .algorithm(Algorithm::Adaptive)
                .adaptive_policy(policy)
                .build();
            assert!(built.is_err(), "{sparse_level} {dense_level}");
        }
    }

    #[test]
    fn same_fill_and_stored_round_trip() {
        let mut c = CompressorBuilder::new()
            .algorithm(Algorithm::SameFillOnly)
            .build()
            .unwrap();
        let zero = [0u8; PAGE_SIZE];
        let packed = c.compress(&zero).unwrap();
        assert_eq!(packed.encoding(), Encoding::SameFill);
        assert_eq!(packed.payload().len(), 8);
        assert_eq!(c.decompress(&packed).unwrap(), zero);

        let mut mixed = [0u8; PAGE_SIZE];
        for (i, b) in mixed.iter_mut().enumerate() {
            *b = (i * 31 % 251) as u8;
        }
        let packed = c.compress(&mixed).unwrap();
        assert_eq!(packed.encoding(), Encoding::Stored);
        assert_eq!(c.decompress(&packed).unwrap(), mixed);
    }

    #[test]
    fn lz4_is_the_default_and_round_trips() {
        let mut c = CompressorBuilder::new().build().unwrap();
        assert_eq!(c.algorithm(), Algorithm::Lz4);
        let mut text = [0u8; PAGE_SIZE];
        for (i, b) in text.iter_mut().enumerate() {
            *b = b"the quick brown fox jumps over the lazy dog "[i % 44] ^ (i / 700) as u8;
        }
        let packed = c.compress(&text).unwrap();
        assert_eq!(packed.encoding(), Encoding::Lz4);
        assert!(packed.payload().len() < 400, "{}", packed.payload().len());
        assert_eq!(c.decompress(&packed).unwrap(), text);

        // Same-fill wins before the codec runs.
        let fill = [0x5au8; PAGE_SIZE];
        assert_eq!(c.compress(&fill).unwrap().encoding(), Encoding::SameFill);
    }

    #[test]
    fn lz4_incompressible_page_is_stored_and_bad_block_is_an_error() {
        let mut c = CompressorBuilder::new().build().unwrap();
        let mut noise = [0u8; PAGE_SIZE];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for b in noise.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        let packed = c.compress(&noise).unwrap();
        assert_eq!(packed.encoding(), Encoding::Stored);
        assert_eq!(c.decompress(&packed).unwrap(), noise);

        // A block that decodes to fewer than 4096 bytes is not a page.
        let short = CompressedPage::from_parts(Encoding::Lz4, &[0x30, 1, 2, 3]).unwrap();
        assert_eq!(
            c.decompress(&short),
            Err(Error::WrongDecodedLength { len: 3 })
        );
        // A block with a bad offset is an LZ4 error.
        let bad = CompressedPage::from_parts(Encoding::Lz4, &[0x10, 7, 9, 0]).unwrap();
        assert!(matches!(c.decompress(&bad), Err(Error::Lz4(_))));
    }

    #[test]
    fn zstd_pages_decode_to_exactly_one_page() {
        let mut c = CompressorBuilder::new().build().unwrap();
        // Single-segment frame, content size 4096 (2-byte field: 4096 - 256), one RLE block of 'z'.
        let frame = [
            0x28, 0xB5, 0x2F, 0xFD, 0x60, 0x00, 0x0F, 0x03, 0x80, 0x00, b'z',
        ];
        let packed = CompressedPage::from_parts(Encoding::Zstd, &frame).unwrap();
        assert_eq!(c.decompress(&packed).unwrap(), [b'z'; PAGE_SIZE]);
        // The same block of 100 bytes without a content size is a frame of the wrong length.
        let short = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x00, 0x23, 0x03, 0x00, b'z'];
        let packed = CompressedPage::from_parts(Encoding::Zstd, &short).unwrap();
        assert_eq!(
            c.decompress(&packed),
            Err(Error::WrongDecodedLength { len: 100 })
        );
        // A corrupt frame is an error, not a panic.
        let packed = CompressedPage::from_parts(Encoding::Zstd, &frame[..9]).unwrap();
        assert!(matches!(c.decompress(&packed), Err(Error::Zstd(_))));
    }

    #[test]
    fn a_page_decompressor_decodes_what_every_algorithm_writes() {
        let mut text = [0u8; PAGE_SIZE];
        for (i, b) in text.iter_mut().enumerate() {
            *b = b"pages of text, pages of text, compressed "[i % 41] ^ (i / 512) as u8;
        }
        let mut decoder = PageDecompressor::new(SimdBackend::Scalar);
        for algorithm in [
            Algorithm::Lz4,
            Algorithm::Zstd { level: 1 },
            Algorithm::Adaptive,
            Algorithm::SameFillOnly,
        ] {
            let mut c = CompressorBuilder::new()
                .algorithm(algorithm)
                .build()
                .unwrap();
            for page in [text, [7u8; PAGE_SIZE]] {
                let packed = c.compress(&page).unwrap();
                let mut out = [0u8; PAGE_SIZE];
                decoder.decompress_into(&packed, &mut out).unwrap();
                assert_eq!(out, page, "{algorithm:?}");
                // Its clone, and the compressor's own decoder, agree.
                decoder.clone().decompress_into(&packed, &mut out).unwrap();
                assert_eq!(out, page, "{algorithm:?}");
                assert_eq!(c.decompress(&packed).unwrap(), page, "{algorithm:?}");
            }
        }
        // A frame cut short is an error for it too.
        let frame = [0x28, 0xB5, 0x2F, 0xFD, 0x60, 0x00, 0x0F, 0x03, 0x80];
        let packed = CompressedPage::from_parts(Encoding::Zstd, &frame).unwrap();
        let mut out = [0u8; PAGE_SIZE];
        assert!(matches!(
            decoder.decompress_into(&packed, &mut out),
            Err(Error::Zstd(_))
        ));
    }

    #[test]
    fn every_backend_gives_the_same_pages() {
        let mut page = [0u8; PAGE_SIZE];
        samefill::fill(&mut page, 0xfeed_face_cafe_beef);
        let reference = CompressorBuilder::new()
            .prefer_backend(SimdBackend::Scalar)
            .build()
            .unwrap()
            .compress(&page)
            .unwrap();
        for b in SimdBackend::ALL {
            let mut c = CompressorBuilder::new().prefer_backend(b).build().unwrap();
            assert!(c.backend().is_available());
            assert_eq!(c.compress(&page).unwrap(), reference);
        }
    }
}
