//! Decompression of libzstd level 1 and level 3 page frames: our `Decompressor` against
//! `ZSTD_decompressDCtx` with a reused context (`zstd::bulk::Decompressor`), both reused across pages.

use std::hint::black_box;

use trueno_zram::zstd::Decompressor;
use trueno_zram::{PAGE_SIZE, Page};

use crate::harness::{self, Args, Contender, Corpus, Report};

/// Frames of every page, compressed on their own as zram does.
fn compress_pages(pages: &[Page], level: i32) -> Vec<Vec<u8>> {
    let mut c = zstd::bulk::Compressor::new(level).expect("libzstd compressor");
    pages
        .iter()
        .map(|p| c.compress(p).expect("libzstd compresses a page"))
        .collect()
}

pub fn run(args: &Args, corpora: &[Corpus], report: &mut Report) {
    for corpus in corpora {
        for level in [1, 3] {
            let frames = compress_pages(&corpus.pages, level);
            let compressed: usize = frames.iter().map(Vec::len).sum();
            let ratio = corpus.bytes() as f64 / compressed as f64;

            // Both decoders give the pages back before anything is timed.
            let mut ours = Decompressor::new();
            let mut theirs = zstd::bulk::Decompressor::new().expect("libzstd decompressor");
            let mut out = [0u8; PAGE_SIZE];
            for (frame, page) in frames.iter().zip(&corpus.pages) {
                assert_eq!(ours.decompress_into(frame, &mut out).ok(), Some(PAGE_SIZE));
                assert!(out == *page, "our decoder differs from the page");
                assert_eq!(
                    theirs.decompress_to_buffer(frame, &mut out).ok(),
                    Some(PAGE_SIZE)
                );
            }

            let frames = &frames;
            let mut contenders = vec![
                Contender::new("ours", move || {
                    let mut out = [0u8; PAGE_SIZE];
                    for frame in frames {
                        black_box(ours.decompress_into(black_box(frame), &mut out).ok());
                    }
                    black_box(&out);
                }),
                Contender::new("libzstd", move || {
                    let mut out = [0u8; PAGE_SIZE];
                    for frame in frames {
                        black_box(theirs.decompress_to_buffer(black_box(frame), &mut out).ok());
                    }
                    black_box(&out);
                }),
            ];
            let speeds = harness::measure(corpus.bytes(), args.rounds, &mut contenders);
            let (us, them) = (speeds[0], speeds[1]);
            let name = &corpus.name;
            report.row(
                format!("decode L{level} {name} ours"),
                vec![us, ratio, us / them],
            );
            report.row(
                format!("decode L{level} {name} libzstd"),
                vec![them, ratio, 1.0],
            );
        }
    }
    report.note(
        "decode: MB/s of pages decoded, each page its own frame, single thread, median of rounds",
    );
}
