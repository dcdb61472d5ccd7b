//! LZ4 on real pages, each page on its own, single thread: our codec against liblz4
//! (`LZ4_compress_fast_extState` with a reused state at acceleration 1, `LZ4_decompress_safe`) and
//! lz4_flex (block API, reused table), interleaved in one process.
//!
//! Compression: every contender compresses every page into a destination of `LZ4_compressBound` bytes.
//! Decompression: every contender decodes liblz4's blocks of the same pages into a 4096-byte page
//! (ours writes the same blocks, checked below). Ratios are total input over total block bytes.
//!
//! Beside wall-clock MB/s, each run is also timed in CPU time of this thread: on a shared machine the process is often descheduled, and CPU time
//! does not count those gaps, so the CPU-time ratios are the steadier ones. Steadier still on a busy
//! machine are the "best" columns: every contender runs each chunk of 64 pages once per round,
//! interleaved, and the fastest run of each chunk counts; a preemption or a noisy neighbour then
//! spoils one chunk's sample instead of a whole round.
//!
//! `cargo xtask bench lz4 [--corpus FILE]... [--rounds N]`

mod harness;

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};
use std::hint::black_box;
use std::ops::Range;
use std::time::Instant;

use harness::{Contender, Report};
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

const BOUND: usize = lz4::compress_bound(PAGE_SIZE);

/// liblz4's compressor with its state allocated once.
struct LibLz4 {
    state: Vec<u64>,
}

impl LibLz4 {
    fn new() -> Self {
        // SAFETY: a plain query.
        let size = usize::try_from(unsafe { LZ4_sizeofState() }).unwrap_or(0);
        Self {
            state: vec![0u64; size.div_ceil(8)],
        }
    }

    fn compress(&mut self, page: &Page, dst: &mut [u8; BOUND]) -> usize {
        // SAFETY: the state is LZ4_sizeofState() bytes, 8-aligned; src and dst are valid for the
        // sizes given.
        let n = unsafe {
            LZ4_compress_fast_extState(
                self.state.as_mut_ptr().cast(),
                page.as_ptr().cast(),
                dst.as_mut_ptr().cast(),
                PAGE_SIZE as c_int,
                BOUND as c_int,
                1,
            )
        };
        usize::try_from(n).unwrap_or(0)
    }
}

fn liblz4_decompress(block: &[u8], page: &mut Page) -> usize {
    // SAFETY: src and dst are valid for the sizes given; liblz4 checks the block.
    let n = unsafe {
        lz4_sys::LZ4_decompress_safe(
            block.as_ptr().cast(),
            page.as_mut_ptr().cast(),
            block.len() as c_int,
            PAGE_SIZE as c_int,
        )
    };
    usize::try_from(n).unwrap_or(0)
}

/// A contender whose every run also logs its CPU time.
fn cpu_timed<'a>(
    name: impl Into<String>,
    log: &'a RefCell<Vec<f64>>,
    mut run: impl FnMut() + 'a,
) -> Contender<'a> {
    Contender::new(name, move || {
        let start = harness::thread_cpu_seconds();
        run();
        log.borrow_mut().push(harness::thread_cpu_seconds() - start);
    })
}

/// Pages per chunk of the best-of-rounds measurement.
const CHUNK: usize = 64;

/// A run over the pages (or blocks) of one chunk.
type ChunkRun<'a> = Box<dyn FnMut(Range<usize>) + 'a>;

/// Seconds per contender: for every chunk of [`CHUNK`] items, the fastest of `rounds` runs (all
/// contenders interleaved, chunk by chunk), summed over the chunks.
fn best_of_chunks(items: usize, rounds: usize, runs: &mut [ChunkRun<'_>]) -> Vec<f64> {
    let chunks: Vec<Range<usize>> = (0..items)
        .step_by(CHUNK)
        .map(|s| s..(s + CHUNK).min(items))
        .collect();
    let mut best = vec![vec![f64::MAX; chunks.len()]; runs.len()];
    for _ in 0..rounds {
        for (c, range) in chunks.iter().enumerate() {
            for (k, run) in runs.iter_mut().enumerate() {
                let start = Instant::now();
                run(range.clone());
                best[k][c] = best[k][c].min(start.elapsed().as_secs_f64());
            }
        }
    }
    best.iter().map(|b| b.iter().sum()).collect()
}

/// MB per CPU-second from the median of the logged runs (the first, a warm-up, left out).
fn cpu_speed(bytes: usize, log: &RefCell<Vec<f64>>) -> f64 {
    let samples: Vec<f64> = log.borrow().iter().skip(1).copied().collect();
    bytes as f64 / harness::median(samples) / 1e6
}

struct Blocks {
    bytes: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl Blocks {
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.ranges.iter().map(|&(s, e)| &self.bytes[s..e])
    }
}

fn main() {
    let args = harness::args();
    let backends: Vec<SimdBackend> = SimdBackend::available().collect();
    let mut report = Report::new(
        "lz4",
        &[
            "comp MB/s",
            "decomp MB/s",
            "ratio",
            "comp x lib",
            "decomp x lib",
            "ratio x lib",
            "comp CPU x lib",
            "decomp CPU x lib",
            "comp best x lib",
            "decomp best x lib",
        ],
    );
    for corpus in harness::corpora(&args) {
        let pages = &corpus.pages;
        let bytes = corpus.bytes();

        // liblz4's blocks: the decompression workload and the reference sizes.
        let mut lib = LibLz4::new();
        let mut blocks = Blocks {
            bytes: Vec::new(),
            ranges: Vec::new(),
        };
        let mut buf = [0u8; BOUND];
        for p in pages {
            let n = lib.compress(p, &mut buf);
            assert!(n > 0, "liblz4 failed on a page");
            let start = blocks.bytes.len();
            blocks.bytes.extend_from_slice(&buf[..n]);
            blocks.ranges.push((start, start + n));
        }
        let lib_size = blocks.bytes.len();

        // Our sizes, and a check that we write liblz4's bytes.
        let mut ours = lz4::Compressor::new();
        let mut our_size = 0;
        let mut identical = 0usize;
        for (p, lib_block) in pages.iter().zip(blocks.iter()) {
            let n = ours.compress_page(p, &mut buf).expect("compress");
            our_size += n;
            identical += usize::from(&buf[..n] == lib_block);
        }
        let mut flex_table = lz4_flex::block::CompressTable::small();
        let mut flex_size = 0;
        // lz4_flex asks for more room than LZ4_compressBound.
        let flex_bound = lz4_flex::block::get_maximum_output_size(PAGE_SIZE);
        let mut flex_buf = vec![0u8; flex_bound];
        for p in pages {
            flex_size +=
                lz4_flex::block::compress_into_with_table(p, &mut flex_buf, &mut flex_table)
                    .expect("lz4_flex compress");
        }

        let contenders = 2 + backends.len();
        let comp_cpu: Vec<RefCell<Vec<f64>>> =
            (0..contenders).map(|_| RefCell::default()).collect();
        let decomp_cpu: Vec<RefCell<Vec<f64>>> =
            (0..contenders).map(|_| RefCell::default()).collect();
        let mut compressors = {
            let mut out_lib = [0u8; BOUND];
            let mut out_flex = vec![0u8; flex_bound];
            let mut lib = LibLz4::new();
            let mut flex_table = lz4_flex::block::CompressTable::small();
            let mut list = vec![
                cpu_timed("liblz4", &comp_cpu[0], move || {
                    for p in pages {
                        black_box(lib.compress(black_box(p), &mut out_lib));
                    }
                }),
                cpu_timed("lz4_flex", &comp_cpu[1], move || {
                    for p in pages {
                        black_box(
                            lz4_flex::block::compress_into_with_table(
                                black_box(p),
                                &mut out_flex,
                                &mut flex_table,
                            )
                            .ok(),
                        );
                    }
                }),
            ];
            for (i, &backend) in backends.iter().enumerate() {
                let mut ours = lz4::Compressor::with_backend(backend);
                let mut out = [0u8; BOUND];
                list.push(cpu_timed(backend.name(), &comp_cpu[2 + i], move || {
                    for p in pages {
                        black_box(ours.compress_page(black_box(p), &mut out).ok());
                    }
                }));
            }
            list
        };
        let comp = harness::measure(bytes, args.rounds, &mut compressors);
        drop(compressors);

        let blocks_ref = &blocks;
        let mut decompressors = {
            let mut page_lib = [0u8; PAGE_SIZE];
            let mut page_flex = [0u8; PAGE_SIZE];
            let mut list = vec![
                cpu_timed("liblz4", &decomp_cpu[0], move || {
                    for b in blocks_ref.iter() {
                        black_box(liblz4_decompress(black_box(b), &mut page_lib));
                    }
                }),
                cpu_timed("lz4_flex", &decomp_cpu[1], move || {
                    for b in blocks_ref.iter() {
                        black_box(
                            lz4_flex::block::decompress_into(black_box(b), &mut page_flex).ok(),
                        );
                    }
                }),
            ];
            for (i, &backend) in backends.iter().enumerate() {
                let mut page = [0u8; PAGE_SIZE];
                list.push(cpu_timed(backend.name(), &decomp_cpu[2 + i], move || {
                    for b in blocks_ref.iter() {
                        black_box(lz4::decompress_page(backend, black_box(b), &mut page).ok());
                    }
                }));
            }
            list
        };
        let decomp = harness::measure(bytes, args.rounds, &mut decompressors);
        drop(decompressors);

        // The best-of-chunks pass, same contenders, same order.
        let comp_best = {
            let mut out_lib = [0u8; BOUND];
            let mut out_flex = vec![0u8; flex_bound];
            let mut lib = LibLz4::new();
            let mut flex_table = lz4_flex::block::CompressTable::small();
            let mut runs: Vec<ChunkRun<'_>> = vec![
                Box::new(move |r: Range<usize>| {
                    for p in &pages[r] {
                        black_box(lib.compress(black_box(p), &mut out_lib));
                    }
                }),
                Box::new(move |r: Range<usize>| {
                    for p in &pages[r] {
                        black_box(
                            lz4_flex::block::compress_into_with_table(
                                black_box(p),
                                &mut out_flex,
                                &mut flex_table,
                            )
                            .ok(),
                        );
                    }
                }),
            ];
            for &backend in &backends {
                let mut ours = lz4::Compressor::with_backend(backend);
                let mut out = [0u8; BOUND];
                runs.push(Box::new(move |r: Range<usize>| {
                    for p in &pages[r] {
                        black_box(ours.compress_page(black_box(p), &mut out).ok());
                    }
                }));
            }
            best_of_chunks(pages.len(), args.rounds, &mut runs)
        };
        let decomp_best = {
            let mut page_lib = [0u8; PAGE_SIZE];
            let mut page_flex = [0u8; PAGE_SIZE];
            let mut runs: Vec<ChunkRun<'_>> = vec![
                Box::new(move |r: Range<usize>| {
                    for &(s, e) in &blocks_ref.ranges[r] {
                        let b = &blocks_ref.bytes[s..e];
                        black_box(liblz4_decompress(black_box(b), &mut page_lib));
                    }
                }),
                Box::new(move |r: Range<usize>| {
                    for &(s, e) in &blocks_ref.ranges[r] {
                        let b = &blocks_ref.bytes[s..e];
                        black_box(
                            lz4_flex::block::decompress_into(black_box(b), &mut page_flex).ok(),
                        );
                    }
                }),
            ];
            for &backend in &backends {
                let mut page = [0u8; PAGE_SIZE];
                runs.push(Box::new(move |r: Range<usize>| {
                    for &(s, e) in &blocks_ref.ranges[r] {
                        let b = &blocks_ref.bytes[s..e];
                        black_box(lz4::decompress_page(backend, black_box(b), &mut page).ok());
                    }
                }));
            }
            best_of_chunks(pages.len(), args.rounds, &mut runs)
        };

        // Contender order: liblz4, lz4_flex, then ours per backend (every backend writes the same
        // blocks, so they share one size).
        let ratio = |size: usize| bytes as f64 / size as f64;
        let mut names = vec!["liblz4".to_string(), "lz4_flex".to_string()];
        names.extend(backends.iter().map(|b| format!("trueno {b}")));
        let mut sizes = vec![lib_size, flex_size];
        sizes.extend(backends.iter().map(|_| our_size));
        for i in 0..names.len() {
            report.row(
                format!("{} / {}", corpus.name, names[i]),
                vec![
                    comp[i],
                    decomp[i],
                    ratio(sizes[i]),
                    comp[i] / comp[0],
                    decomp[i] / decomp[0],
                    ratio(sizes[i]) / ratio(lib_size),
                    cpu_speed(bytes, &comp_cpu[i]) / cpu_speed(bytes, &comp_cpu[0]),
                    cpu_speed(bytes, &decomp_cpu[i]) / cpu_speed(bytes, &decomp_cpu[0]),
                    comp_best[0] / comp_best[i],
                    decomp_best[0] / decomp_best[i],
                ],
            );
        }
        report.note(format!(
            "{}: {} pages; {identical} of our blocks are byte-identical to liblz4's",
            corpus.name,
            pages.len()
        ));
    }
    report.note(
        "single thread, each page on its own, median of interleaved rounds; decompression decodes liblz4's blocks",
    );
    report.finish(&args);
}
