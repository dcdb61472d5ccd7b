//! Compression: every level of our encoder against libzstd at the same level, each page on its own,
//! single thread, both with a reused context, interleaved. The table gives, per corpus and level,
//! our MB/s and ratio, then libzstd's; "vs libzstd" is our speed over libzstd's on our row and
//! our ratio over libzstd's on libzstd's row.
//!
//! `--levels A..=B` limits the levels (default -7..=9); levels -1, 1, 3 and 9 get the full number
//! of rounds, the others at most 3 to keep the run short. `--ratio-only` prints the ratios without
//! timing anything.

use std::hint::black_box;

use crate::harness::{self, Args, Contender, Corpus, Report};
use trueno_zram::PAGE_SIZE;
use trueno_zram::zstd::Compressor;

/// Levels whose figures the acceptance criteria name: measured with every round.
const KEY_LEVELS: [i8; 4] = [-1, 1, 3, 9];

fn levels(args: &Args) -> Vec<i8> {
    let mut range = (-7i8, 9i8);
    let mut it = args.rest.iter();
    while let Some(a) = it.next() {
        if a == "--levels"
            && let Some((lo, hi)) = it.next().and_then(|r| r.split_once("..="))
            && let (Ok(lo), Ok(hi)) = (lo.parse(), hi.parse())
        {
            range = (lo, hi);
        }
    }
    (range.0..=range.1).filter(|&l| l != 0).collect()
}

/// Compressed bytes of every page, each on its own.
fn ours_total(c: &mut Compressor, pages: &[trueno_zram::Page], buf: &mut [u8]) -> usize {
    pages
        .iter()
        .map(|p| c.compress_into(p, buf).expect("the bound fits"))
        .sum()
}

fn libzstd_total(
    c: &mut zstd::bulk::Compressor<'_>,
    pages: &[trueno_zram::Page],
    buf: &mut [u8],
) -> usize {
    pages
        .iter()
        .map(|p| {
            c.compress_to_buffer(&p[..], &mut *buf)
                .expect("the bound fits")
        })
        .sum()
}

/// Adds two rows per corpus and level to `report`.
pub fn run(args: &Args, corpora: &[Corpus], report: &mut Report) {
    let mut summary = Vec::new();
    for corpus in corpora {
        for level in levels(args) {
            let rounds = if KEY_LEVELS.contains(&level) {
                args.rounds
            } else {
                args.rounds.min(3)
            };
            let pages = &corpus.pages;
            let mut ours = Compressor::new(level).expect("valid level");
            let mut theirs =
                zstd::bulk::Compressor::new(i32::from(level)).expect("libzstd context");
            let mut buf = vec![
                0u8;
                Compressor::bound(PAGE_SIZE)
                    .max(zstd::zstd_safe::compress_bound(PAGE_SIZE))
            ];
            let our_size = ours_total(&mut ours, pages, &mut buf);
            let their_size = libzstd_total(&mut theirs, pages, &mut buf);
            if args.rest.iter().any(|a| a == "--ratio-only") {
                let (ours, theirs) = (
                    corpus.bytes() as f64 / our_size as f64,
                    corpus.bytes() as f64 / their_size as f64,
                );
                eprintln!(
                    "{:>12} L{level:>2}: ratio ours {ours:.4} libzstd {theirs:.4} x{:.4}",
                    corpus.name,
                    ours / theirs
                );
                continue;
            }
            let mut buf2 = buf.clone();
            let mut contenders = vec![
                Contender::new("ours", || {
                    black_box(ours_total(&mut ours, black_box(pages), &mut buf));
                }),
                Contender::new("libzstd", || {
                    black_box(libzstd_total(&mut theirs, black_box(pages), &mut buf2));
                }),
            ];
            let speeds = harness::measure(corpus.bytes(), rounds, &mut contenders);
            let our_ratio = corpus.bytes() as f64 / our_size as f64;
            let their_ratio = corpus.bytes() as f64 / their_size as f64;
            report.row(
                format!("{} encode L{level} ours", corpus.name),
                vec![speeds[0], our_ratio, speeds[0] / speeds[1]],
            );
            report.row(
                format!("{} encode L{level} libzstd", corpus.name),
                vec![speeds[1], their_ratio, our_ratio / their_ratio],
            );
            summary.push(format!(
                "{:>12} L{level:>2}: ours {:7.1} MB/s ratio {our_ratio:.4} | libzstd {:7.1} MB/s ratio {their_ratio:.4} | speed x{:.2} ratio x{:.4}",
                corpus.name, speeds[0], speeds[1], speeds[0] / speeds[1], our_ratio / their_ratio
            ));
            eprintln!("{}", summary.last().map_or("", String::as_str));
        }
    }
    report.note(
        "encode: each page compressed on its own, single thread, median of interleaved rounds",
    );
    report.note("encode rows: 'vs libzstd' is speed ours/libzstd on our row, ratio ours/libzstd on libzstd's row");
    for s in summary {
        report.note(s);
    }
}
