//! The Zstandard decoder against the shared vectors (`../shared/vectors`): decodecorpus frames of
//! every block type and table mode, zstd's golden frames and golden errors, and per-page frames.
//! Every proper prefix of a frame is rejected, and corrupted frames never panic (when libzstd also
//! accepts one, both give the same bytes). Skipped, with a line on stderr, when the vectors are absent.

use std::path::{Path, PathBuf};

use trueno_zram::Error;
use trueno_zram::zstd::{Decompressor, ZstdError, decompress_into};

fn vector_dir(relative: &str) -> Option<PathBuf> {
    trueno_zram_tests::shared_file(&format!("vectors/{relative}"), "zstd decoder vectors")
}

/// `(frame, content)` pairs of a decodecorpus folder, in name order.
fn corpus(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>, String)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "zst"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|zst| {
            let content = std::fs::read(zst.with_extension("")).unwrap();
            let frame = std::fs::read(&zst).unwrap();
            (frame, content, zst.display().to_string())
        })
        .collect()
}

fn decode_exact(d: &mut Decompressor<'_>, frame: &[u8], content: &[u8], name: &str) {
    let mut out = vec![0u8; content.len()];
    let n = d
        .decompress_into(frame, &mut out)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(n, content.len(), "{name}: length");
    assert!(out == content, "{name}: content differs");
}

#[test]
fn decodecorpus_page4k_and_page4k_cs() {
    for folder in ["decodecorpus/page4k", "decodecorpus/page4k-cs"] {
        let Some(dir) = vector_dir(folder) else {
            return;
        };
        let frames = corpus(&dir);
        assert_eq!(frames.len(), 200, "{folder}");
        let mut d = Decompressor::new();
        for (frame, content, name) in &frames {
            decode_exact(&mut d, frame, content, name);
            // A fresh decoder on the stack gives the same.
            let mut out = vec![0u8; content.len()];
            assert_eq!(decompress_into(frame, &mut out).unwrap(), content.len());
            assert!(&out == content);
        }
    }
}

#[test]
fn decodecorpus_max64k_fits_or_fails_cleanly() {
    let Some(dir) = vector_dir("decodecorpus/max64k") else {
        return;
    };
    let frames = corpus(&dir);
    assert_eq!(frames.len(), 200);
    let mut d = Decompressor::new();
    for (frame, content, name) in &frames {
        decode_exact(&mut d, frame, content, name);
        if !content.is_empty() {
            let mut short = vec![0u8; content.len() - 1];
            let err = d.decompress_into(frame, &mut short).unwrap_err();
            assert!(
                matches!(err, Error::Zstd(ZstdError::OutputTooSmall { .. })),
                "{name}: {err}"
            );
        }
    }
}

#[test]
fn decodecorpus_dict4k_needs_its_dictionary() {
    let Some(dir) = vector_dir("decodecorpus/dict4k") else {
        return;
    };
    let dictionary = std::fs::read(dir.join("dictionary")).unwrap();
    let mut with = Decompressor::with_dictionary(&dictionary).unwrap();
    let frames = corpus(&dir);
    assert_eq!(frames.len(), 50);
    let mut without = Decompressor::new();
    for (frame, content, name) in &frames {
        decode_exact(&mut with, frame, content, name);
        let mut out = vec![0u8; content.len() + 64];
        match without.decompress_into(frame, &mut out) {
            Err(_) => {}
            // A frame that happens not to use the dictionary at all may decode without it.
            Ok(n) => assert_eq!(&out[..n], &content[..], "{name} without dictionary"),
        }
    }
    // At least the frames that name the dictionary fail without it.
    let failures = frames
        .iter()
        .filter(|(f, c, _)| {
            let mut out = vec![0u8; c.len() + 64];
            without.decompress_into(f, &mut out).is_err()
        })
        .count();
    assert!(failures > 0);
}

#[test]
fn golden_decompression_matches_libzstd() {
    let Some(dir) = vector_dir("zstd/golden-decompression") else {
        return;
    };
    let mut d = Decompressor::new();
    for name in [
        "block-128k.zst",
        "empty-block.zst",
        "rle-first-block.zst",
        "zeroSeq_2B.zst",
    ] {
        let frame = std::fs::read(dir.join(name)).unwrap();
        let expected = zstd::bulk::decompress(&frame, 2 << 20).unwrap();
        let mut out = vec![0u8; expected.len().max(1)];
        let n = d
            .decompress_into(&frame, &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&out[..n], &expected[..], "{name}");
    }
}

#[test]
fn golden_decompression_errors_are_rejected() {
    let Some(dir) = vector_dir("zstd/golden-decompression-errors") else {
        return;
    };
    let mut d = Decompressor::new();
    for name in [
        "off0.bin.zst",
        "truncated_huff_state.zst",
        "zeroSeq_extraneous.zst",
    ] {
        let frame = std::fs::read(dir.join(name)).unwrap();
        let mut out = vec![0u8; 1 << 20];
        let r = d.decompress_into(&frame, &mut out);
        assert!(r.is_err(), "{name} decoded to {r:?}");
        eprintln!("{name}: {}", r.unwrap_err());
    }
}

#[test]
fn pages4k_frames_decode_to_their_pages() {
    let Some(dir) = vector_dir("pages4k") else {
        return;
    };
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if !ext.starts_with("zst") {
            continue;
        }
        let page = std::fs::read(path.with_extension("bin")).unwrap();
        let frame = std::fs::read(&path).unwrap();
        let mut out = vec![0u8; page.len()];
        let n =
            decompress_into(&frame, &mut out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&out[..n], &page[..], "{}", path.display());
        count += 1;
    }
    assert_eq!(count, 17 * 3);
}

/// Some frames of each kind, for the cut and flip tests.
fn sample_frames(
    page4k: usize,
    page4k_cs: usize,
    max64k: usize,
) -> Vec<(Vec<u8>, Vec<u8>, String)> {
    let mut frames = Vec::new();
    for (folder, take) in [
        ("decodecorpus/page4k", page4k),
        ("decodecorpus/page4k-cs", page4k_cs),
        ("decodecorpus/max64k", max64k),
    ] {
        if let Some(dir) = vector_dir(folder) {
            frames.extend(corpus(&dir).into_iter().take(take));
        }
    }
    frames
}

#[test]
fn every_proper_prefix_is_rejected() {
    let mut d = Decompressor::new();
    for (frame, content, name) in sample_frames(40, 20, 4) {
        let mut out = vec![0u8; content.len() + 16];
        for cut in 0..frame.len() {
            let r = d.decompress_into(&frame[..cut], &mut out);
            assert!(r.is_err(), "{name} cut to {cut} bytes decoded");
        }
    }
}

#[test]
fn flipped_bytes_never_panic_and_agree_with_libzstd() {
    let mut d = Decompressor::new();
    let mut agreed = 0usize;
    let mut rejected = 0usize;
    // Debug builds are slow: one flip per byte position (all bits, or one bit that moves along).
    for (frame, content, name) in sample_frames(24, 12, 2) {
        let capacity = content.len() + 64;
        let mut out = vec![0u8; capacity];
        for pos in 0..frame.len() {
            for flip in [0xFFu8, 1 << (pos % 8)] {
                let mut bad = frame.clone();
                bad[pos] ^= flip;
                match d.decompress_into(&bad, &mut out) {
                    Ok(n) => {
                        assert!(n <= capacity);
                        if let Ok(reference) = zstd::bulk::decompress(&bad, capacity) {
                            assert_eq!(&out[..n], &reference[..], "{name}: byte {pos} ^ {flip:#x}");
                            agreed += 1;
                        }
                    }
                    Err(_) => rejected += 1,
                }
            }
        }
    }
    eprintln!("flipped frames: {agreed} decoded as libzstd does, {rejected} rejected");
}

#[test]
fn portable_and_bmi2_paths_give_the_same_results() {
    // The BMI2 build of the block decoder is the portable code compiled for BMI2: same bytes, same
    // errors, on valid and on corrupted frames.
    let mut portable = Decompressor::new().prefer_backend(trueno_zram::SimdBackend::Scalar);
    let mut detected = Decompressor::new();
    for (frame, content, name) in sample_frames(200, 200, 200) {
        let mut a = vec![0u8; content.len() + 64];
        let mut b = vec![0u8; content.len() + 64];
        let ra = portable.decompress_into(&frame, &mut a);
        let rb = detected.decompress_into(&frame, &mut b);
        assert_eq!(ra, rb, "{name}");
        assert_eq!(a[..content.len()], b[..content.len()], "{name}");
        let mut bad = frame.clone();
        let at = bad.len() / 2;
        bad[at] ^= 0x5A;
        let ra = portable.decompress_into(&bad, &mut a);
        let rb = detected.decompress_into(&bad, &mut b);
        assert_eq!(ra, rb, "{name} corrupted");
        if let Ok(n) = ra {
            assert_eq!(a[..n], b[..n], "{name} corrupted");
        }
    }
}
