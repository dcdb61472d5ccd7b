//! Zstandard benchmarks: each page of the corpus on its own, ours against libzstd (bundled with the
//! `zstd` crate) with reused contexts, interleaved in one process. `cargo xtask bench zstd`.

#[path = "../harness/mod.rs"]
mod harness;

mod decode;
mod encode;

fn main() {
    let mut args = harness::args();
    // Both shared corpora by default: memory pages and file pages compress differently.
    if let Some(dir) = trueno_zram_tests::shared_dir()
        && args.corpora == [dir.join("corpus/memdump.bin")]
    {
        args.corpora.push(dir.join("corpus/files.bin"));
    }
    let corpora = harness::corpora(&args);
    let mut report = harness::Report::new("zstd", &["MB/s", "ratio", "vs libzstd"]);
    let only = |what: &str| args.rest.iter().any(|a| a == what);
    // `--encode` or `--decode` runs one half; by default both.
    if !only("--encode") {
        decode::run(&args, &corpora, &mut report);
    }
    if !only("--decode") {
        encode::run(&args, &corpora, &mut report);
    }
    report.finish(&args);
}
