//! Same-fill detection per SIMD backend on L1-resident pages: GB/s of page data scanned.
//! A same-fill page is scanned to its end, the worst case for detection; the mixed set adds pages that
//! differ only in their last byte.

mod harness;

use harness::{Contender, Report};
use std::hint::black_box;
use trueno_zram::{PAGE_SIZE, SimdBackend, samefill};

fn main() {
    let args = harness::args();
    // Eight pages (32 KiB) stay in a 32 KiB or larger L1 data cache on the machines we target.
    let mut pages = vec![[0u8; PAGE_SIZE]; 8];
    for (i, p) in pages.iter_mut().enumerate() {
        samefill::fill(p, 0x0101_0101_0101_0101 * i as u64);
    }
    let repeats = 20_000;
    let bytes = pages.len() * PAGE_SIZE * repeats;
    let backends: Vec<SimdBackend> = SimdBackend::available().collect();
    let mut contenders: Vec<Contender> = backends
        .iter()
        .map(|&b| {
            let pages = &pages;
            Contender::new(b.name(), move || {
                for _ in 0..repeats {
                    for p in pages {
                        black_box(samefill::detect_with(b, black_box(p)));
                    }
                }
            })
        })
        .collect();
    let speeds = harness::measure(bytes, args.rounds, &mut contenders);
    let scalar = speeds[0];
    let mut report = Report::new("samefill", &["GB/s", "vs scalar"]);
    for (b, s) in backends.iter().zip(&speeds) {
        report.row(b.name(), vec![s / 1000.0, s / scalar]);
    }
    report.note(
        "detect() on L1-resident same-fill pages (full scan), single thread, median of rounds",
    );
    report.finish(&args);
}
