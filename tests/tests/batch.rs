//! `RayonBatch` gives, page for page, exactly what the single-page API gives, for every algorithm and
//! thread count, and decompresses its own output back to the input.

use trueno_zram::{
    Algorithm, BatchCompressor, CompressorBuilder, PAGE_SIZE, Page, PageCompressor, RayonBatch,
};

/// The algorithms this build has.
fn algorithms() -> Vec<Algorithm> {
    vec![
        Algorithm::Lz4,
        Algorithm::Zstd { level: 1 },
        Algorithm::Zstd { level: 3 },
        Algorithm::Adaptive,
        Algorithm::SameFillOnly,
    ]
}

fn pages() -> Vec<Page> {
    let mut pages: Vec<Page> =
        trueno_zram_tests::corpus_pages("corpus/memdump.bin", "memdump pages")
            .into_iter()
            .take(3000)
            .collect();
    pages.extend(trueno_zram_tests::local_pages(500));
    pages.push([0u8; PAGE_SIZE]);
    pages
}

#[test]
fn batches_equal_the_single_page_api() {
    let pages = pages();
    for algorithm in algorithms() {
        let builder = CompressorBuilder::new().algorithm(algorithm);
        let mut single = builder.build().unwrap();
        let expected: Vec<_> = pages.iter().map(|p| single.compress(p).unwrap()).collect();
        for threads in [1, 2, 3] {
            let batch = RayonBatch::new(builder, threads).unwrap();
            assert_eq!(batch.threads(), threads);
            let packed = batch.compress_to_vec(&pages).unwrap();
            assert!(
                packed == expected,
                "{algorithm:?} on {threads} threads differs from single pages"
            );
            let back = batch.decompress_to_vec(&packed).unwrap();
            assert!(
                back == pages,
                "{algorithm:?} on {threads} threads did not round-trip"
            );
        }
    }
}

#[test]
fn empty_and_short_batches() {
    let batch = RayonBatch::new(CompressorBuilder::new(), 2).unwrap();
    assert!(batch.compress_to_vec(&[]).unwrap().is_empty());
    let one = [7u8; PAGE_SIZE];
    let packed = batch.compress_to_vec(&[one]).unwrap();
    assert_eq!(batch.decompress_to_vec(&packed).unwrap(), vec![one]);
}
