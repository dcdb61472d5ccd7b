//! Interop: pages compressed by libzstd (the `zstd` crate's bundled library) at levels -5, -1, 1, 3,
//! 9 and 19, with and without the content checksum, decode byte-exact with our decoder, through the
//! raw API and the page API. Pages come from both shared corpora, or from local files when absent.
//!
//! Debug builds run our decoder unoptimized, so identical pages are tested once, level 9 runs on every
//! 4th distinct page and level 19 (slow to compress) on every 16th; the other levels on all of them.

use std::collections::HashSet;

use trueno_zram::zstd::Decompressor;
use trueno_zram::{CompressedPage, CompressorBuilder, Encoding, PAGE_SIZE, Page, PageCompressor};
use zstd::bulk::Compressor;
use zstd::zstd_safe::CParameter;

fn distinct_pages() -> Vec<Page> {
    let mut pages = trueno_zram_tests::corpus_pages("corpus/memdump.bin", "memdump interop");
    pages.extend(trueno_zram_tests::corpus_pages(
        "corpus/files.bin",
        "files interop",
    ));
    if pages.is_empty() {
        pages = trueno_zram_tests::local_pages(2048);
    }
    let mut seen = HashSet::new();
    pages.retain(|p| seen.insert(*p));
    pages
}

fn check_level(pages: &[Page], level: i32, stride: usize) -> usize {
    let mut d = Decompressor::new();
    let mut page_api = CompressorBuilder::new().build().unwrap();
    let mut frame = vec![0u8; zstd::zstd_safe::compress_bound(PAGE_SIZE)];
    let mut out = [0u8; PAGE_SIZE];
    let mut checked = 0;
    for checksum in [false, true] {
        let mut c = Compressor::new(level).unwrap();
        c.set_parameter(CParameter::ChecksumFlag(checksum)).unwrap();
        for (i, page) in pages.iter().enumerate().step_by(stride) {
            let n = c.compress_to_buffer(page, &mut frame).unwrap();
            let got = d
                .decompress_into(&frame[..n], &mut out)
                .unwrap_or_else(|e| panic!("level {level} checksum {checksum} page {i}: {e}"));
            assert_eq!(got, PAGE_SIZE);
            assert!(
                out == *page,
                "level {level} checksum {checksum} page {i} differs"
            );
            if n < PAGE_SIZE {
                let packed = CompressedPage::from_parts(Encoding::Zstd, &frame[..n]).unwrap();
                assert!(page_api.decompress(&packed).unwrap() == *page);
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn libzstd_fast_levels_decode_byte_exact() {
    let pages = distinct_pages();
    for level in [-5, -1, 1, 3] {
        let n = check_level(&pages, level, 1);
        eprintln!("level {level}: {n} frames decoded byte-exact");
    }
}

#[test]
fn libzstd_level_9_decodes_byte_exact() {
    let pages = distinct_pages();
    let n = check_level(&pages, 9, 4);
    eprintln!("level 9: {n} frames (every 4th distinct page) decoded byte-exact");
}

#[test]
fn libzstd_level_19_decodes_byte_exact() {
    let pages = distinct_pages();
    let n = check_level(&pages, 19, 16);
    eprintln!("level 19: {n} frames (every 16th distinct page) decoded byte-exact");
}

#[test]
fn libzstd_multi_page_frames_and_concatenations_decode() {
    // Larger inputs exercise several blocks, long matches and larger windows; two frames and a
    // skippable frame in one input decode one after the other.
    let pages = distinct_pages();
    let bytes: Vec<u8> = pages
        .iter()
        .take(64)
        .flat_map(|p| p.iter().copied())
        .collect();
    let mut d = Decompressor::new();
    for level in [-1, 3, 19] {
        let a = zstd::bulk::compress(&bytes, level).unwrap();
        let b = zstd::bulk::compress(&bytes[..bytes.len() / 3], level).unwrap();
        let mut input = a.clone();
        input.extend_from_slice(&[0x53, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        input.extend_from_slice(&b);
        let mut out = vec![0u8; bytes.len() + bytes.len() / 3];
        let n = d.decompress_into(&input, &mut out).unwrap();
        assert_eq!(n, out.len());
        assert!(out[..bytes.len()] == bytes[..], "level {level}");
        assert!(
            out[bytes.len()..] == bytes[..bytes.len() / 3],
            "level {level}"
        );
    }
}

/// Compresses `pages` with libzstd and `dictionary`, then decodes with ours holding the same.
fn check_dictionary(dictionary: &[u8], pages: &[Page], what: &str) -> usize {
    let mut ours = Decompressor::with_dictionary(dictionary).unwrap();
    let mut out = [0u8; PAGE_SIZE];
    let mut checked = 0;
    for level in [1, 3, 19] {
        let mut c = Compressor::with_dictionary(level, dictionary).unwrap();
        c.set_parameter(CParameter::ChecksumFlag(true)).unwrap();
        for (i, page) in pages.iter().enumerate() {
            let frame = c.compress(page).unwrap();
            let n = ours
                .decompress_into(&frame, &mut out)
                .unwrap_or_else(|e| panic!("{what} level {level} page {i}: {e}"));
            assert_eq!(n, PAGE_SIZE);
            assert!(out == *page, "{what} level {level} page {i} differs");
            checked += 1;
        }
    }
    checked
}

#[test]
fn libzstd_dictionary_frames_decode_byte_exact() {
    let pages = distinct_pages();
    let sample: Vec<Page> = pages.iter().step_by(97).take(48).copied().collect();
    // Raw content: pages that the compressed ones resemble.
    let raw: Vec<u8> = pages
        .iter()
        .step_by(89)
        .take(8)
        .flat_map(|p| p.iter().copied())
        .collect();
    let n = check_dictionary(&raw, &sample, "raw-content dictionary");
    eprintln!("raw-content dictionary: {n} frames decoded byte-exact");
    // Dictionaries in the zstd format from the shared vectors (entropy tables, repeat offsets, one
    // with zero-weight symbols), when present.
    for relative in [
        "vectors/decodecorpus/dict4k/dictionary",
        "vectors/zstd/dict-files/zero-weight-dict",
        "vectors/zstd/golden-dictionaries/http-dict-missing-symbols",
    ] {
        if let Some(path) = trueno_zram_tests::shared_file(relative, "zstd-format dictionary") {
            let dictionary = std::fs::read(path).unwrap();
            let n = check_dictionary(&dictionary, &sample, relative);
            eprintln!("{relative}: {n} frames decoded byte-exact");
        }
    }
}
