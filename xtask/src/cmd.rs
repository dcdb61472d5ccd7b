//! The commands themselves.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup::{self, CROSS_TEST_TARGET, EMBEDDED_TARGETS, run};

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

fn cargo_on(toolchain: &str) -> Command {
    // `cargo +toolchain` goes through rustup's proxy, so call the proxy by name, not $CARGO.
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{toolchain}"))
        .current_dir(workspace_root());
    cmd.env_remove("RUSTC")
        .env_remove("CARGO")
        .env_remove("RUSTDOC");
    cmd
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Everything CI checks, in order, stopping at the first failure.
pub fn ci() -> Result<(), String> {
    setup::apt_packages(setup::EMULATOR_PACKAGES)?;
    setup::apt_packages(setup::APT_PACKAGES)?;
    setup::rustup_components("stable", &["rustfmt", "clippy"])?;
    setup::rustup_targets("stable", EMBEDDED_TARGETS)?;
    setup::rustup_targets("stable", &[CROSS_TEST_TARGET])?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args(["test", "--workspace"]))?;
    build_targets()?;
    test_cross()?;
    miri()?;
    crate::gpu::ptx_check()
}

/// Builds the no_std crates for every embedded target.
pub fn build_targets() -> Result<(), String> {
    setup::rustup_targets("stable", EMBEDDED_TARGETS)?;
    for target in EMBEDDED_TARGETS {
        run(cargo().args([
            "build",
            "--release",
            "-p",
            "trueno-zram-core",
            "-p",
            "trueno-zram-alloc",
            "--target",
            target,
        ]))?;
    }
    Ok(())
}

/// Runs the core's tests for aarch64 Linux under qemu-user, so that the NEON kernels run for real.
pub fn test_cross() -> Result<(), String> {
    setup::apt_packages(&[
        "qemu-user",
        "gcc-aarch64-linux-gnu",
        "libc6-dev-arm64-cross",
    ])?;
    setup::rustup_targets("stable", &[CROSS_TEST_TARGET])?;
    run(cargo()
        .args([
            "test",
            "-p",
            "trueno-zram-core",
            "--target",
            CROSS_TEST_TARGET,
        ])
        .env("PROPTEST_CASES", "64"))
}

/// Runs the core's tests under Miri (nightly).
pub fn miri() -> Result<(), String> {
    setup::nightly()?;
    setup::rustup_components("nightly", &["miri", "rust-src"])?;
    run(cargo_on("nightly")
        .args(["miri", "test", "-p", "trueno-zram-core"])
        .env("MIRIFLAGS", "-Zmiri-disable-isolation")
        .env("PROPTEST_DISABLE_FAILURE_PERSISTENCE", "1"))
}

/// Runs `tests/benches/NAME.rs` in release with the remaining arguments; the benchmark prints its table
/// and writes `target/bench/NAME.json`.
pub fn bench(args: &[String]) -> Result<(), String> {
    let Some((name, rest)) = args.split_first() else {
        return Err(format!(
            "bench needs a name: one of {}",
            bench_names().join(", ")
        ));
    };
    if !bench_names().contains(name) {
        return Err(format!(
            "no benchmark `{name}`: one of {}",
            bench_names().join(", ")
        ));
    }
    let json = workspace_root()
        .join("target/bench")
        .join(format!("{name}.json"));
    run(cargo()
        .args(["bench", "-p", "trueno-zram-tests", "--bench", name, "--"])
        .args(rest)
        .arg("--json")
        .arg(&json))
}

fn bench_names() -> Vec<String> {
    let dir = workspace_root().join("tests/benches");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// Runs a cargo-fuzz target from `tests/fuzz` for a number of seconds.
pub fn fuzz(args: &[String]) -> Result<(), String> {
    let Some((name, rest)) = args.split_first() else {
        return Err("fuzz needs a target name (see tests/fuzz/fuzz_targets)".into());
    };
    let seconds = match rest {
        [] => 60,
        [flag, n] if flag == "--seconds" => n
            .parse::<u64>()
            .map_err(|e| format!("--seconds {n}: {e}"))?,
        _ => return Err("usage: cargo xtask fuzz NAME [--seconds N]".into()),
    };
    setup::nightly()?;
    setup::cargo_tool("fuzz", "cargo-fuzz")?;
    let corpus = workspace_root().join("target/fuzz-corpus").join(name);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("creating {}: {e}", corpus.display()))?;
    let seeds = workspace_root().join("tests/fuzz/seeds").join(name);
    let mut cmd = cargo_on("nightly");
    cmd.args(["fuzz", "run", "--fuzz-dir", "tests/fuzz", name])
        .arg(&corpus)
        .args(seeds.is_dir().then_some(&seeds))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1");
    run(&mut cmd)
}
