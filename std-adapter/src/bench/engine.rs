//! Runs codecs over pages the way zram does (each page on its own, one thread) and measures
//! compress and decompress throughput and the compression ratio, checking every round trip.

use std::time::Instant;

use serde::Serialize;

use crate::{
    Algorithm, CompressedPage, CompressorBuilder, Encoding, Error, PAGE_SIZE, Page, PageCompressor,
};

/// A codec to measure: a display name and the builder that makes it.
#[derive(Debug, Clone)]
pub struct CodecSpec {
    /// Name in tables and charts, e.g. `lz4` or `zstd-3`.
    pub name: String,
    /// How to build it.
    pub builder: CompressorBuilder,
}

impl CodecSpec {
    /// A codec named `name` with `algorithm` on the best backend.
    pub fn new(name: impl Into<String>, algorithm: Algorithm) -> Self {
        Self {
            name: name.into(),
            builder: CompressorBuilder::new().algorithm(algorithm),
        }
    }
}

/// The codecs this build offers: `lz4`, Zstandard at levels -1, 1 and 3, `adaptive` (per page, by
/// the entropy estimate), and `samefill` (same-fill detection, every other page stored raw).
pub fn available_codecs() -> Vec<CodecSpec> {
    vec![
        CodecSpec::new("lz4", Algorithm::Lz4),
        CodecSpec::new("zstd:-1", Algorithm::Zstd { level: -1 }),
        CodecSpec::new("zstd:1", Algorithm::Zstd { level: 1 }),
        CodecSpec::new("zstd:3", Algorithm::Zstd { level: 3 }),
        CodecSpec::new("adaptive", Algorithm::Adaptive),
        CodecSpec::new("samefill", Algorithm::SameFillOnly),
    ]
}

/// The codec named `name`: one of [`available_codecs`], or `zstd:LEVEL` for any level the
/// Zstandard encoder accepts (checked when it is built).
pub fn codec_named(name: &str) -> Option<CodecSpec> {
    if let Some(level) = name.strip_prefix("zstd:") {
        let level: i8 = level.parse().ok()?;
        return Some(CodecSpec::new(name, Algorithm::Zstd { level }));
    }
    available_codecs().into_iter().find(|c| c.name == name)
}

/// What went wrong while benchmarking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// There were no pages to measure.
    #[error("the corpus has no pages (it is empty)")]
    NoPages,
    /// A codec failed on a page.
    #[error("{codec} failed on page {page}: {source}")]
    Codec {
        /// The codec.
        codec: String,
        /// The page index.
        page: usize,
        /// Its error.
        #[source]
        source: Error,
    },
    /// A page did not come back as it went in.
    #[error("{codec} did not round-trip page {page}: the decompressed bytes differ")]
    Mismatch {
        /// The codec.
        codec: String,
        /// The page index.
        page: usize,
    },
}

/// The measured figures of one codec on one corpus.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CodecResult {
    /// Codec name.
    pub codec: String,
    /// Pages measured.
    pub pages: usize,
    /// Uncompressed bytes.
    pub input_bytes: u64,
    /// Bytes stored: the sum of every page's payload.
    pub stored_bytes: u64,
    /// `input_bytes / stored_bytes`.
    pub ratio: f64,
    /// Bytes of codec and raw payloads, same-fill pages excluded: zram's `compr_data_size`.
    pub compr_data_size: u64,
    /// Compress throughput, MB/s (10^6 bytes of uncompressed data per second), median round.
    pub compress_mb_s: f64,
    /// Decompress throughput, MB/s, median round.
    pub decompress_mb_s: f64,
    /// Pages stored as a repeated word.
    pub same_fill_pages: usize,
    /// Pages stored raw (incompressible).
    pub stored_pages: usize,
}

/// A benchmark run: what was measured on what.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BenchReport {
    /// The corpus name (file name, or `synthetic`).
    pub corpus: String,
    /// Pages in it.
    pub pages: usize,
    /// Timed rounds per codec.
    pub rounds: usize,
    /// The SIMD backend the codecs ran on.
    pub backend: String,
    /// One entry per codec.
    pub results: Vec<CodecResult>,
}

impl BenchReport {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of numbers and strings cannot fail; NaN and infinity become null.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Measures `codecs` on `pages`: `rounds` timed rounds each (median reported) after checking every
/// round trip. `progress` receives the number of pages processed since its last call.
pub fn run(
    corpus: &str,
    pages: &[Page],
    codecs: &[CodecSpec],
    rounds: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<BenchReport, BenchError> {
    if pages.is_empty() {
        return Err(BenchError::NoPages);
    }
    let rounds = rounds.max(1);
    let mut results = Vec::with_capacity(codecs.len());
    let mut backend = String::new();
    for spec in codecs {
        let mut codec = spec.builder.build().map_err(|source| BenchError::Codec {
            codec: spec.name.clone(),
            page: 0,
            source,
        })?;
        backend = codec.backend().name().to_owned();
        results.push(measure(&spec.name, &mut codec, pages, rounds, progress)?);
    }
    Ok(BenchReport {
        corpus: corpus.to_owned(),
        pages: pages.len(),
        rounds,
        backend,
        results,
    })
}

/// Units of progress a run reports in all: compress and decompress of every page, for every round
/// plus the checking round, for every codec.
pub fn progress_total(pages: usize, codecs: usize, rounds: usize) -> u64 {
    (pages as u64) * 2 * (rounds.max(1) as u64 + 1) * codecs as u64
}

fn measure(
    name: &str,
    codec: &mut impl PageCompressor,
    pages: &[Page],
    rounds: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<CodecResult, BenchError> {
    let codec_error = |page: usize, source: Error| BenchError::Codec {
        codec: name.to_owned(),
        page,
        source,
    };
    let mut packed = vec![CompressedPage::same_fill(0); pages.len()];
    let mut back = [0u8; PAGE_SIZE];
    // Checking round: every page must come back identical.
    for (i, (page, slot)) in pages.iter().zip(packed.iter_mut()).enumerate() {
        *slot = codec.compress(page).map_err(|e| codec_error(i, e))?;
        codec
            .decompress_into(slot, &mut back)
            .map_err(|e| codec_error(i, e))?;
        if back != *page {
            return Err(BenchError::Mismatch {
                codec: name.to_owned(),
                page: i,
            });
        }
    }
    progress(2 * pages.len() as u64);
    let mut compress_s = Vec::with_capacity(rounds);
    let mut decompress_s = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for (i, (page, slot)) in pages.iter().zip(packed.iter_mut()).enumerate() {
            *slot = codec
                .compress(std::hint::black_box(page))
                .map_err(|e| codec_error(i, e))?;
        }
        compress_s.push(start.elapsed().as_secs_f64());
        progress(pages.len() as u64);
        let start = Instant::now();
        for (i, p) in packed.iter().enumerate() {
            codec
                .decompress_into(std::hint::black_box(p), &mut back)
                .map_err(|e| codec_error(i, e))?;
        }
        decompress_s.push(start.elapsed().as_secs_f64());
        progress(pages.len() as u64);
    }
    let input_bytes = (pages.len() * PAGE_SIZE) as u64;
    let stored_bytes: u64 = packed.iter().map(|p| p.payload().len() as u64).sum();
    let count = |e: Encoding| packed.iter().filter(|p| p.encoding() == e).count();
    let compr_data_size: u64 = packed
        .iter()
        .filter(|p| p.encoding() != Encoding::SameFill)
        .map(|p| p.payload().len() as u64)
        .sum();
    Ok(CodecResult {
        codec: name.to_owned(),
        pages: pages.len(),
        input_bytes,
        stored_bytes,
        ratio: input_bytes as f64 / stored_bytes.max(1) as f64,
        compr_data_size,
        compress_mb_s: mb_per_s(input_bytes, median(compress_s)),
        decompress_mb_s: mb_per_s(input_bytes, median(decompress_s)),
        same_fill_pages: count(Encoding::SameFill),
        stored_pages: count(Encoding::Stored),
    })
}

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds / 1e6
    } else {
        f64::INFINITY
    }
}

/// The median of some samples (NaN for none).
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::synthetic_mix;

    #[test]
    fn figures_follow_the_pages() {
        let pages = synthetic_mix(300, 3);
        let mut seen = 0;
        let codecs = available_codecs();
        let report = run("synthetic", &pages, &codecs, 2, &mut |n| seen += n).unwrap();
        assert_eq!(seen, progress_total(300, codecs.len(), 2));
        assert_eq!(report.results.len(), codecs.len());
        for r in &report.results {
            assert_eq!(r.input_bytes, 300 * 4096);
            assert!(r.stored_bytes > 0 && r.stored_bytes <= r.input_bytes);
            assert!((r.ratio - r.input_bytes as f64 / r.stored_bytes as f64).abs() < 1e-9);
            assert!(r.compress_mb_s > 0.0 && r.decompress_mb_s > 0.0);
            let same = pages
                .iter()
                .filter(|p| crate::samefill::detect(p).is_some())
                .count();
            assert_eq!(r.same_fill_pages, same);
            assert_eq!(r.compr_data_size + 8 * same as u64, r.stored_bytes);
        }
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["corpus"], "synthetic");
        assert_eq!(json["results"][0]["pages"], 300);
        assert_eq!(
            json["results"][0]["ratio"].as_f64().unwrap(),
            report.results[0].ratio
        );
        assert!(matches!(
            run("x", &[], &codecs, 1, &mut |_| {}),
            Err(BenchError::NoPages)
        ));
    }

    #[test]
    fn codecs_by_name() {
        assert_eq!(codec_named("lz4").unwrap().name, "lz4");
        assert_eq!(codec_named("zstd:7").unwrap().name, "zstd:7");
        assert!(codec_named("zstd:x").is_none());
        assert!(codec_named("zstd:300").is_none());
        assert!(codec_named("lz5").is_none());
    }

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }
}
