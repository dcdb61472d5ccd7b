//! The `trueno-zram` command line: kernel zram devices (`create`, `status`, `remove`), our codecs
//! (`bench`), both side by side (`compare`), and what a file's pages would compress to (`entropy`).
//! One module per command; errors are one line with an exit code a script can test.

mod bench;
mod compare;
mod create;
mod entropy;
pub mod error;
mod remove;
mod status;
mod system;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use trueno_zram::kernel::Zram;

pub use error::{CliError, CliResult, exit};

/// Linux kernel zram devices and trueno-zram's own codecs, measured side by side.
#[derive(Debug, Parser)]
#[command(name = "trueno-zram", version, after_help = error::EXIT_CODES_HELP)]
pub struct Cli {
    /// The sysfs root to work under (tests use a fake tree).
    #[arg(long, global = true, hide = true, default_value = "/sys")]
    sysfs: PathBuf,
    /// The device-node root to work under.
    #[arg(long, global = true, hide = true, default_value = "/dev")]
    dev: PathBuf,
    /// The command.
    #[command(subcommand)]
    command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create (configure) a kernel zram device; prints its path, e.g. /dev/zram0.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Create(create::CreateArgs),
    /// Show kernel zram devices, like zramctl.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Status(status::StatusArgs),
    /// Reset and remove kernel zram devices.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Remove(remove::RemoveArgs),
    /// Measure trueno-zram's codecs on a corpus of pages.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Bench(bench::BenchArgs),
    /// Put the same pages through kernel zram (each algorithm it offers) and through our codecs.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Compare(compare::CompareArgs),
    /// Per-page entropy distribution of a file and the compression ratio it predicts.
    #[command(after_help = error::EXIT_CODES_HELP)]
    Entropy(entropy::EntropyArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> CliResult {
    let zram = Zram::with_roots(&cli.sysfs, &cli.dev);
    match cli.command {
        Command::Create(args) => create::run(&zram, &args),
        Command::Status(args) => status::run(&zram, &args),
        Command::Remove(args) => remove::run(&zram, &args),
        Command::Bench(args) => bench::run(&args),
        Command::Compare(args) => compare::run(&zram, &args),
        Command::Entropy(args) => entropy::run(&args),
    }
}

/// Loads the pages of `file`, at most `limit` of them (a short tail page is zero-padded).
fn load_pages(file: &std::path::Path, limit: Option<usize>) -> CliResult<Vec<trueno_zram::Page>> {
    let bytes = std::fs::read(file)
        .map_err(|e| CliError::failure(format!("cannot read {}: {e}", file.display())))?;
    let mut pages = trueno_zram::bench::pages_from_bytes(&bytes);
    if let Some(n) = limit {
        pages.truncate(n);
    }
    if pages.is_empty() {
        return Err(CliError::usage(format!(
            "{} is empty: no pages to measure",
            file.display()
        )));
    }
    Ok(pages)
}

/// The corpus for `bench` and `compare`: a file's pages, or the built-in synthetic mix.
fn corpus(
    file: Option<&std::path::Path>,
    limit: Option<usize>,
) -> CliResult<(String, Vec<trueno_zram::Page>)> {
    match file {
        Some(path) => {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            Ok((name, load_pages(path, limit)?))
        }
        None => {
            let n = limit.unwrap_or(4096);
            Ok((
                format!("synthetic mix ({n} pages)"),
                trueno_zram::bench::synthetic_mix(n, 0x7275_656e_6f7a),
            ))
        }
    }
}
