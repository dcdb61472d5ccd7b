//! Parallel batches: MB/s of uncompressed data through `RayonBatch` on 1 and 2 worker threads, and the
//! speed-up of 2 over 1, for compress and decompress into caller-provided slices and into a
//! `PagePool`. The only benchmark that measures scaling.
//!
//! Wall-clock speed-up needs two idle cores. On a shared machine the process gets less, so the
//! benchmark also measures CPU time (every thread of the process):
//! MB per CPU-second at 2 threads against 1 shows what parallelism costs (pool hand-off, spinning,
//! cache traffic), and 2 x that efficiency is the speed-up two free cores would give.

mod harness;

use harness::{Contender, Report};
use std::cell::RefCell;
use std::hint::black_box;
use trueno_zram::{
    Algorithm, BatchCompressor, CompressedPage, CompressorBuilder, PAGE_SIZE, PagePool, RayonBatch,
};

/// The algorithm measured: LZ4, the default and the one whose scaling the issue asks for.
const ALGORITHM: Algorithm = Algorithm::Lz4;

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
        let pool = PagePool::new();
        let handles = RefCell::new(Vec::new());
        // The pool that `from pool` reads: filled once, read every round.
        let filled = PagePool::new();
        let filled_handles = batches[0]
            .compress_to_pool(pages, &filled)
            .unwrap_or_else(|e| panic!("{e}"));
        // CPU seconds of each call, per contender (warm-up included; the median is taken).
        let kinds = 4;
        let cpu: Vec<RefCell<Vec<f64>>> = (0..kinds * batches.len())
            .map(|_| RefCell::new(Vec::new()))
            .collect();
        let timed = |slot: &RefCell<Vec<f64>>, work: &mut dyn FnMut()| {
            let start = harness::process_cpu_seconds();
            work();
            slot.borrow_mut()
                .push(harness::process_cpu_seconds() - start);
        };
        let mut contenders: Vec<Contender> = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            let (outs, backs, packed, timed) = (&outs, &backs, &packed, &timed);
            let (pool, handles, filled, filled_handles) =
                (&pool, &handles, &filled, &filled_handles);
            let cpu = &cpu[kinds * i..kinds * (i + 1)];
            contenders.push(Contender::new(
                format!("compress {}", b.name()),
                move || {
                    timed(&cpu[0], &mut || {
                        b.compress_batch(black_box(pages), &mut outs.borrow_mut())
                            .unwrap_or_else(|e| panic!("{e}"));
                    });
                },
            ));
            contenders.push(Contender::new(
                format!("decompress {}", b.name()),
                move || {
                    timed(&cpu[1], &mut || {
                        b.decompress_batch(black_box(packed), &mut backs.borrow_mut())
                            .unwrap_or_else(|e| panic!("{e}"));
                    });
                },
            ));
            contenders.push(Contender::new(format!("to pool {}", b.name()), move || {
                timed(&cpu[2], &mut || {
                    pool.clear();
                    *handles.borrow_mut() = b
                        .compress_to_pool(black_box(pages), pool)
                        .unwrap_or_else(|e| panic!("{e}"));
                });
            }));
            contenders.push(Contender::new(
                format!("from pool {}", b.name()),
                move || {
                    timed(&cpu[3], &mut || {
                        b.decompress_from_pool(filled, filled_handles, &mut backs.borrow_mut())
                            .unwrap_or_else(|e| panic!("{e}"));
                    });
                },
            ));
        }
        let speeds = harness::measure(corpus.bytes(), args.rounds, &mut contenders);
        let per_cpu: Vec<f64> = cpu
            .iter()
            .map(|c| corpus.bytes() as f64 / harness::median(c.borrow().clone()) / 1e6)
            .collect();
        // Order: the four kinds on 1 thread, then on 2 threads.
        for (i, c) in contenders.iter().enumerate() {
            let threads = (i / kinds + 1) as f64;
            let base = i % kinds;
            let efficiency = per_cpu[i] / per_cpu[base];
            report.row(
                format!("{} {}", corpus.name, c.name),
                vec![
                    speeds[i],
                    speeds[i] / speeds[base],
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
