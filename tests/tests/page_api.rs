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
