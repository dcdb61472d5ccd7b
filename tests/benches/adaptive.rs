//! Adaptive selection against the single codecs, single thread, each page on its own, in one run:
//! liblz4 (`LZ4_compress_default`), our LZ4, our Zstandard at levels 1 and -1, and
//! `Algorithm::Adaptive` with the default policy and with other policies (the trade-off curve
//! between Zstandard's fast and strong levels). Prints each one's compression MB/s, ratio and throughput relative to liblz4,
//! where Adaptive's (throughput, ratio) point lies against the straight line between our LZ4 and our
//! Zstandard points (what choosing pages at random would give), and, on pages of random bytes, how
//! much faster Adaptive is than running LZ4 and storing the result.
//!
//! `cargo xtask bench adaptive [--corpus FILE] [--rounds N]`

mod harness;

use std::ffi::{c_char, c_int};
use std::hint::black_box;

use harness::{Contender, Report};
use trueno_zram::{
    Algorithm, CompressorBuilder, Encoding, PAGE_SIZE, Page, PageCompressor, StandardCompressor,
};
use trueno_zram_core::adaptive::AdaptivePolicy;
use trueno_zram_core::lz4;

const BOUND: usize = lz4::compress_bound(PAGE_SIZE);

fn liblz4_compress(page: &Page, dst: &mut [u8; BOUND]) -> usize {
    // SAFETY: src and dst are valid for the sizes given.
    let n = unsafe {
        lz4_sys::LZ4_compress_default(
            page.as_ptr().cast::<c_char>(),
            dst.as_mut_ptr().cast::<c_char>(),
            PAGE_SIZE as c_int,
            BOUND as c_int,
        )
    };
    usize::try_from(n).unwrap_or(PAGE_SIZE)
}

fn compressor(algorithm: Algorithm) -> StandardCompressor {
    adaptive_with(algorithm, AdaptivePolicy::DEFAULT)
}

fn adaptive_with(algorithm: Algorithm, policy: AdaptivePolicy) -> StandardCompressor {
    CompressorBuilder::new()
        .algorithm(algorithm)
        .adaptive_policy(policy)
        .build()
        .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"))
}

/// Other policies measured beside the default one: lower and higher zero-byte thresholds (more
/// pages at the fast level, or at the strong one), and a faster level for sparse pages.
fn other_policies(default: AdaptivePolicy) -> [(String, AdaptivePolicy); 4] {
    let zeros = |n: u32| {
        (
            format!("sparse from {n} zeros"),
            AdaptivePolicy {
                sparse_min_zero_bytes: n,
                ..default
            },
        )
    };
    [
        zeros(256),
        zeros(1792),
        zeros(2560),
        (
            "sparse level -3".to_string(),
            AdaptivePolicy {
                sparse_level: -3,
                ..default
            },
        ),
    ]
}

/// Bytes that a page API compressor stores for all pages (payload lengths).
fn stored_bytes(c: &mut StandardCompressor, pages: &[Page]) -> usize {
    pages
        .iter()
        .map(|p| c.compress(p).map_or(PAGE_SIZE, |cp| cp.payload().len()))
        .sum()
}

fn main() {
    let args = harness::args();
    let policy = AdaptivePolicy::DEFAULT;
    let zstd_level = 1;
    let mut report = Report::new("adaptive", &["comp MB/s", "ratio", "x liblz4"]);
    for corpus in harness::corpora(&args) {
        let pages = &corpus.pages;
        let algorithms = [
            ("trueno lz4".to_string(), Algorithm::Lz4),
            (
                format!("trueno zstd {zstd_level}"),
                Algorithm::Zstd { level: zstd_level },
            ),
            ("trueno zstd -1".to_string(), Algorithm::Zstd { level: -1 }),
            ("trueno adaptive".to_string(), Algorithm::Adaptive),
        ];
        let mut compressors: Vec<StandardCompressor> =
            algorithms.iter().map(|(_, a)| compressor(*a)).collect();
        let mut algorithms = algorithms.to_vec();
        for (name, other) in other_policies(policy) {
            algorithms.push((format!("trueno adaptive, {name}"), Algorithm::Adaptive));
            compressors.push(adaptive_with(Algorithm::Adaptive, other));
        }
        let ratios: Vec<f64> = compressors
            .iter_mut()
            .map(|c| corpus.bytes() as f64 / stored_bytes(c, pages) as f64)
            .collect();
        let mut block = [0u8; BOUND];
        let lib_ratio = corpus.bytes() as f64
            / pages
                .iter()
                .map(|p| liblz4_compress(p, &mut block))
                .sum::<usize>() as f64;

        let mut contenders = vec![Contender::new("liblz4", || {
            let mut dst = [0u8; BOUND];
            for p in pages {
                black_box(liblz4_compress(black_box(p), &mut dst));
            }
        })];
        for c in compressors.iter_mut() {
            contenders.push(Contender::new("", move || {
                for p in pages {
                    black_box(
                        c.compress(black_box(p))
                            .map(|cp| cp.payload().len())
                            .unwrap_or(0),
                    );
                }
            }));
        }
        let speeds = harness::measure(corpus.bytes(), args.rounds, &mut contenders);
        drop(contenders);

        let label = |name: &str| format!("{} / {name}", corpus.name);
        report.row(label("liblz4 default"), vec![speeds[0], lib_ratio, 1.0]);
        for ((name, _), (speed, ratio)) in algorithms.iter().zip(speeds[1..].iter().zip(&ratios)) {
            report.row(label(name), vec![*speed, *ratio, speed / speeds[0]]);
        }
        // The straight line between our LZ4 point and our Zstandard point, at each Adaptive
        // policy's throughput.
        let (lz_t, lz_r) = (speeds[1], ratios[0]);
        let (z_t, z_r) = (speeds[2], ratios[1]);
        for (i, (name, _)) in algorithms.iter().enumerate().skip(3) {
            let (ad_t, ad_r) = (speeds[i + 1], ratios[i]);
            let line = if (lz_t - z_t).abs() > f64::EPSILON {
                lz_r + (z_r - lz_r) * (lz_t - ad_t) / (lz_t - z_t)
            } else {
                lz_r.max(z_r)
            };
            report.note(format!(
                "{}: {name}: ratio {ad_r:.3} at {:.2}x liblz4; the LZ4-Zstd {zstd_level} line gives {line:.3} at that throughput ({})",
                corpus.name,
                ad_t / speeds[0],
                if ad_r > line { "above the line" } else { "NOT above the line" }
            ));
        }
        let mut counts = [0usize; 4];
        let mut adaptive = compressor(Algorithm::Adaptive);
        for p in pages {
            let encoding = adaptive
                .compress(p)
                .map_or(Encoding::Stored, |c| c.encoding());
            counts[usize::from(encoding.tag())] += 1;
        }
        report.note(format!(
            "{}: adaptive (default policy) pages: same-fill {}, stored {}, lz4 {}, zstd {} of {}",
            corpus.name,
            counts[usize::from(Encoding::SameFill.tag())],
            counts[usize::from(Encoding::Stored.tag())],
            counts[usize::from(Encoding::Lz4.tag())],
            counts[usize::from(Encoding::Zstd.tag())],
            pages.len()
        ));
    }
    random_pages(&args, &mut report);
    report.finish(&args);
}

/// Pages of random bytes: Adaptive stores them without running a codec; LZ4 runs and fails to pay.
/// Measured twice: on 64 pages that stay in the L2 cache (what the decision itself costs), and on
/// 2048 pages (8 MiB) that come from L3 or memory, where copying each page into its result costs
/// about as much as the whole decision and bounds the speed-up.
fn random_pages(args: &harness::Args, report: &mut Report) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let pages: Vec<Page> = (0..2048)
        .map(|_| {
            let mut p = [0u8; PAGE_SIZE];
            for chunk in p.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            p
        })
        .collect();
    let mut lz = compressor(Algorithm::Lz4);
    let mut adaptive = compressor(Algorithm::Adaptive);
    assert!(
        pages
            .iter()
            .all(|p| adaptive.compress(p).map(|c| c.encoding()) == Ok(Encoding::Stored))
    );
    for (label, set) in [
        ("random in cache", &pages[..64]),
        ("random 8 MiB", &pages[..]),
    ] {
        // The same number of pages per round for both sets: the small one is passed over again.
        let passes = pages.len() / set.len();
        let mut contenders = vec![
            Contender::new("lz4 then store", || {
                for _ in 0..passes {
                    for p in set {
                        black_box(lz.compress(black_box(p)).map(|c| c.encoding()).ok());
                    }
                }
            }),
            Contender::new("adaptive", || {
                for _ in 0..passes {
                    for p in set {
                        black_box(adaptive.compress(black_box(p)).map(|c| c.encoding()).ok());
                    }
                }
            }),
        ];
        let speeds = harness::measure(pages.len() * PAGE_SIZE, args.rounds, &mut contenders);
        drop(contenders);
        report.row(
            format!("{label} / trueno lz4 + store"),
            vec![speeds[0], 1.0, f64::NAN],
        );
        report.row(
            format!("{label} / trueno adaptive"),
            vec![speeds[1], 1.0, f64::NAN],
        );
        report.note(format!(
            "{label}: {} pages of xorshift bytes, all stored either way; adaptive is {:.1}x faster than lz4 + store",
            set.len(),
            speeds[1] / speeds[0]
        ));
    }
}
