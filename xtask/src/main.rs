//! `cargo xtask`: the project's automation, in Rust so that it runs wherever cargo does.
//!
//! Commands: `ci`, `build-targets`, `test-cross`, `test-firmware`, `firmware-size`, `lint-firmware`,
//! `miri`, `bench NAME [ARGS]`, `fuzz NAME --seconds N`, `soak --minutes N`, `ptx`,
//! `ptx-check`.

mod cmd;
mod defmt;
mod elf;
mod firmware;
mod gpu;
mod setup;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci                         install what is missing, then fmt, clippy, tests, build-targets, test-cross, miri,
                             ptx-check
  build-targets              build the no_std crates for every embedded target
  test-cross                 run the core's tests for aarch64 under qemu-user (NEON kernels for real), then
                             the firmware suite on emulated Cortex-M4F and RISC-V 32 boards (qemu-system)
  test-firmware              only the firmware part of test-cross
  lint-firmware              fmt and clippy on the board crates (outside the workspace) and the suite
                             for their targets (part of ci)
  firmware-size              flash size of each codec in the firmware (both boards, opt-level s and 3)
  miri                       run the core's tests under Miri
  bench NAME [--corpus FILE] run benchmark NAME in release (tests/benches/NAME.rs); JSON in target/bench/NAME.json
  fuzz NAME [--seconds N]    run fuzz target NAME (tests/fuzz) with cargo fuzz for N seconds (default 60)
  soak [--minutes N]         the release daemon under fio with crc32c verify over 4 connections (default 10)
  ptx                        regenerate the GPU kernels' PTX (std-adapter/src/gpu/lz4.ptx) on nightly
  ptx-check                  check that the PTX is current, assemble it with ptxas for sm_80 and sm_90";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = match command.as_str() {
        "ci" => cmd::ci(),
        "build-targets" => cmd::build_targets(),
        "test-cross" => cmd::test_cross(),
        "test-firmware" => firmware::test_firmware(),
        "firmware-size" => firmware::firmware_size(),
        "lint-firmware" => firmware::lint_boards(),
        "miri" => cmd::miri(),
        "bench" => cmd::bench(rest),
        "fuzz" => cmd::fuzz(rest),
        "soak" => cmd::soak(rest),
        "ptx" => gpu::ptx(),
        "ptx-check" => gpu::ptx_check(),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
