//! `compare`: the same pages through a real kernel zram device, once per algorithm the kernel
//! offers, and through our codecs; both side by side with the kernel's own `mm_stat` figures.
//!
//! The kernel figures include the block layer (one O_DIRECT request per page) and zsmalloc's
//! overhead (`mem_used_total`); ours are the codec alone. That is the honest answer to "what would
//! I gain": ratio against ratio, and the kernel's real memory cost beside it.

use std::path::PathBuf;
use std::time::Instant;

use trueno_zram::kernel::{DeviceConfig, DirectIo, KernelError, MmStat, Zram, ZramDevice};
use trueno_zram::{PAGE_SIZE, Page, bench};

use super::bench::{progress_bar, select_codecs};
use super::error::{CliError, CliResult};

/// Arguments of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// A file whose 4 KiB pages are measured; a built-in synthetic mix when omitted.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Use at most this many pages (synthetic mix: this many, default 4096).
    #[arg(long)]
    pages: Option<usize>,
    /// Kernel algorithms to try (comma-separated); every one the kernel offers when omitted.
    #[arg(long, value_delimiter = ',')]
    kernel: Vec<String>,
    /// Our codecs to run (comma-separated); all when omitted.
    #[arg(long, value_delimiter = ',')]
    codec: Vec<String>,
    /// Timed rounds for our codecs (the kernel device is written once per algorithm).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

/// A device added for the comparison, reset and removed however it ends.
struct ScratchDevice<'a> {
    zram: &'a Zram,
    dev: ZramDevice,
}

impl Drop for ScratchDevice<'_> {
    fn drop(&mut self) {
        let _ = self.dev.reset();
        let _ = self.zram.hot_remove(self.dev.id());
    }
}

/// One kernel algorithm's figures.
struct KernelRow {
    algorithm: String,
    write_mb_s: f64,
    read_mb_s: f64,
    mm: MmStat,
}

fn mb_s(bytes: usize, start: Instant) -> f64 {
    let s = start.elapsed().as_secs_f64();
    if s > 0.0 {
        bytes as f64 / s / 1e6
    } else {
        f64::INFINITY
    }
}

/// Writes every page to a fresh `algorithm` device, reads them back and checks them.
fn kernel_run(
    dev: &ZramDevice,
    algorithm: &str,
    pages: &[Page],
    progress: &dyn Fn(u64),
) -> CliResult<KernelRow> {
    dev.configure(&DeviceConfig {
        disksize: (pages.len() * PAGE_SIZE) as u64,
        algorithm: Some(algorithm.to_owned()),
        ..Default::default()
    })?;
    let mut io = DirectIo::open(dev.node(), dev.name())?;
    let start = Instant::now();
    for (i, page) in pages.iter().enumerate() {
        io.write_page(i as u64, page)?;
    }
    let write_mb_s = mb_s(pages.len() * PAGE_SIZE, start);
    progress(pages.len() as u64);
    let mm = dev.mm_stat()?;
    let mut back = [0u8; PAGE_SIZE];
    let start = Instant::now();
    let mut first_mismatch = None;
    for (i, page) in pages.iter().enumerate() {
        io.read_page(i as u64, &mut back)?;
        if first_mismatch.is_none() && back != *page {
            first_mismatch = Some(i);
        }
    }
    let read_mb_s = mb_s(pages.len() * PAGE_SIZE, start);
    progress(pages.len() as u64);
    drop(io);
    dev.reset()?;
    if let Some(i) = first_mismatch {
        return Err(CliError::failure(format!(
            "kernel zram ({algorithm}) returned page {i} different from what was written"
        )));
    }
    Ok(KernelRow {
        algorithm: algorithm.to_owned(),
        write_mb_s,
        read_mb_s,
        mm,
    })
}

fn ratio(num: u64, den: u64) -> String {
    if den == 0 {
        "-".into()
    } else {
        format!("{:.3}", num as f64 / den as f64)
    }
}

/// Runs `compare`.
pub fn run(zram: &Zram, args: &CompareArgs) -> CliResult {
    let codecs = select_codecs(&args.codec)?;
    let (name, pages) = super::corpus(args.corpus.as_deref(), args.pages)?;
    let scratch = ScratchDevice {
        zram,
        dev: zram.hot_add()?,
    };
    let offered = scratch.dev.comp_algorithm()?;
    let algorithms: Vec<String> = if args.kernel.is_empty() {
        offered.available.clone()
    } else {
        for a in &args.kernel {
            if !offered.offers(a) {
                return Err(KernelError::UnknownAlgorithm {
                    device: scratch.dev.name().to_owned(),
                    algorithm: a.clone(),
                    available: offered.joined(),
                }
                .into());
            }
        }
        args.kernel.clone()
    };
    let rounds = args.rounds as usize;
    let total = 2 * (pages.len() * algorithms.len()) as u64
        + bench::progress_total(pages.len(), codecs.len(), rounds);
    let bar = progress_bar(total, args.quiet, "compare");
    let mut kernel_rows = Vec::new();
    for algorithm in &algorithms {
        kernel_rows.push(kernel_run(&scratch.dev, algorithm, &pages, &|n| {
            bar.inc(n)
        })?);
    }
    drop(scratch);
    let ours = bench::run(&name, &pages, &codecs, rounds, &mut |n| bar.inc(n))
        .map_err(|e| CliError::failure(e.to_string()))?;
    bar.finish_and_clear();

    println!(
        "corpus: {name}, {} pages ({:.1} MiB); kernel: O_DIRECT page writes/reads on a zram device; trueno: codec alone, one thread",
        pages.len(),
        (pages.len() * PAGE_SIZE) as f64 / 1048576.0
    );
    println!(
        "{:<8} {:<12} {:>10} {:>10} {:>8} {:>10} {:>8} {:>8} {:>12} {:>12}",
        "SOURCE",
        "ALGORITHM",
        "WRITE MB/s",
        "READ MB/s",
        "RATIO",
        "MEM RATIO",
        "SAME",
        "HUGE",
        "COMPR",
        "MEM_USED"
    );
    for k in &kernel_rows {
        println!(
            "{:<8} {:<12} {:>10.0} {:>10.0} {:>8} {:>10} {:>8} {:>8} {:>12} {:>12}",
            "kernel",
            k.algorithm,
            k.write_mb_s,
            k.read_mb_s,
            ratio(k.mm.orig_data_size, k.mm.compr_data_size),
            ratio(k.mm.orig_data_size, k.mm.mem_used_total),
            k.mm.same_pages,
            k.mm.huge_pages
                .map_or_else(|| "-".into(), |h| h.to_string()),
            k.mm.compr_data_size,
            k.mm.mem_used_total
        );
    }
    for r in &ours.results {
        println!(
            "{:<8} {:<12} {:>10.0} {:>10.0} {:>8} {:>10} {:>8} {:>8} {:>12} {:>12}",
            "trueno",
            r.codec,
            r.compress_mb_s,
            r.decompress_mb_s,
            ratio(r.input_bytes, r.compr_data_size),
            "-",
            r.same_fill_pages,
            r.stored_pages,
            r.compr_data_size,
            "-"
        );
    }
    println!(
        "RATIO: uncompressed / compressed bytes (same-fill pages cost none, as in mm_stat); MEM RATIO: uncompressed / mem_used_total (the kernel's real memory cost); \
         HUGE: pages stored raw. Kernel MB/s include the block layer."
    );
    Ok(())
}
