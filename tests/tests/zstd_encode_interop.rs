//! Interoperability of our Zstandard encoder with libzstd (the `zstd` crate's bundled library):
//! every frame we write, at every level, decodes with libzstd, and with our own decoder, to exactly
//! the input.

use proptest::prelude::*;
use trueno_zram::zstd::{self as ours, Compressor};
use trueno_zram::{PAGE_SIZE, Page};

/// Every level the encoder accepts.
const LEVELS: std::ops::RangeInclusive<i8> = -7..=9;

/// Decodes `frame` with libzstd and with our decoder, which must both give exactly `expected`.
fn assert_decodes(frame: &[u8], expected: &[u8], what: &str) {
    let decoded = zstd::bulk::decompress(frame, expected.len().max(1))
        .unwrap_or_else(|e| panic!("{what}: libzstd rejects our frame: {e}"));
    assert!(
        decoded == expected,
        "{what}: libzstd decodes to different bytes"
    );
    let mut out = vec![0u8; expected.len()];
    let n = ours::decompress_into(frame, &mut out)
        .unwrap_or_else(|e| panic!("{what}: our decoder rejects our frame: {e}"));
    assert!(
        n == expected.len() && out == expected,
        "{what}: our decoder decodes to different bytes"
    );
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(frame).ok(),
        Some(Some(expected.len() as u64)),
        "{what}: the frame must state its content size"
    );
}

fn compress(c: &mut Compressor, src: &[u8]) -> Vec<u8> {
    let mut dst = vec![0u8; Compressor::bound(src.len())];
    let n = c
        .compress_into(src, &mut dst)
        .expect("bound() always suffices");
    dst.truncate(n);
    dst
}

/// Pages of both corpora, or of local files when the corpora are absent.
fn corpus() -> Vec<(String, Vec<Page>)> {
    let mut sets = Vec::new();
    for name in ["memdump.bin", "files.bin"] {
        let pages = trueno_zram_tests::corpus_pages(&format!("corpus/{name}"), "corpus pages");
        if !pages.is_empty() {
            sets.push((name.to_string(), pages));
        }
    }
    if sets.is_empty() {
        sets.push(("local files".into(), trueno_zram_tests::local_pages(1024)));
    }
    sets
}

/// Runs `check` over `pages` on every core, each thread with its own compressor for `level`.
fn each_page(pages: &[Page], level: i8, check: impl Fn(&mut Compressor, usize, &Page) + Sync) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = pages.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (ci, part) in pages.chunks(chunk).enumerate() {
            let check = &check;
            s.spawn(move || {
                let mut c = Compressor::new(level).expect("valid level");
                for (i, p) in part.iter().enumerate() {
                    check(&mut c, ci * chunk + i, p);
                }
            });
        }
    });
}

#[test]
fn every_corpus_page_at_every_level_decodes() {
    for (name, pages) in corpus() {
        for level in LEVELS {
            each_page(&pages, level, |c, i, page| {
                let frame = compress(c, page);
                assert!(frame.len() <= Compressor::bound(PAGE_SIZE));
                assert_decodes(&frame, page, &format!("{name} page {i} level {level}"));
            });
        }
    }
}

#[test]
fn golden_compression_inputs_decode_whole_and_in_pages() {
    let Some(dir) = trueno_zram_tests::shared_file(
        "vectors/zstd/golden-compression",
        "golden compression inputs",
    ) else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let input = std::fs::read(&path).expect("readable input");
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for level in LEVELS {
            for checksum in [false, true] {
                let mut c = Compressor::new(level).unwrap().with_checksum(checksum);
                let frame = compress(&mut c, &input);
                assert_decodes(&frame, &input, &format!("{name} level {level}"));
                for (i, piece) in input.chunks(PAGE_SIZE).enumerate() {
                    let frame = compress(&mut c, piece);
                    assert_decodes(&frame, piece, &format!("{name} piece {i} level {level}"));
                }
            }
        }
    }
}

#[test]
fn checksummed_frames_carry_the_xxh64_of_the_content() {
    let pages = trueno_zram_tests::local_pages(16);
    let mut c = Compressor::new(1).unwrap().with_checksum(true);
    for page in &pages {
        let frame = compress(&mut c, page);
        // libzstd verifies the checksum when it decodes.
        assert_decodes(&frame, page, "checksummed page");
        let mut bad = frame.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(
            zstd::bulk::decompress(&bad, PAGE_SIZE).is_err(),
            "a wrong checksum must be caught"
        );
    }
}

#[test]
fn the_level_changes_the_output() {
    let pages: Vec<Page> = corpus()
        .into_iter()
        .flat_map(|(_, p)| p.into_iter().step_by(97))
        .take(200)
        .collect();
    let mut outputs: Vec<(i8, Vec<u8>)> = Vec::new();
    // Level 0 stands for level 3, as in libzstd; every other level is its own.
    for level in LEVELS.filter(|&l| l != 0) {
        let mut c = Compressor::new(level).unwrap();
        let all: Vec<u8> = pages.iter().flat_map(|p| compress(&mut c, p)).collect();
        for (other, out) in &outputs {
            assert!(
                out != &all,
                "levels {other} and {level} write the same frames"
            );
        }
        outputs.push((level, all));
    }
    // Higher levels find more: level 9 beats level 1, which beats level -7.
    let size = |l: i8| outputs.iter().find(|o| o.0 == l).map_or(0, |o| o.1.len());
    assert!(
        size(9) < size(1) && size(1) < size(-7),
        "sizes {} {} {}",
        size(9),
        size(1),
        size(-7)
    );
}

#[test]
fn levels_outside_the_range_are_refused() {
    for level in [-8i8, 10, 22, i8::MIN, i8::MAX] {
        assert!(Compressor::new(level).is_err(), "level {level}");
        assert!(ours::compress_into(b"abc", &mut [0u8; 64], level).is_err());
    }
    assert_eq!(Compressor::new(0).unwrap().level(), 0);
}

#[test]
fn a_small_destination_is_an_error_not_a_panic() {
    let page = trueno_zram_tests::local_pages(1)
        .pop()
        .unwrap_or([7; PAGE_SIZE]);
    let mut c = Compressor::new(3).unwrap();
    let full = compress(&mut c, &page);
    for cut in [0, 1, 5, 8, full.len() / 2, full.len() - 1] {
        let mut dst = vec![0u8; cut];
        assert!(c.compress_into(&page, &mut dst).is_err(), "{cut} bytes");
    }
    // The compressor is still usable and deterministic afterwards.
    assert_eq!(compress(&mut c, &page), full);
}

#[test]
fn empty_and_tiny_inputs() {
    for level in LEVELS {
        for len in 0..40usize {
            let src: Vec<u8> = (0..len).map(|i| (i % 3) as u8).collect();
            let mut dst = vec![0u8; Compressor::bound(len)];
            let n = ours::compress_into(&src, &mut dst, level).unwrap();
            assert_decodes(&dst[..n], &src, &format!("{len} bytes level {level}"));
        }
    }
}

/// Inputs with structure: runs, repeats at various distances, text-like and random stretches.
fn structured_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (any::<u8>(), 1..2000usize).prop_map(|(b, n)| vec![b; n]),
        prop::collection::vec(prop::sample::select(b"etaoin shrdlu".to_vec()), 0..500),
        (1..64usize, 1..40usize).prop_map(|(period, reps)| (0..period * reps)
            .map(|i| (i % period) as u8 * 3)
            .collect()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| {
        let mut out: Vec<u8> = Vec::new();
        for p in pieces {
            // Sometimes repeat something already written, as real data does.
            if out.len() > 64 && p.len() % 3 == 0 {
                let from = p.len() % (out.len() - 32);
                let copy = out[from..(from + p.len().min(400)).min(out.len())].to_vec();
                out.extend_from_slice(&copy);
            }
            out.extend_from_slice(&p);
        }
        out.truncate(3 * 32 * 1024 + 100);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn generated_inputs_decode_at_every_level(input in structured_input(), checksum in any::<bool>()) {
        for level in LEVELS {
            let mut c = Compressor::new(level).unwrap().with_checksum(checksum);
            let frame = compress(&mut c, &input);
            let decoded = zstd::bulk::decompress(&frame, input.len().max(1));
            prop_assert!(decoded.as_deref().ok() == Some(&input[..]), "libzstd, level {}", level);
            let mut out = vec![0u8; input.len()];
            let n = ours::decompress_into(&frame, &mut out);
            prop_assert!(n.ok() == Some(input.len()) && out == input, "our decoder, level {}", level);
            // The same compressor gives the same bytes again.
            prop_assert_eq!(compress(&mut c, &input), frame);
        }
    }
}

mod page_api {
    use super::*;
    use trueno_zram::{Algorithm, CompressorBuilder, Encoding, PageCompressor, SimdBackend};

    #[test]
    fn zstd_pages_round_trip_and_follow_the_page_rules() {
        let mut pages: Vec<Page> = corpus()
            .into_iter()
            .flat_map(|(_, p)| p.into_iter().step_by(61))
            .take(300)
            .collect();
        let mut noise = [0u8; PAGE_SIZE];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for b in noise.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        pages.push(noise);
        pages.push([0x5a; PAGE_SIZE]);
        for level in [-7i8, -1, 1, 3, 9] {
            let mut c = CompressorBuilder::new()
                .algorithm(Algorithm::Zstd { level })
                .build()
                .unwrap();
            let mut zstd_pages = 0;
            for page in &pages {
                let packed = c.compress(page).unwrap();
                match packed.encoding() {
                    Encoding::Zstd => {
                        zstd_pages += 1;
                        assert!(packed.payload().len() < PAGE_SIZE);
                        assert_decodes(packed.payload(), page, &format!("page API level {level}"));
                    }
                    Encoding::Stored => assert_eq!(packed.payload(), &page[..]),
                    Encoding::SameFill => assert!(page.chunks(8).all(|w| w == &page[..8])),
                    other => panic!("unexpected encoding {other:?}"),
                }
                assert_eq!(&c.decompress(&packed).unwrap(), page);
            }
            assert!(zstd_pages > 0, "level {level} compressed no page");
            assert_eq!(c.compress(&noise).unwrap().encoding(), Encoding::Stored);
            assert_eq!(
                c.compress(&[0x5a; PAGE_SIZE]).unwrap().encoding(),
                Encoding::SameFill
            );
        }
    }

    #[test]
    fn build_refuses_levels_out_of_range() {
        for level in [-8i8, 10, 100] {
            assert!(
                CompressorBuilder::new()
                    .algorithm(Algorithm::Zstd { level })
                    .build()
                    .is_err()
            );
        }
    }

    #[test]
    fn every_backend_writes_the_same_frames() {
        let pages: Vec<Page> = corpus()
            .into_iter()
            .flat_map(|(_, p)| p.into_iter().step_by(211))
            .take(100)
            .collect();
        for level in [-3i8, 1, 3, 6] {
            let reference: Vec<_> = {
                let mut c = CompressorBuilder::new()
                    .algorithm(Algorithm::Zstd { level })
                    .prefer_backend(SimdBackend::Scalar)
                    .build()
                    .unwrap();
                pages.iter().map(|p| c.compress(p).unwrap()).collect()
            };
            for backend in SimdBackend::available() {
                let mut c = CompressorBuilder::new()
                    .algorithm(Algorithm::Zstd { level })
                    .prefer_backend(backend)
                    .build()
                    .unwrap();
                for (p, r) in pages.iter().zip(&reference) {
                    assert_eq!(&c.compress(p).unwrap(), r, "{backend:?} level {level}");
                }
            }
        }
    }
}

mod dictionaries {
    use super::*;
    use trueno_zram::zstd::Decompressor;

    /// 16 KiB of room: up to 8 KiB of dictionary content and 8 KiB of input behind it.
    type DictCompressor = Compressor<16384>;

    fn compress_with(c: &mut DictCompressor, src: &[u8]) -> Vec<u8> {
        let mut dst = vec![0u8; Compressor::bound(src.len()) + 8];
        let n = c
            .compress_into(src, &mut dst)
            .expect("bound() always suffices");
        dst.truncate(n);
        dst
    }

    fn assert_decodes_with(dict: &[u8], frame: &[u8], expected: &[u8], what: &str) {
        let mut libzstd =
            zstd::bulk::Decompressor::with_dictionary(dict).expect("libzstd loads it");
        let decoded = libzstd
            .decompress(frame, expected.len().max(1))
            .unwrap_or_else(|e| panic!("{what}: libzstd rejects our frame: {e}"));
        assert!(
            decoded == expected,
            "{what}: libzstd decodes to different bytes"
        );
        let mut ours = Decompressor::with_dictionary(dict).expect("our decoder loads it");
        let mut out = vec![0u8; expected.len()];
        let n = ours
            .decompress_into(frame, &mut out)
            .unwrap_or_else(|e| panic!("{what}: our decoder rejects our frame: {e}"));
        assert!(
            n == expected.len() && out == expected,
            "{what}: our decoder differs"
        );
    }

    #[test]
    fn trained_dictionary_frames_decode() {
        let pages: Vec<Page> = corpus().into_iter().flat_map(|(_, p)| p).collect();
        let samples: Vec<&[u8]> = pages.iter().step_by(37).take(400).map(|p| &p[..]).collect();
        let Ok(dict) = zstd::dict::from_samples(&samples, 16 * 1024) else {
            eprintln!("skipped: libzstd could not train a dictionary from these pages");
            return;
        };
        let test_pages: Vec<&Page> = pages.iter().skip(5).step_by(53).take(300).collect();
        for level in [-5i8, 1, 3, 5, 9] {
            let mut with = DictCompressor::with_dictionary(level, &dict)
                .unwrap()
                .with_checksum(true);
            assert_ne!(with.dictionary_id(), 0, "a trained dictionary has an ID");
            for (i, page) in test_pages.iter().enumerate() {
                let frame = compress_with(&mut with, &page[..]);
                assert_decodes_with(&dict, &frame, &page[..], &format!("page {i} level {level}"));
            }
        }
    }

    #[test]
    fn raw_content_and_golden_dictionaries() {
        let text =
            b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n".repeat(20);
        let raw: Vec<u8> = text[..900].to_vec();
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = vec![(raw, text.clone())];
        if let Some(dir) = trueno_zram_tests::shared_file("vectors/zstd", "golden dictionaries") {
            let http = std::fs::read(dir.join("golden-compression/http")).expect("readable");
            for d in [
                "golden-dictionaries/http-dict-missing-symbols",
                "dict-files/zero-weight-dict",
            ] {
                let dict = std::fs::read(dir.join(d)).expect("readable");
                // The dictionary parser is the decoder's: a dictionary it rejects (libzstd takes
                // both) is reported here rather than hidden.
                if let Err(e) = Decompressor::with_dictionary(&dict) {
                    eprintln!("skipped {d}: our dictionary parser rejects it ({e})");
                    continue;
                }
                cases.push((dict, http.clone()));
            }
        }
        for (dict, input) in &cases {
            for level in LEVELS {
                let mut c = DictCompressor::with_dictionary(level, dict).unwrap();
                for piece in [&input[..], &input[..input.len().min(100)], &[][..]] {
                    let frame = compress_with(&mut c, piece);
                    assert_decodes_with(dict, &frame, piece, &format!("level {level}"));
                }
                // Longer than the room behind the dictionary: the rest goes without it.
                let long: Vec<u8> = input.iter().cycle().take(40_000).copied().collect();
                let frame = compress_with(&mut c, &long);
                assert_decodes_with(dict, &frame, &long, &format!("long input level {level}"));
            }
        }
    }

    #[test]
    fn dictionary_content_is_referenced() {
        // Raw content whose end is exactly the page: with it, the page is one long match.
        let mut content = vec![0u8; 6000];
        let mut x = 12345u32;
        for b in content.iter_mut() {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        let page = &content[content.len() - PAGE_SIZE..];
        for level in LEVELS {
            let mut with = DictCompressor::with_dictionary(level, &content).unwrap();
            let frame = compress_with(&mut with, page);
            assert_decodes_with(&content, &frame, page, &format!("level {level}"));
            assert!(frame.len() < 40, "level {level}: {} bytes", frame.len());
            assert!(compress(&mut Compressor::new(level).unwrap(), page).len() > PAGE_SIZE);
        }
    }

    #[test]
    fn a_dictionary_needs_room() {
        assert!(Compressor::<0>::with_dictionary(1, b"some content").is_err());
        assert!(Compressor::<1024>::with_dictionary(1, b"some content").is_err());
        assert!(Compressor::<65536>::with_dictionary(1, b"some content").is_err());
    }
}
