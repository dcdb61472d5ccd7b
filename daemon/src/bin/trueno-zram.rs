//! `trueno-zram`: manage Linux kernel zram devices and measure trueno-zram's codecs against them.
//! See `trueno-zram --help`; every command has its own `--help`.

use std::process::ExitCode;

use clap::Parser;
use trueno_ublk::zram_cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    trueno_ublk::cli::die_quietly_on_closed_stdout();
    match zram_cli::run(cli) {
        Ok(()) => ExitCode::from(zram_cli::exit::OK),
        Err(e) => {
            eprintln!("trueno-zram: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
