//! Interoperability of our LZ4 blocks with liblz4 (the C reference, through `lz4-sys`):
//! every corpus page and every shared vector in both directions, liblz4 at levels 1, 9 and 12,
//! byte-exact, plus random and structured inputs up to 64 KiB. Without the shared corpus, pages of
//! local files stand in.

use std::ffi::{c_char, c_int, c_void};

use proptest::prelude::*;
use trueno_zram::{PAGE_SIZE, Page, SimdBackend};
use trueno_zram_core::lz4;

unsafe extern "C" {
    fn LZ4_sizeofState() -> c_int;
    fn LZ4_compress_fast_extState(
        state: *mut c_void,
        src: *const c_char,
        dst: *mut c_char,
        src_size: c_int,
        dst_capacity: c_int,
        acceleration: c_int,
    ) -> c_int;
}

fn c_len(n: usize) -> c_int {
    c_int::try_from(n).expect("length fits in c_int")
}

/// liblz4 at `level`: 1 is the fast mode (`LZ4_compress_fast_extState`, acceleration 1), 2 and up
/// are LZ4HC (`LZ4_compress_HC`).
fn liblz4_compress(src: &[u8], level: i32) -> Vec<u8> {
    let mut dst = vec![0u8; lz4::compress_bound(src.len())];
    // SAFETY: src and dst are valid for the lengths passed; the state has LZ4_sizeofState bytes.
    let n = unsafe {
        if level <= 1 {
            let mut state = vec![0u64; (LZ4_sizeofState() as usize).div_ceil(8)];
            LZ4_compress_fast_extState(
                state.as_mut_ptr().cast(),
                src.as_ptr().cast(),
                dst.as_mut_ptr().cast(),
                c_len(src.len()),
                c_len(dst.len()),
                1,
            )
        } else {
            lz4_sys::LZ4_compress_HC(
                src.as_ptr().cast(),
                dst.as_mut_ptr().cast(),
                c_len(src.len()),
                c_len(dst.len()),
                level,
            )
        }
    };
    assert!(n > 0 || src.is_empty(), "liblz4 level {level} failed");
    dst.truncate(usize::try_from(n).expect("non-negative"));
    dst
}

/// `LZ4_decompress_safe` into exactly `len` bytes.
fn liblz4_decompress(block: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    // SAFETY: block and out are valid for the lengths passed; liblz4 checks the block.
    let n = unsafe {
        lz4_sys::LZ4_decompress_safe(
            block.as_ptr().cast(),
            out.as_mut_ptr().cast(),
            c_len(block.len()),
            c_len(len),
        )
    };
    (usize::try_from(n).ok() == Some(len)).then_some(out)
}

fn ours_compress(c: &mut lz4::Compressor, src: &[u8]) -> Vec<u8> {
    let mut dst = vec![0u8; lz4::compress_bound(src.len())];
    let n = c.compress_into(src, &mut dst).expect("our compressor");
    dst.truncate(n);
    dst
}

fn ours_decompress(backend: SimdBackend, block: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let n = lz4::decompress_into_with(backend, block, &mut out).expect("our decompressor");
    assert_eq!(n, len);
    out
}

/// Both corpora, or local pages when they are absent.
fn pages() -> Vec<Page> {
    let mut pages = trueno_zram_tests::corpus_pages("corpus/memdump.bin", "lz4 interop on memdump");
    pages.extend(trueno_zram_tests::corpus_pages(
        "corpus/files.bin",
        "lz4 interop on files",
    ));
    if pages.is_empty() {
        pages = trueno_zram_tests::local_pages(2048);
    }
    assert!(!pages.is_empty());
    pages
}

#[test]
fn every_page_our_blocks_decode_with_liblz4_and_equal_its_fast_mode() {
    let mut c = lz4::Compressor::new();
    let mut block = [0u8; lz4::compress_bound(PAGE_SIZE)];
    for (i, page) in pages().iter().enumerate() {
        let n = c.compress_page(page, &mut block).expect("compress");
        let back = liblz4_decompress(&block[..n], PAGE_SIZE);
        assert_eq!(back.as_deref(), Some(&page[..]), "page {i}");
        // Our fast mode is liblz4's algorithm on a table that is never cleared: same bytes.
        assert_eq!(&block[..n], &liblz4_compress(page, 1)[..], "page {i}");
    }
}

#[test]
fn every_page_liblz4_blocks_at_levels_1_9_12_decode_with_ours() {
    let backend = SimdBackend::detect();
    let mut out = [0u8; PAGE_SIZE];
    for (i, page) in pages().iter().enumerate() {
        for level in [1, 9, 12] {
            let block = liblz4_compress(page, level);
            lz4::decompress_page(backend, &block, &mut out)
                .unwrap_or_else(|e| panic!("page {i} level {level}: {e}"));
            assert_eq!(&out, page, "page {i} level {level}");
        }
    }
}

#[test]
fn every_backend_decodes_and_encodes_pages_alike() {
    let pages = pages();
    let step = (pages.len() / 512).max(1);
    for page in pages.iter().step_by(step) {
        let reference = ours_compress(
            &mut lz4::Compressor::with_backend(SimdBackend::Scalar),
            page,
        );
        let hc = liblz4_compress(page, 9);
        for backend in SimdBackend::available() {
            let block = ours_compress(&mut lz4::Compressor::with_backend(backend), page);
            assert_eq!(block, reference, "{backend}");
            assert_eq!(
                ours_decompress(backend, &hc, PAGE_SIZE),
                &page[..],
                "{backend}"
            );
        }
    }
}

#[test]
fn shared_vectors_decode_both_ways() {
    let Some(dir) = trueno_zram_tests::shared_file("vectors/pages4k", "lz4 block vectors") else {
        return;
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("vectors dir").flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let Some((stem, _level)) = name.split_once(".lz4blk-l") else {
            continue;
        };
        let original = std::fs::read(dir.join(format!("{stem}.bin"))).expect("original");
        let block = std::fs::read(&path).expect("block");
        for backend in SimdBackend::available() {
            assert_eq!(
                ours_decompress(backend, &block, original.len()),
                original,
                "{name} on {backend}"
            );
        }
        let ours = ours_compress(&mut lz4::Compressor::new(), &original);
        assert_eq!(
            liblz4_decompress(&ours, original.len()).as_deref(),
            Some(&original[..]),
            "{name}: our block"
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} vectors found");
}

/// Runs, repeats at random distances, counters and noise: the shapes that memory pages have.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((0u8..4, 1usize..2000, any::<u32>()), 1..80).prop_map(|pieces| {
        let mut data: Vec<u8> = Vec::new();
        for (kind, n, seed) in pieces {
            let n = n.min(lz4::MAX_INPUT_LEN - data.len());
            for i in 0..n {
                let byte = match kind {
                    0 => seed as u8,
                    1 if !data.is_empty() => {
                        let distance = (seed as usize % data.len().min(65535)) + 1;
                        data[data.len() - distance]
                    }
                    2 => ((i as u32).wrapping_add(seed) >> (8 * (i % 4))) as u8,
                    _ => (seed.wrapping_mul(i as u32 | 1) >> 13) as u8,
                };
                data.push(byte);
            }
        }
        data
    })
}

fn check_both_ways(data: &[u8]) -> Result<(), TestCaseError> {
    let ours = ours_compress(&mut lz4::Compressor::new(), data);
    let back = liblz4_decompress(&ours, data.len());
    prop_assert_eq!(back.as_deref(), Some(data));
    prop_assert_eq!(&ours, &liblz4_compress(data, 1));
    for level in [1, 9] {
        let theirs = liblz4_compress(data, level);
        prop_assert_eq!(
            ours_decompress(SimdBackend::detect(), &theirs, data.len()),
            data
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_inputs_up_to_64k_interoperate(
        data in proptest::collection::vec(any::<u8>(), 0..=lz4::MAX_INPUT_LEN),
    ) {
        check_both_ways(&data)?;
    }

    #[test]
    fn structured_inputs_up_to_64k_interoperate(data in structured()) {
        check_both_ways(&data)?;
    }
}
