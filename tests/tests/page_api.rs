//! The page API seen by a std user through `trueno-zram` alone.

use trueno_zram::{
    CompressedPage, CompressorBuilder, Encoding, PAGE_SIZE, PageCompressor, SimdBackend,
};

#[test]
fn corpus_pages_round_trip_through_the_wire_form_on_every_backend() {
    let mut pages = trueno_zram_tests::corpus_pages("corpus/memdump.bin", "memdump round trip");
    pages.truncate(2048);
    pages.extend(trueno_zram_tests::local_pages(256));
    assert!(!pages.is_empty());
    for backend in SimdBackend::available() {
        let mut c = CompressorBuilder::new()
            .prefer_backend(backend)
            .build()
            .unwrap();
        let mut wire = vec![0u8; PAGE_SIZE + 1];
        for page in &pages {
            let packed = c.compress(page).unwrap();
            assert!(packed.payload().len() <= PAGE_SIZE);
            let n = packed.to_bytes(&mut wire).unwrap();
            let back = CompressedPage::from_bytes(&wire[..n]).unwrap();
            assert_eq!(&c.decompress(&back).unwrap(), page);
            if packed.encoding() == Encoding::SameFill {
                assert!(page.chunks_exact(8).all(|w| w == &page[..8]));
            }
        }
    }
}

#[test]
fn every_algorithm_round_trips_and_gives_the_same_bytes_on_every_backend() {
    use trueno_zram::Algorithm;
    let mut pages = trueno_zram_tests::corpus_pages("corpus/memdump.bin", "algorithm round trips");
    // Every 16th page keeps the debug-build run short while covering all four source programs.
    pages = pages.into_iter().step_by(16).collect();
    pages.extend(trueno_zram_tests::local_pages(128));
    let mut random = [0u8; PAGE_SIZE];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in random.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 32) as u8;
    }
    pages.push(random);
    for algorithm in [
        Algorithm::Lz4,
        Algorithm::Zstd { level: -1 },
        Algorithm::Zstd { level: 1 },
        Algorithm::Zstd { level: 3 },
        Algorithm::Adaptive,
    ] {
        let mut oracle = CompressorBuilder::new()
            .algorithm(algorithm)
            .prefer_backend(SimdBackend::Scalar)
            .build()
            .unwrap();
        let mut others: Vec<_> = SimdBackend::available()
            .map(|b| {
                CompressorBuilder::new()
                    .algorithm(algorithm)
                    .prefer_backend(b)
                    .build()
                    .unwrap()
            })
            .collect();
        let mut seen = [false; 4];
        for page in &pages {
            let packed = oracle.compress(page).unwrap();
            seen[usize::from(packed.encoding().tag())] = true;
            assert_eq!(&oracle.decompress(&packed).unwrap(), page, "{algorithm:?}");
            for c in &mut others {
                assert_eq!(
                    c.compress(page).unwrap(),
                    packed,
                    "{algorithm:?} on {}",
                    c.backend()
                );
            }
        }
        assert!(
            seen[usize::from(Encoding::Stored.tag())],
            "{algorithm:?}: the random page is stored"
        );
    }
}

/// Adaptive gives each page exactly what Zstandard at the level its policy chose gives it, and on
/// real memory pages chooses both levels.
#[test]
fn adaptive_pages_are_the_chosen_levels_frames() {
    use trueno_zram::Algorithm;
    use trueno_zram_core::adaptive::{AdaptivePolicy, Choice};
    let mut pages = trueno_zram_tests::corpus_pages("corpus/memdump.bin", "adaptive levels");
    pages = pages.into_iter().step_by(8).collect();
    pages.extend(trueno_zram_tests::local_pages(128));
    let policy = AdaptivePolicy::DEFAULT;
    let build = |algorithm| {
        CompressorBuilder::new()
            .algorithm(algorithm)
            .build()
            .unwrap()
    };
    let mut adaptive = build(Algorithm::Adaptive);
    let mut sparse = build(Algorithm::Zstd {
        level: policy.sparse_level,
    });
    let mut dense = build(Algorithm::Zstd {
        level: policy.dense_level,
    });
    let mut levels_seen = [0usize; 2];
    for page in &pages {
        let packed = adaptive.compress(page).unwrap();
        if packed.encoding() == Encoding::SameFill {
            continue;
        }
        match policy.choose_page(adaptive.backend(), page) {
            Choice::Stored => assert_eq!(packed, CompressedPage::stored(page)),
            Choice::Zstd { level } => {
                let reference = if level == policy.sparse_level {
                    levels_seen[0] += 1;
                    &mut sparse
                } else {
                    levels_seen[1] += 1;
                    &mut dense
                };
                assert_eq!(packed, reference.compress(page).unwrap(), "level {level}");
            }
        }
    }
    if pages.len() > 1000 {
        assert!(levels_seen.iter().all(|&n| n > 100), "{levels_seen:?}");
    }
}
