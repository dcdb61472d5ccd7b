//! LZ4 blocks re-encoded as Zstandard frames (`zstd::compress::Lz4Recoder`, what
//! `Algorithm::Adaptive` does with large LZ4 blocks) against the C references: every frame decodes
//! with libzstd (the `zstd` crate's bundled library) to what liblz4 decodes the block to, for blocks
//! of our LZ4 and of liblz4, for corpus pages and generated inputs; malformed blocks are errors,
//! never panics. Without the shared corpus, pages of local files stand in.

use proptest::prelude::*;
use trueno_zram::zstd::compress::Lz4Recoder;
use trueno_zram::{
    Algorithm, CompressorBuilder, Encoding, PAGE_SIZE, Page, PageCompressor, SimdBackend,
};
use trueno_zram_core::adaptive::AdaptivePolicy;
use trueno_zram_core::lz4;

fn c_len(n: usize) -> std::ffi::c_int {
    std::ffi::c_int::try_from(n).expect("length fits in c_int")
}

/// liblz4's `LZ4_compress_default`.
fn liblz4_compress(src: &[u8]) -> Vec<u8> {
    let mut dst = vec![0u8; lz4::compress_bound(src.len())];
    // SAFETY: src and dst are valid for the lengths passed.
    let n = unsafe {
        lz4_sys::LZ4_compress_default(
            src.as_ptr().cast(),
            dst.as_mut_ptr().cast(),
            c_len(src.len()),
            c_len(dst.len()),
        )
    };
    dst.truncate(usize::try_from(n).expect("liblz4 compresses"));
    dst
}

fn ours_compress(src: &[u8]) -> Vec<u8> {
    let mut dst = vec![0u8; lz4::compress_bound(src.len())];
    let n = lz4::compress_into(src, &mut dst).expect("our LZ4 compresses");
    dst.truncate(n);
    dst
}

/// Recodes `block` with room for any frame; `None` when the entropy stage does not shrink it.
fn recode(recoder: &mut Lz4Recoder, block: &[u8]) -> Option<Vec<u8>> {
    let mut frame = vec![0u8; 2 * PAGE_SIZE];
    match recoder.recode_into(block, &mut frame) {
        Ok(n) => {
            frame.truncate(n);
            Some(frame)
        }
        Err(trueno_zram::Error::OutputTooSmall { .. }) => None,
        Err(e) => panic!("a valid block is refused: {e}"),
    }
}

/// libzstd and our decoder both decode `frame` to exactly `expected`, and the frame states its size.
fn assert_decodes(frame: &[u8], expected: &[u8], what: &str) {
    let decoded = zstd::bulk::decompress(frame, expected.len().max(1))
        .unwrap_or_else(|e| panic!("{what}: libzstd rejects the recoded frame: {e}"));
    assert!(
        decoded == expected,
        "{what}: libzstd decodes to other bytes"
    );
    let mut out = vec![0u8; expected.len()];
    let n = trueno_zram::zstd::decompress_into(frame, &mut out)
        .unwrap_or_else(|e| panic!("{what}: our decoder rejects the recoded frame: {e}"));
    assert!(
        n == expected.len() && out == expected,
        "{what}: our decoder differs"
    );
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(frame).ok(),
        Some(Some(expected.len() as u64)),
        "{what}: the frame must state its content size"
    );
}

/// Both corpora, or local pages when they are absent.
fn pages() -> Vec<Page> {
    let mut pages = trueno_zram_tests::corpus_pages("corpus/memdump.bin", "recode interop");
    pages.extend(trueno_zram_tests::corpus_pages(
        "corpus/files.bin",
        "recode interop",
    ));
    if pages.is_empty() {
        pages = trueno_zram_tests::local_pages(2048);
    }
    pages
}

#[test]
fn recoded_corpus_pages_decode_with_libzstd() {
    let pages = pages();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = pages.len().div_ceil(threads).max(1);
    let recoded: usize = std::thread::scope(|s| {
        let workers: Vec<_> = pages
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut recoder = Lz4Recoder::new();
                    let mut recoded = 0;
                    for (i, page) in part.iter().enumerate() {
                        for (who, block) in [
                            ("ours", ours_compress(page)),
                            ("liblz4", liblz4_compress(page)),
                        ] {
                            if let Some(frame) = recode(&mut recoder, &block) {
                                assert_decodes(&frame, page, &format!("page {i}, {who} block"));
                                recoded += 1;
                            }
                        }
                    }
                    recoded
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    // Most pages of memory and files shrink under the entropy stage.
    assert!(
        recoded > pages.len(),
        "{recoded} of {} blocks",
        2 * pages.len()
    );
}

#[test]
fn adaptive_zstd_pages_decode_with_libzstd() {
    let pages = pages();
    // The default policy (Huffman-coded literals), and raw literals from smaller blocks.
    let raw = AdaptivePolicy {
        recode_min_lz4_len: 800,
        huffman_min_literals: u32::MAX,
        ..AdaptivePolicy::DEFAULT
    };
    for policy in [AdaptivePolicy::DEFAULT, raw] {
        adaptive_pages_decode(&pages, policy);
    }
}

fn adaptive_pages_decode(pages: &[Page], policy: AdaptivePolicy) {
    let mut adaptive = CompressorBuilder::new()
        .algorithm(Algorithm::Adaptive)
        .adaptive_policy(policy)
        .build()
        .unwrap();
    let mut zstd_pages = 0;
    for (i, page) in pages.iter().enumerate() {
        let packed = adaptive.compress(page).unwrap();
        if packed.encoding() == Encoding::Zstd {
            zstd_pages += 1;
            assert_decodes(packed.payload(), page, &format!("{policy:?}: page {i}"));
            // The frame is only kept when it beats the LZ4 block.
            assert!(
                packed.payload().len() < ours_compress(page).len(),
                "page {i}"
            );
        }
        assert_eq!(&adaptive.decompress(&packed).unwrap(), page, "page {i}");
    }
    assert!(zstd_pages > 0, "no page of {} was recoded", pages.len());
}

/// Inputs with structure for LZ4 to find: runs, repeats at many distances, and noise.
fn structured(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let r = next();
        let n = ((r % 40) as usize + 1).min(len - out.len());
        match (r >> 8) % 4 {
            0 if out.len() > 64 => {
                let dist = ((r >> 16) as usize % out.len().min(3000)) + 1;
                for _ in 0..n {
                    out.push(out[out.len() - dist]);
                }
            }
            1 => out.extend(std::iter::repeat_n((r >> 20) as u8 % 4, n)),
            2 => out.extend((0..n).map(|j| b"recoded text "[(j + (r >> 24) as usize) % 13])),
            _ => out.extend((0..n).map(|_| next() as u8)),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn recoded_blocks_of_any_length_decode(seed: u64, len in 0usize..=PAGE_SIZE) {
        let src = structured(seed, len);
        let mut recoder = Lz4Recoder::new();
        for block in [ours_compress(&src), liblz4_compress(&src)] {
            if let Some(frame) = recode(&mut recoder, &block) {
                assert_decodes(&frame, &src, &format!("seed {seed} len {len}"));
            }
        }
    }

    /// Any bytes: a block that our LZ4 decoder (checked against liblz4 in `lz4_interop`) decodes to
    /// at most a page recodes to a frame of that content, or is not worth recoding; every other
    /// block is an error. Never a panic.
    #[test]
    fn arbitrary_blocks_recode_to_their_content_or_fail(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        seed: u64,
    ) {
        // Half the cases start from a real block with some bytes changed.
        let block = if seed % 2 == 0 {
            bytes
        } else {
            let mut b = ours_compress(&structured(seed, 200 + (seed >> 8) as usize % 3000));
            for (k, &x) in bytes.iter().enumerate().take(4) {
                let at = (seed >> (8 * k)) as usize % b.len().max(1);
                if let Some(slot) = b.get_mut(at) {
                    *slot ^= x;
                }
            }
            b
        };
        let mut content = vec![0u8; PAGE_SIZE];
        let decoded = lz4::decompress_into(&block, &mut content);
        let mut frame = vec![0u8; 2 * PAGE_SIZE];
        let recoded = Lz4Recoder::new().recode_into(&block, &mut frame);
        match (decoded, recoded) {
            (Ok(len), Ok(n)) => assert_decodes(&frame[..n], &content[..len], "valid block"),
            (Ok(_), Err(trueno_zram::Error::OutputTooSmall { .. })) => {}
            (Ok(_), Err(e)) => prop_assert!(false, "a block that decodes is refused: {e}"),
            (Err(e), Ok(_)) => prop_assert!(false, "a block that does not decode ({e}) is recoded"),
            (Err(_), Err(_)) => {}
        }
    }
}

#[test]
fn every_backend_recodes_to_the_same_frames() {
    let pages = pages();
    let mut scalar = Lz4Recoder::new().with_backend(SimdBackend::Scalar);
    let mut others: Vec<_> = SimdBackend::available()
        .map(|b| Lz4Recoder::new().with_backend(b))
        .collect();
    for page in pages.iter().step_by(7) {
        let block = ours_compress(page);
        let reference = recode(&mut scalar, &block);
        for r in &mut others {
            assert_eq!(recode(r, &block), reference);
        }
    }
}
