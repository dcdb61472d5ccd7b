//! Zstandard benchmarks: each page of the corpus on its own, ours against libzstd (bundled with the
//! `zstd` crate) with reused contexts, interleaved in one process. `cargo xtask bench zstd`.

#[path = "../harness/mod.rs"]
mod harness;

mod decode;

fn main() {
    let args = harness::args();
    let corpora = harness::corpora(&args);
    let mut report = harness::Report::new("zstd", &["MB/s", "ratio", "vs libzstd"]);
    decode::run(&args, &corpora, &mut report);
    report.finish(&args);
}
