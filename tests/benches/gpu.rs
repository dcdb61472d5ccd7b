//! The CUDA backend end to end (transfers over PCIe included) against the rayon backend on every CPU
//! thread, for batches of 1k to 256k pages: MB/s of uncompressed data and the GPU's speed as a
//! multiple of rayon's, for compression and decompression. Where no CUDA device exists it says it
//! was skipped and writes a report with that note only.

mod harness;

use std::cell::RefCell;
use std::hint::black_box;

use harness::{Contender, Report};
use trueno_zram::gpu::CudaBatchCompressor;
use trueno_zram::{
    BatchCompressor, CompressedPage, CompressorBuilder, PAGE_SIZE, Page, RayonBatch,
};

/// Batch sizes, in pages.
const BATCHES: [usize; 5] = [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18];

/// `count` pages taken from `corpus` in order, wrapping around.
fn batch_of(corpus: &[Page], count: usize) -> Vec<Page> {
    corpus.iter().cycle().take(count).copied().collect()
}

fn main() {
    let args = harness::args();
    let builder = CompressorBuilder::new();
    let mut report = Report::new("gpu", &["MB/s", "x rayon", "ratio"]);
    let gpu = match CudaBatchCompressor::new(builder) {
        Ok(gpu) => gpu,
        Err(e) => {
            eprintln!("skipped the gpu benchmark: {e}");
            report.note(format!("skipped: {e}"));
            report.finish(&args);
            return;
        }
    };
    let cpu = RayonBatch::new(builder, 0).unwrap_or_else(|e| panic!("{e}"));
    for corpus in harness::corpora(&args) {
        if corpus.pages.is_empty() {
            continue;
        }
        for count in BATCHES {
            let pages = batch_of(&corpus.pages, count);
            let bytes = pages.len() * PAGE_SIZE;
            let packed = cpu
                .compress_to_vec(&pages)
                .unwrap_or_else(|e| panic!("{e}"));
            let check = gpu
                .compress_to_vec(&pages)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(check == packed, "the GPU's pages differ from the CPU's");
            let stored: usize = packed.iter().map(|p| p.payload().len()).sum();
            let ratio = bytes as f64 / stored.max(1) as f64;
            let outs = RefCell::new(vec![CompressedPage::same_fill(0); count]);
            let backs = RefCell::new(vec![[0u8; PAGE_SIZE]; count]);
            let backends: [&dyn BatchCompressor; 2] = [&cpu, &gpu];
            let mut contenders: Vec<Contender> = Vec::new();
            for b in backends {
                let (pages, packed, outs, backs) = (&pages, &packed, &outs, &backs);
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
            let speeds = harness::measure(bytes, args.rounds, &mut contenders);
            // Order: compress rayon, decompress rayon, compress cuda, decompress cuda.
            for (i, c) in contenders.iter().enumerate() {
                report.row(
                    format!("{} {count} pages {}", corpus.name, c.name),
                    vec![speeds[i], speeds[i] / speeds[i % 2], ratio],
                );
            }
        }
    }
    report.note(format!(
        "end to end: host pages in, host pages out, PCIe transfers included; rayon on {} threads; {} with {} SMs",
        cpu.threads(),
        gpu.device().name(),
        gpu.device().multiprocessors()
    ));
    report.finish(&args);
}
