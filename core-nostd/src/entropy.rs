//! Byte statistics of a page, cheap enough to run before deciding how (or whether) to compress it.
//!
//! - [`histogram`] and [`shannon_bits`]: the order-0 Shannon entropy in bits per byte (0 for a page of
//!   one repeated byte, close to 8 for random bytes), in integer arithmetic so that every target gives
//!   the same answer.
//! - [`estimate`]: what the adaptive policy looks at — the entropy of a fixed sample of the page, and
//!   two LZ-redundancy counts over the whole page (zero bytes, 8-byte words equal to the word before
//!   them) that have SIMD kernels beside the scalar oracle.

use crate::simd::SimdBackend;
use crate::{PAGE_SIZE, Page};

/// Counts of each byte value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u32; 256],
    total: u32,
}

impl Histogram {
    /// How often each byte value occurs.
    pub fn counts(&self) -> &[u32; 256] {
        &self.counts
    }

    /// Number of bytes counted.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Number of distinct byte values.
    pub fn distinct(&self) -> usize {
        self.counts.iter().filter(|&&c| c != 0).count()
    }
}

/// The byte histogram of `data` (at most `u32::MAX` bytes are counted).
pub fn histogram(data: &[u8]) -> Histogram {
    // Four interleaved tables: consecutive equal bytes then update different counters, which avoids
    // the store-to-load dependency that one table would put on every byte of a run.
    let mut tables = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        tables[0][usize::from(q[0])] += 1;
        tables[1][usize::from(q[1])] += 1;
        tables[2][usize::from(q[2])] += 1;
        tables[3][usize::from(q[3])] += 1;
    }
    for &b in quads.remainder() {
        tables[0][usize::from(b)] += 1;
    }
    let mut counts = [0u32; 256];
    for (i, c) in counts.iter_mut().enumerate() {
        *c = tables[0][i] + tables[1][i] + tables[2][i] + tables[3][i];
    }
    let total = u32::try_from(data.len()).unwrap_or(u32::MAX);
    Histogram { counts, total }
}

/// Order-0 Shannon entropy of a histogram in bits per byte, in 1/65536 bit units.
pub fn shannon_bits_q16(h: &Histogram) -> u32 {
    if h.total == 0 {
        return 0;
    }
    // H = log2(N) - (1/N) * sum(c * log2 c)
    let sum: u64 = h
        .counts
        .iter()
        .map(|&c| u64::from(c) * u64::from(log2_q16(c)))
        .sum();
    let mean = sum / u64::from(h.total);
    u64::from(log2_q16(h.total))
        .saturating_sub(mean)
        .try_into()
        .unwrap_or(u32::MAX)
}

/// Order-0 Shannon entropy of a histogram in bits per byte.
pub fn shannon_bits(h: &Histogram) -> f32 {
    // Exact for the value range: q16 <= 8 << 16 fits an f32 mantissa.
    #[allow(clippy::cast_precision_loss)]
    let bits = shannon_bits_q16(h) as f32;
    bits / 65536.0
}

/// Shannon entropy of a whole page in bits per byte.
pub fn page_entropy(page: &Page) -> f32 {
    shannon_bits(&histogram(page))
}

/// `log2(1 + i/32)` in Q16 for i in 0..=32: the mantissa table of [`log2_q16`].
const LOG2_MANTISSA_Q16: [u32; 33] = [
    0, 2909, 5732, 8473, 11136, 13727, 16248, 18704, 21097, 23432, 25710, 27935, 30109, 32234,
    34312, 36346, 38336, 40286, 42196, 44068, 45904, 47705, 49472, 51207, 52911, 54584, 56229,
    57845, 59434, 60997, 62534, 64047, 65536,
];

/// `log2(x)` in Q16 (0 for 0 and 1), by exponent and a linearly interpolated mantissa table: within
/// 0.0004 bits of the exact value, and the same on every target.
const fn log2_q16(x: u32) -> u32 {
    if x <= 1 {
        return 0;
    }
    let exponent = 31 - x.leading_zeros();
    // The mantissa as a Q16 fraction in [0, 1).
    let frac = if exponent >= 16 {
        (x >> (exponent - 16)) & 0xffff
    } else {
        (x << (16 - exponent)) & 0xffff
    };
    let index = (frac >> 11) as usize; // 0..=31
    let within = frac & 0x7ff; // position between two table entries, in 1/2048
    let lo = LOG2_MANTISSA_Q16[index];
    let hi = LOG2_MANTISSA_Q16[index + 1];
    (exponent << 16) + lo + (((hi - lo) * within) >> 11)
}

/// Bytes of the page that [`estimate`] samples for its entropy: 16 blocks of 64 bytes, one every 256.
pub const SAMPLE_BYTES: usize = 1024;
const SAMPLE_BLOCK: usize = 64;
const SAMPLE_STRIDE: usize = PAGE_SIZE / (SAMPLE_BYTES / SAMPLE_BLOCK);
/// Bytes of the first, quick stage of the sample: the first 32 bytes of every fourth block, one
/// piece per KiB. Enough to tell random bytes (6.3 to 6.8 bits over 128 bytes) from anything a codec
/// can shrink, at an eighth of the cost.
pub const QUICK_SAMPLE_BYTES: usize = 128;
const QUICK_PIECE: usize = 32;
const QUICK_STRIDE: usize = 1024;

/// `(c + 1) * log2(c + 1) - c * log2(c)` in Q16 for every count a sample can reach: adding a byte
/// whose value was seen `c` times before adds this to the sample's `sum(c * log2 c)`, so the
/// entropy needs no pass over the 256 counts. `SAMPLE_BYTES * log2(SAMPLE_BYTES)` is 10 << 26, so
/// every sum fits `u32`.
static C_LOG2_C_STEP_Q16: [u32; SAMPLE_BYTES] = {
    let mut table = [0u32; SAMPLE_BYTES];
    let mut c = 0;
    while c < SAMPLE_BYTES {
        #[allow(clippy::cast_possible_truncation)] // c < 1024
        let count = c as u32;
        table[c] = (count + 1) * log2_q16(count + 1) - count * log2_q16(count);
        c += 1;
    }
    table
};

/// The byte counts of a sample of up to [`SAMPLE_BYTES`] bytes and their `sum(c * log2 c)`, kept as
/// bytes are added, so that the sample's entropy needs no pass over the 256 counts. The adaptive
/// estimate samples pages with it; a caller with a sampling pattern of its own can too.
#[derive(Debug, Clone)]
pub struct SampleHistogram {
    counts: [u16; 256],
    c_log2_c_q16: u32,
    bytes: u32,
}

impl Default for SampleHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl SampleHistogram {
    /// An empty sample.
    pub const fn new() -> Self {
        Self {
            counts: [0; 256],
            c_log2_c_q16: 0,
            bytes: 0,
        }
    }

    /// Adds `bytes` to the sample; bytes beyond [`SAMPLE_BYTES`] in all are not counted.
    pub fn add(&mut self, bytes: &[u8]) {
        // bytes <= SAMPLE_BYTES, so the conversion and the subtraction are exact.
        let room = SAMPLE_BYTES - self.bytes as usize;
        let bytes = bytes.get(..room).unwrap_or(bytes);
        for &b in bytes {
            let count = &mut self.counts[usize::from(b)];
            // At most SAMPLE_BYTES bytes are counted, so the count is below the table's length;
            // the mask only spares a bounds check.
            self.c_log2_c_q16 += C_LOG2_C_STEP_Q16[usize::from(*count) & (SAMPLE_BYTES - 1)];
            *count += 1;
        }
        // bytes.len() <= room <= SAMPLE_BYTES.
        #[allow(clippy::cast_possible_truncation)]
        let len = bytes.len() as u32;
        self.bytes += len;
    }

    /// Adds `page[at..at + len]` (nothing when that range is not in the page).
    fn add_range(&mut self, page: &Page, at: usize, len: usize) {
        if let Some(bytes) = page.get(at..at + len) {
            self.add(bytes);
        }
    }

    /// Order-0 entropy of the bytes added so far, in 1/65536 bit per byte: the same value as
    /// [`shannon_bits_q16`] of their [`histogram`].
    pub fn entropy_q16(&self) -> u32 {
        if self.bytes == 0 {
            return 0;
        }
        log2_q16(self.bytes).saturating_sub(self.c_log2_c_q16 / self.bytes)
    }
}

/// What the adaptive policy knows about a page before compressing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Estimate {
    /// Order-0 entropy of the quick sample ([`QUICK_SAMPLE_BYTES`]), in 1/65536 bits per byte
    /// (0..=7 << 16: 128 bytes hold at most 7 bits each).
    pub quick_entropy_q16: u32,
    /// Order-0 entropy of the whole sample ([`SAMPLE_BYTES`]), in 1/65536 bits per byte.
    pub sample_entropy_q16: u32,
    /// Zero bytes in the whole page (0..=4096).
    pub zero_bytes: u32,
    /// 8-byte words equal to the word before them (0..=511): a cheap sign of LZ redundancy.
    pub repeated_words: u32,
}

impl Estimate {
    /// Sample entropy in bits per byte.
    pub fn sample_entropy(&self) -> f32 {
        #[allow(clippy::cast_precision_loss)]
        let bits = self.sample_entropy_q16 as f32;
        bits / 65536.0
    }

    /// A rough compression ratio this page should reach: order-0 coding of the bytes that are not
    /// zero and not in a repeated word. For reports and ranking, not for deciding formats.
    #[allow(clippy::cast_precision_loss)] // every count here is at most 4096: exact in f32
    pub fn predicted_ratio(&self) -> f32 {
        const PAGE: f32 = PAGE_SIZE as f32;
        let redundant = (self.zero_bytes as f32)
            .max(self.repeated_words as f32 * 8.0)
            .min(PAGE);
        let bits = self.sample_entropy().max(0.5);
        // Redundant bytes still cost something (about 1/32 of a byte each in an LZ token stream), and a
        // compressed page has a few bytes of framing.
        let cost = (PAGE - redundant) * bits / 8.0 + redundant / 32.0 + 16.0;
        (PAGE / cost).min(PAGE / 9.0)
    }
}

/// Estimates a page's compressibility on the best backend.
pub fn estimate(page: &Page) -> Estimate {
    estimate_with(SimdBackend::detect(), page)
}

/// [`estimate`] on a chosen backend; every backend gives the same result.
pub fn estimate_with(backend: SimdBackend, page: &Page) -> Estimate {
    let mut staged = StagedEstimate::new(page);
    let quick_entropy_q16 = staged.quick_entropy_q16();
    staged.finish(backend, quick_entropy_q16)
}

/// An [`Estimate`] computed in two stages, so that a caller can stop after the quick one: the
/// adaptive policy stores a page whose quick sample looks random without paying for the rest.
pub struct StagedEstimate<'a> {
    page: &'a Page,
    sample: SampleHistogram,
}

impl<'a> StagedEstimate<'a> {
    /// Starts an estimate of `page`.
    pub fn new(page: &'a Page) -> Self {
        Self {
            page,
            sample: SampleHistogram::new(),
        }
    }

    /// The entropy of the quick sample ([`QUICK_SAMPLE_BYTES`] bytes), in 1/65536 bit per byte.
    pub fn quick_entropy_q16(&mut self) -> u32 {
        for at in (0..PAGE_SIZE).step_by(QUICK_STRIDE) {
            self.sample.add_range(self.page, at, QUICK_PIECE);
        }
        self.sample.entropy_q16()
    }

    /// The whole estimate; `quick_entropy_q16` is what [`Self::quick_entropy_q16`] returned.
    pub fn finish(mut self, backend: SimdBackend, quick_entropy_q16: u32) -> Estimate {
        // The rest of the sample: what the quick pieces left of each block.
        for at in (0..PAGE_SIZE).step_by(SAMPLE_STRIDE) {
            let done = if at % QUICK_STRIDE == 0 {
                QUICK_PIECE
            } else {
                0
            };
            self.sample
                .add_range(self.page, at + done, SAMPLE_BLOCK - done);
        }
        let (zero_bytes, repeated_words) = redundancy_counts(backend, self.page);
        Estimate {
            quick_entropy_q16,
            sample_entropy_q16: self.sample.entropy_q16(),
            zero_bytes,
            repeated_words,
        }
    }
}

/// Zero bytes and repeated 8-byte words of the page.
pub fn redundancy_counts(backend: SimdBackend, page: &Page) -> (u32, u32) {
    match backend.resolve() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: resolve() returned Avx512, so the CPU and OS support AVX-512 F/BW/VL.
        SimdBackend::Avx512 => unsafe { crate::simd::avx512::redundancy_counts(page) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: resolve() returned Avx2, so the CPU and OS support AVX2 and POPCNT.
        SimdBackend::Avx2 => unsafe { crate::simd::avx2::redundancy_counts(page) },
        #[cfg(target_arch = "aarch64")]
        SimdBackend::Neon => crate::simd::neon::redundancy_counts(page),
        _ => redundancy_counts_scalar(page),
    }
}

/// The scalar oracle of [`redundancy_counts`].
pub(crate) fn redundancy_counts_scalar(page: &Page) -> (u32, u32) {
    let zeros = page.iter().filter(|&&b| b == 0).count();
    // A page has 4096 bytes, so the count fits.
    (
        u32::try_from(zeros).unwrap_or(u32::MAX),
        repeated_words_from(page, 1),
    )
}

/// Words `first..512` of the page that equal the word before them: the scalar tail of the kernels.
pub(crate) fn repeated_words_from(page: &Page, first: usize) -> u32 {
    let words = PAGE_SIZE / 8;
    let mut repeated = 0;
    for w in first.max(1)..words {
        if page[w * 8..w * 8 + 8] == page[w * 8 - 8..w * 8] {
            repeated += 1;
        }
    }
    repeated
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn xorshift_page(seed: u64) -> Page {
        let mut state = seed | 1;
        let mut page = [0u8; PAGE_SIZE];
        for b in page.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = (state >> 56) as u8;
        }
        page
    }

    #[test]
    fn one_repeated_byte_has_zero_entropy() {
        for byte in [0u8, 0x5a, 0xff] {
            assert_eq!(page_entropy(&[byte; PAGE_SIZE]), 0.0);
        }
    }

    #[test]
    fn random_bytes_have_nearly_eight_bits() {
        let e = page_entropy(&xorshift_page(42));
        assert!(e > 7.9 && e <= 8.0, "{e}");
    }

    #[test]
    fn two_equal_symbols_have_one_bit() {
        let mut page = [0u8; PAGE_SIZE];
        for (i, b) in page.iter_mut().enumerate() {
            *b = (i % 2) as u8;
        }
        let e = page_entropy(&page);
        assert!((e - 1.0).abs() < 0.001, "{e}");
    }

    #[test]
    fn log2_is_close_to_exact() {
        for x in [2u32, 3, 5, 7, 100, 1000, 4095, 4096, 65537, 1 << 30] {
            let exact = libm_free_log2(x);
            let ours = log2_q16(x) as f64 / 65536.0;
            assert!((exact - ours).abs() < 0.0005, "{x}: {ours} vs {exact}");
        }
    }

    // log2 by bisection on integer powers, good to 1e-9, without libm.
    fn libm_free_log2(x: u32) -> f64 {
        let mut v = x as f64;
        let mut result = 0.0;
        while v >= 2.0 {
            v /= 2.0;
            result += 1.0;
        }
        let mut bit = 0.5;
        for _ in 0..40 {
            v *= v;
            if v >= 2.0 {
                v /= 2.0;
                result += bit;
            }
            bit /= 2.0;
        }
        result
    }

    /// The old way: copy the sample out, histogram it, take its Shannon entropy.
    fn sample_entropy_by_histogram(page: &Page, bytes: usize, stride: usize) -> u32 {
        let piece = bytes / (PAGE_SIZE / stride);
        let mut sample = [0u8; SAMPLE_BYTES];
        for (dst, src) in sample[..bytes]
            .chunks_exact_mut(piece)
            .zip(page.chunks_exact(stride))
        {
            dst.copy_from_slice(&src[..piece]);
        }
        shannon_bits_q16(&histogram(&sample[..bytes]))
    }

    #[test]
    fn staged_sample_entropy_equals_the_histograms() {
        let mut text = [0u8; PAGE_SIZE];
        for (i, b) in text.iter_mut().enumerate() {
            *b = b"adaptive entropy sample "[i % 24] ^ ((i / 700) as u8);
        }
        for page in [xorshift_page(3), text, [7u8; PAGE_SIZE]] {
            let e = estimate_with(SimdBackend::Scalar, &page);
            assert_eq!(
                e.quick_entropy_q16,
                sample_entropy_by_histogram(&page, 128, 1024)
            );
            assert_eq!(
                e.sample_entropy_q16,
                sample_entropy_by_histogram(&page, 1024, 256)
            );
        }
        assert_eq!(estimate(&[7u8; PAGE_SIZE]).sample_entropy_q16, 0);
        let random = estimate(&xorshift_page(9));
        assert!(random.quick_entropy_q16 > (63 << 16) / 10, "{random:?}");
        assert!(random.sample_entropy_q16 > (77 << 16) / 10, "{random:?}");
    }

    #[test]
    fn a_sample_counts_at_most_sample_bytes() {
        let page = xorshift_page(11);
        let mut whole = SampleHistogram::new();
        whole.add(&page);
        let mut capped = SampleHistogram::new();
        capped.add(&page[..SAMPLE_BYTES]);
        assert_eq!(whole.entropy_q16(), capped.entropy_q16());
        assert_eq!(
            capped.entropy_q16(),
            shannon_bits_q16(&histogram(&page[..SAMPLE_BYTES]))
        );
    }

    #[test]
    fn redundancy_counts_see_zeros_and_repeats() {
        let zero = [0u8; PAGE_SIZE];
        assert_eq!(redundancy_counts_scalar(&zero), (4096, 511));
        let random = xorshift_page(7);
        let (_, repeated) = redundancy_counts_scalar(&random);
        assert_eq!(repeated, 0);
        for b in SimdBackend::available() {
            assert_eq!(redundancy_counts(b, &zero), (4096, 511), "{b}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 128 }))]
        #[test]
        fn every_backend_matches_scalar(seed: u64, zero_from in 0usize..PAGE_SIZE, period in 1usize..64) {
            let mut page = xorshift_page(seed);
            // A mix of random bytes, a periodic tail and zeros, so every count is exercised.
            for i in zero_from..PAGE_SIZE {
                page[i] = if (i / period) % 3 == 0 { 0 } else { page[i % period] };
            }
            let oracle = redundancy_counts_scalar(&page);
            for b in SimdBackend::available() {
                prop_assert_eq!(redundancy_counts(b, &page), oracle, "{}", b);
                prop_assert_eq!(estimate_with(b, &page), estimate_with(SimdBackend::Scalar, &page));
            }
        }

        #[test]
        fn entropy_is_within_bounds(seed: u64, len in 0usize..4096) {
            let page = xorshift_page(seed);
            let e = shannon_bits(&histogram(&page[..len]));
            prop_assert!((0.0..=8.0).contains(&e));
        }
    }
}
