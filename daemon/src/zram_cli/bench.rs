//! `bench`: our codecs over a corpus, each page on its own, with a progress bar, a table, and
//! optional JSON and HTML reports.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use trueno_zram::bench::{self, BenchReport, CodecSpec};

use super::error::{CliError, CliResult};

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A file whose 4 KiB pages are measured; a built-in synthetic mix when omitted.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Measure at most this many pages (synthetic mix: this many, default 4096).
    #[arg(long)]
    pages: Option<usize>,
    /// Codecs to run (comma-separated or repeated); every codec of this build when omitted.
    #[arg(long, value_delimiter = ',')]
    codec: Vec<String>,
    /// Timed rounds per codec; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write an HTML report with a chart of ratio against throughput to this file.
    #[arg(long)]
    html: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

/// The codecs named, or all of them; an unknown name is a usage error listing the known ones.
pub fn select_codecs(names: &[String]) -> CliResult<Vec<CodecSpec>> {
    if names.is_empty() {
        return Ok(bench::available_codecs());
    }
    names
        .iter()
        .map(|n| {
            let spec = bench::codec_named(n).ok_or_else(|| {
                let known: Vec<String> = bench::available_codecs()
                    .into_iter()
                    .map(|c| c.name)
                    .collect();
                CliError::usage(format!(
                    "unknown codec `{n}`: this build has {} (and zstd:LEVEL)",
                    known.join(", ")
                ))
            })?;
            // Build once here so that a bad level is a usage error before any work starts.
            spec.builder
                .build()
                .map_err(|e| CliError::usage(format!("codec `{n}`: {e}")))?;
            Ok(spec)
        })
        .collect()
}

/// A progress bar on stderr over `total` units (drawn only on a terminal), or a hidden one.
pub fn progress_bar(total: u64, quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {percent:>3}% {elapsed_precise} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Prints the results table.
pub fn print_table(report: &BenchReport) {
    println!(
        "corpus: {}, {} pages ({:.1} MiB), one thread, each page on its own, median of {} rounds, {} backend",
        report.corpus,
        report.pages,
        (report.pages * trueno_zram::PAGE_SIZE) as f64 / 1048576.0,
        report.rounds,
        report.backend
    );
    println!(
        "{:<14} {:>14} {:>16} {:>8} {:>8} {:>8}",
        "CODEC", "COMPRESS MB/s", "DECOMPRESS MB/s", "RATIO", "SAME", "STORED"
    );
    for r in &report.results {
        println!(
            "{:<14} {:>14.0} {:>16.0} {:>8.3} {:>8} {:>8}",
            r.codec, r.compress_mb_s, r.decompress_mb_s, r.ratio, r.same_fill_pages, r.stored_pages
        );
    }
}

fn write_file(path: &Path, content: &str) -> CliResult {
    std::fs::write(path, content)
        .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))
}

/// Runs `bench`.
pub fn run(args: &BenchArgs) -> CliResult {
    let codecs = select_codecs(&args.codec)?;
    let (name, pages) = super::corpus(args.corpus.as_deref(), args.pages)?;
    let rounds = args.rounds as usize;
    let bar = progress_bar(
        bench::progress_total(pages.len(), codecs.len(), rounds),
        args.quiet,
        "bench",
    );
    let report = bench::run(&name, &pages, &codecs, rounds, &mut |n| bar.inc(n))
        .map_err(|e| CliError::failure(e.to_string()))?;
    bar.finish_and_clear();
    print_table(&report);
    if let Some(path) = &args.json {
        write_file(path, &report.to_json())?;
    }
    if let Some(path) = &args.html {
        write_file(path, &bench::render_html(&report))?;
    }
    Ok(())
}
