//! Parallel batches: MB/s of uncompressed data through `RayonBatch` on 1 and 2 worker threads, and the
//! speed-up of 2 over 1, for compress and decompress. The only benchmark that measures scaling.

mod harness;

use harness::{Contender, Report};
use std::hint::black_box;
use trueno_zram::{
    Algorithm, BatchCompressor, CompressedPage, CompressorBuilder, PAGE_SIZE, RayonBatch,
};

/// The algorithm measured: the fastest codec this build has.
const ALGORITHM: Algorithm = Algorithm::SameFillOnly;

fn main() {
    let args = harness::args();
    let builder = CompressorBuilder::new().algorithm(ALGORITHM);
    let batches: Vec<RayonBatch> = [1, 2]
        .into_iter()
        .map(|t| RayonBatch::new(builder, t).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut report = Report::new("batch", &["MB/s", "vs 1 thread", "ratio"]);
    for corpus in harness::corpora(&args) {
        let pages = &corpus.pages;
        let packed = batches[0]
            .compress_to_vec(pages)
            .unwrap_or_else(|e| panic!("{e}"));
        let stored: usize = packed.iter().map(|p| p.payload().len()).sum();
        let ratio = corpus.bytes() as f64 / stored.max(1) as f64;
        let outs = std::cell::RefCell::new(vec![CompressedPage::same_fill(0); pages.len()]);
        let backs = std::cell::RefCell::new(vec![[0u8; PAGE_SIZE]; pages.len()]);
        let mut contenders: Vec<Contender> = Vec::new();
        for b in &batches {
            let (outs, backs, packed) = (&outs, &backs, &packed);
            contenders.push(Contender::new(
                format!("compress {}", b.name()),
                move || {
                    b.compress_batch(black_box(pages), &mut outs.borrow_mut())
                        .unwrap_or_else(|e| panic!("{e}"));
                },
            ));
            contenders.push(Contender::new(
                format!("decompress {}", b.name()),
                move || {
                    b.decompress_batch(black_box(packed), &mut backs.borrow_mut())
                        .unwrap_or_else(|e| panic!("{e}"));
                },
            ));
        }
        let speeds = harness::measure(corpus.bytes(), args.rounds, &mut contenders);
        // Order: compress x1, decompress x1, compress x2, decompress x2.
        for (i, c) in contenders.iter().enumerate() {
            let base = speeds[i % 2];
            report.row(
                format!("{} {}", corpus.name, c.name),
                vec![speeds[i], speeds[i] / base, ratio],
            );
        }
    }
    report.note(format!(
        "{ALGORITHM:?}, each page on its own, {} pages per worker task; median of interleaved rounds",
        RayonBatch::<trueno_zram::StandardCompressor>::CHUNK_PAGES
    ));
    report.finish(&args);
}
