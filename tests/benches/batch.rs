//! Parallel batches: MB/s of uncompressed data through `RayonBatch` on 1 and 2 worker threads, and the
//! speed-up of 2 over 1, for compress and decompress. The only benchmark that measures scaling.
//!
//! Wall-clock speed-up needs two idle cores. On a shared machine the process gets less, so the
//! benchmark also measures CPU time (every thread of the process, from /proc/self/task/*/schedstat):
//! MB per CPU-second at 2 threads against 1 shows what parallelism costs (pool hand-off, spinning,
//! cache traffic), and 2 x that efficiency is the speed-up two free cores would give.

mod harness;

use harness::{Contender, Report};
use std::cell::RefCell;
use std::hint::black_box;
use trueno_zram::{
    Algorithm, BatchCompressor, CompressedPage, CompressorBuilder, PAGE_SIZE, RayonBatch,
};

/// The algorithm measured: LZ4, the default and the one whose scaling the issue asks for.
const ALGORITHM: Algorithm = Algorithm::Lz4;

/// CPU time of every thread of this process so far, in seconds (0 where schedstat is missing).
fn process_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanos as f64 / 1e9
}

fn main() {
    let args = harness::args();
    let builder = CompressorBuilder::new().algorithm(ALGORITHM);
    let batches: Vec<RayonBatch> = [1, 2]
        .into_iter()
        .map(|t| RayonBatch::new(builder, t).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut report = Report::new(
        "batch",
        &[
            "MB/s",
            "vs 1 thread",
            "MB/CPU-s",
            "CPU eff",
            "2 cores x",
            "ratio",
        ],
    );
    for corpus in harness::corpora(&args) {
        let pages = &corpus.pages;
        let packed = batches[0]
            .compress_to_vec(pages)
            .unwrap_or_else(|e| panic!("{e}"));
        let stored: usize = packed.iter().map(|p| p.payload().len()).sum();
        let ratio = corpus.bytes() as f64 / stored.max(1) as f64;
        let outs = RefCell::new(vec![CompressedPage::same_fill(0); pages.len()]);
        let backs = RefCell::new(vec![[0u8; PAGE_SIZE]; pages.len()]);
        // CPU seconds of each call, per contender (warm-up included; the median is taken).
        let cpu: Vec<RefCell<Vec<f64>>> = (0..4).map(|_| RefCell::new(Vec::new())).collect();
        let mut contenders: Vec<Contender> = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            let (outs, backs, packed) = (&outs, &backs, &packed);
            let (cpu_c, cpu_d) = (&cpu[2 * i], &cpu[2 * i + 1]);
            contenders.push(Contender::new(
                format!("compress {}", b.name()),
                move || {
                    let start = process_cpu_seconds();
                    b.compress_batch(black_box(pages), &mut outs.borrow_mut())
                        .unwrap_or_else(|e| panic!("{e}"));
                    cpu_c.borrow_mut().push(process_cpu_seconds() - start);
                },
            ));
            contenders.push(Contender::new(
                format!("decompress {}", b.name()),
                move || {
                    let start = process_cpu_seconds();
                    b.decompress_batch(black_box(packed), &mut backs.borrow_mut())
                        .unwrap_or_else(|e| panic!("{e}"));
                    cpu_d.borrow_mut().push(process_cpu_seconds() - start);
                },
            ));
        }
        let speeds = harness::measure(corpus.bytes(), args.rounds, &mut contenders);
        let per_cpu: Vec<f64> = cpu
            .iter()
            .map(|c| corpus.bytes() as f64 / harness::median(c.borrow().clone()) / 1e6)
            .collect();
        // Order: compress x1, decompress x1, compress x2, decompress x2.
        for (i, c) in contenders.iter().enumerate() {
            let threads = if i < 2 { 1.0 } else { 2.0 };
            let efficiency = per_cpu[i] / per_cpu[i % 2];
            report.row(
                format!("{} {}", corpus.name, c.name),
                vec![
                    speeds[i],
                    speeds[i] / speeds[i % 2],
                    per_cpu[i],
                    efficiency,
                    threads * efficiency,
                    ratio,
                ],
            );
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    report.note(format!(
        "{ALGORITHM:?}, each page on its own, {} pages per worker task; median of interleaved rounds",
        RayonBatch::<trueno_zram::StandardCompressor>::CHUNK_PAGES
    ));
    report.note(format!(
        "MB/CPU-s: data per CPU-second of all threads; CPU eff: that against 1 thread; 2 cores x: \
         2 x CPU eff, the speed-up two idle cores give. {cores} cores, load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    ));
    report.finish(&args);
}
