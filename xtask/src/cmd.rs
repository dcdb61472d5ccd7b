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

/// The checkout `cargo xtask` was run in: the nearest directory above the current one that holds
/// `xtask/Cargo.toml`. Found at run time because one xtask binary, built into a shared
/// `CARGO_TARGET_DIR`, may be run from several checkouts; the compile-time path is the fallback.
pub fn workspace_root() -> PathBuf {
    let from_cwd = std::env::current_dir().ok().and_then(|cwd| {
        cwd.ancestors()
            .find(|dir| dir.join("xtask").join("Cargo.toml").is_file())
            .map(Path::to_path_buf)
    });
    from_cwd.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    })
}

/// Everything CI checks, in order, stopping at the first failure.
pub fn ci() -> Result<(), String> {
    setup::apt_packages(setup::EMULATOR_PACKAGES)?;
    setup::apt_packages(setup::APT_PACKAGES)?;
    setup::rustup_components("stable", &["rustfmt", "clippy"])?;
    setup::rustup_targets("stable", EMBEDDED_TARGETS)?;
    setup::rustup_targets("stable", &[CROSS_TEST_TARGET])?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    // Cheap and independent of the build: a stale PTX fails here, before the long steps.
    crate::gpu::ptx_check()?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    crate::firmware::lint_boards()?;
    run(cargo().args(["test", "--workspace"]))?;
    build_targets()?;
    // Miri (`cargo xtask miri`, several minutes for the core and the pool) runs on its own: with it,
    // a full run would not stay within the 30 minutes CI allows on a 2-core machine.
    test_cross()
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

/// Runs the core's tests for aarch64 Linux under qemu-user, so that the NEON kernels run for real,
/// then the firmware suite on the emulated Cortex-M4F and RISC-V 32 boards.
pub fn test_cross() -> Result<(), String> {
    setup::apt_packages(setup::EMULATOR_PACKAGES)?;
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
        .env("PROPTEST_CASES", "64"))?;
    crate::firmware::test_firmware()
}

/// Runs the core's and the alloc layer's tests under Miri (nightly). The alloc layer's tests shrink
/// themselves under `cfg(miri)` (the page pool's model test and its concurrent stress test).
pub fn miri() -> Result<(), String> {
    setup::nightly()?;
    setup::rustup_components("nightly", &["miri", "rust-src"])?;
    for package in ["trueno-zram-core", "trueno-zram-alloc"] {
        run(cargo_on("nightly")
            .args(["miri", "test", "-p", package])
            .env("MIRIFLAGS", "-Zmiri-disable-isolation")
            .env("PROPTEST_DISABLE_FAILURE_PERSISTENCE", "1"))?;
    }
    Ok(())
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
    if name == "device" {
        // The device benchmark runs the release daemon binary beside itself.
        build_release_daemon()?;
    }
    let json = workspace_root()
        .join("target/bench")
        .join(format!("{name}.json"));
    run(cargo()
        .args(["bench", "-p", "trueno-zram-tests", "--bench", name, "--"])
        .args(absolute_corpus_paths(rest)?)
        .arg("--json")
        .arg(&json))
}

/// Builds the release `trueno-ublk` binary that the device benchmark and the soak run.
fn build_release_daemon() -> Result<(), String> {
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "trueno-ublk",
        "--bin",
        "trueno-ublk",
    ]))
}

/// The benchmark's arguments with every `--corpus` path made absolute: cargo runs a benchmark from
/// its package's folder (`tests/`), so a path relative to where `cargo xtask` was started would
/// name the wrong file there.
fn absolute_corpus_paths(args: &[String]) -> Result<Vec<String>, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let absolute = |path: &str| cwd.join(path).to_string_lossy().into_owned();
    let mut out = Vec::with_capacity(args.len());
    let mut path_next = false;
    for arg in args {
        if path_next {
            out.push(absolute(arg));
            path_next = false;
        } else if let Some(path) = arg.strip_prefix("--corpus=") {
            out.push(format!("--corpus={}", absolute(path)));
        } else {
            path_next = arg == "--corpus";
            out.push(arg.clone());
        }
    }
    Ok(out)
}

fn bench_names() -> Vec<String> {
    let dir = workspace_root().join("tests/benches");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            // A benchmark is NAME.rs, or a folder NAME/ with a main.rs (not the shared harness/).
            if path.join("main.rs").is_file() {
                return path.file_name()?.to_str().map(str::to_owned);
            }
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
        .args(shared_seed_dirs(name))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1");
    run(&mut cmd)
}

/// `soak --minutes N`: the release daemon on a Unix socket under fio with crc32c verification over
/// four connections (each on its own region, varied block sizes, a new seed each pass, compressible
/// and incompressible data in turn) until the
/// time is up; any fio error, a failed request in the daemon's figures or an unclean stop fails it.
pub fn soak(args: &[String]) -> Result<(), String> {
    let minutes = match args {
        [] => 10,
        [flag, n] if flag == "--minutes" => n
            .parse::<u64>()
            .map_err(|e| format!("--minutes {n}: {e}"))?,
        _ => return Err("usage: cargo xtask soak [--minutes N]".into()),
    };
    setup::apt_packages(&["fio"])?;
    build_release_daemon()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let bin = target.join("release/trueno-ublk");
    let dir = std::env::temp_dir().join(format!("trueno-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let socket = dir.join("soak.nbd");
    let mut daemon = Command::new(&bin)
        .args(["create", "--foreground", "--name", "soak", "--size", "1G"])
        .arg("--socket")
        .arg(&socket)
        .env("TRUENO_UBLK_RUN_DIR", &dir)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let ready = std::time::Instant::now();
    while !dir.join("soak.ctl").exists() {
        if ready.elapsed().as_secs() > 10 {
            let _ = daemon.kill();
            return Err("the daemon did not start within 10 s".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let uri = format!("nbd+unix:///soak?socket={}", socket.display());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(minutes * 60);
    let mut pass = 0u64;
    let result = loop {
        if std::time::Instant::now() >= deadline {
            break Ok(());
        }
        pass += 1;
        // Sequential, random, and trim-then-write (discards on the device) in turn.
        let rw = ["write", "randwrite", "trimwrite"][usize::try_from(pass % 3).unwrap_or(0)];
        // Every other pair of passes writes data that compresses (fio fills 60% of each buffer
        // with zeros), so that both the codec's and the stored pages' paths are soaked.
        let compressible = (pass / 2).is_multiple_of(2);
        let outcome = run(Command::new("fio")
            .args([
                "--name=soak",
                "--ioengine=nbd",
                "--numjobs=4",
                "--size=64m",
                "--offset_increment=64m",
                "--bsrange=4k-128k",
                "--verify=crc32c",
                "--verify_fatal=1",
                "--do_verify=1",
                "--group_reporting",
                "--minimal",
                "--verify_state_save=0",
            ])
            .arg(format!("--rw={rw}"))
            // fio issues a block's trim and its write together: at a depth above 1 the two may
            // pass each other (NBD lets a server reorder requests in flight, nbdkit does too),
            // so trim-then-write runs one request at a time.
            .arg(format!(
                "--iodepth={}",
                if rw == "trimwrite" { 1 } else { 16 }
            ))
            .arg(format!("--randseed={pass}"))
            .args(
                compressible
                    .then_some(["--buffer_compress_percentage=60", "--refill_buffers"])
                    .into_iter()
                    .flatten(),
            )
            .arg(format!("--uri={uri}"))
            .stdout(std::process::Stdio::null()));
        if let Err(e) = outcome {
            break Err(format!("pass {pass}: {e}"));
        }
        eprintln!(
            "soak: pass {pass} verified, {} s left",
            deadline
                .saturating_duration_since(std::time::Instant::now())
                .as_secs()
        );
    };
    let daemon_stat = |extra: &[&str]| {
        Command::new(&bin)
            .args(["stat", "soak"])
            .args(extra)
            .env("TRUENO_UBLK_RUN_DIR", &dir)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    eprintln!("{}", daemon_stat(&[]));
    // The counters are checked in the JSON form, whose keys are stable, not in the table's layout.
    let stat = daemon_stat(&["--json"]);
    let failed_counters: Vec<&str> = ["failed_reads", "failed_writes", "invalid_io"]
        .into_iter()
        .filter(|counter| !stat.contains(&format!("\"{counter}\":0,")))
        .collect();
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let status = daemon.wait().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    if !failed_counters.is_empty() {
        return Err(format!(
            "the daemon counted failed requests (or did not answer): {} not 0 in\n{stat}",
            failed_counters.join(", ")
        ));
    }
    if !status.success() {
        return Err(format!("the daemon did not stop cleanly: {status}"));
    }
    eprintln!("soak: {pass} passes over {minutes} min, all verified, clean stop");
    Ok(())
}

/// Folders of the shared vectors (`../shared/vectors`, or `$TRUENO_SHARED/vectors`) that seed a fuzz
/// target, read in place: nothing from `shared/` is copied into the project. None when absent.
fn shared_seed_dirs(target: &str) -> Vec<PathBuf> {
    let shared = std::env::var_os("TRUENO_SHARED")
        .map_or_else(|| workspace_root().join("../shared"), PathBuf::from);
    let folders: &[&str] = if target.starts_with("zstd") {
        &[
            "vectors/decodecorpus/page4k",
            "vectors/decodecorpus/page4k-cs",
            "vectors/decodecorpus/max64k",
            "vectors/decodecorpus/dict4k",
            "vectors/zstd/golden-decompression",
            "vectors/zstd/golden-decompression-errors",
            "vectors/pages4k",
        ]
    } else {
        &[]
    };
    folders
        .iter()
        .map(|f| shared.join(f))
        .filter(|p| p.is_dir())
        .collect()
}
