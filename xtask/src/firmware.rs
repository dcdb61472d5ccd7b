//! The firmware smoke tests: the page suite of `targets/firmware-suite` runs on the host for the
//! expected digest, then on each emulated board (`targets/cortex-m4`, `targets/riscv32`) under
//! qemu-system, which must print the same digest and exit 0.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trueno_zram_firmware::board::{FAIL_PREFIX, FAILURE_EXIT, PASS_LINE};
use trueno_zram_firmware::pool::POOL_DONE_PREFIX;
use trueno_zram_firmware::stack::Unmeasured;

use crate::cmd::workspace_root;
use crate::setup::{self, run};

/// PAGE_SIZE of the core.
const PAGE: usize = 4096;

/// How long one firmware run may take under emulation (they take well under a second).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// One emulated board.
pub struct Board {
    /// Short name, also the folder under `targets/`.
    pub name: &'static str,
    /// Rust target triple.
    pub target: &'static str,
    /// Binary name of the firmware crate.
    pub binary: &'static str,
    /// The emulator and its arguments, before `-kernel ELF`.
    pub qemu: &'static [&'static str],
}

pub const CORTEX_M4: Board = Board {
    name: "cortex-m4",
    target: "thumbv7em-none-eabihf",
    binary: "trueno-zram-firmware-cortex-m4",
    qemu: &[
        "qemu-system-arm",
        "-machine",
        "mps2-an386",
        "-cpu",
        "cortex-m4",
    ],
};

pub const RISCV32: Board = Board {
    name: "riscv32",
    target: "riscv32imac-unknown-none-elf",
    binary: "trueno-zram-firmware-riscv32",
    qemu: &["qemu-system-riscv32", "-machine", "virt", "-bios", "none"],
};

pub const BOARDS: [&Board; 2] = [&CORTEX_M4, &RISCV32];

/// Flags every board's emulator gets: no display, no monitor or UART, semihosting to our stdio.
const QEMU_COMMON: &[&str] = &[
    "-nographic",
    "-monitor",
    "none",
    "-serial",
    "none",
    "-semihosting-config",
    "enable=on,target=native",
];

/// The page file and the digest that every board must reproduce.
pub struct SuiteInput {
    pub pages: PathBuf,
    pub digest: u64,
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| {
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn firmware_dir() -> PathBuf {
    target_dir().join("firmware")
}

/// Pages from the shared corpus, one from each part of each file: the four processes of
/// memdump.bin, and the ELF, library, text and other parts of files.bin (see its README).
const CORPUS_PICKS: &[(&str, usize)] = &[
    ("corpus/memdump.bin", 1000),
    ("corpus/memdump.bin", 5000),
    ("corpus/memdump.bin", 9000),
    ("corpus/memdump.bin", 13000),
    ("corpus/files.bin", 1000),
    ("corpus/files.bin", 4000),
    ("corpus/files.bin", 6500),
    ("corpus/files.bin", 7800),
];

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TRUENO_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    dir.is_dir().then_some(dir)
}

fn read_page(path: &Path, index: usize) -> Result<Vec<u8>, String> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let offset = u64::try_from(index * PAGE).map_err(|e| e.to_string())?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut page = vec![0u8; PAGE];
    file.read_exact(&mut page)
        .map_err(|e| format!("{} page {index}: {e}", path.display()))?;
    Ok(page)
}

/// The pages to embed: real ones from the shared corpus, or generated text when it is absent.
fn embedded_pages() -> Result<Vec<u8>, String> {
    let shared = shared_dir();
    if let Some(shared) = shared.filter(|d| CORPUS_PICKS.iter().all(|(f, _)| d.join(f).is_file())) {
        let mut bytes = Vec::new();
        for (file, index) in CORPUS_PICKS {
            bytes.extend(read_page(&shared.join(file), *index)?);
        }
        eprintln!(
            "firmware: embedding {} pages of ../shared/corpus",
            CORPUS_PICKS.len()
        );
        return Ok(bytes);
    }
    eprintln!(
        "firmware: ../shared/corpus is absent (it exists only beside the repository); embedding 4 \
         generated text pages instead"
    );
    let mut bytes = Vec::new();
    for seed in 1..=4 {
        let mut page = [0u8; PAGE];
        trueno_zram_firmware::pages::text_page(seed, &mut page);
        bytes.extend_from_slice(&page);
    }
    Ok(bytes)
}

/// Writes the page file and runs the very same suite on the host for the digest.
pub fn prepare_suite() -> Result<SuiteInput, String> {
    let bytes = embedded_pages()?;
    let dir = firmware_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let pages = dir.join("pages.bin");
    std::fs::write(&pages, &bytes).map_err(|e| format!("writing {}: {e}", pages.display()))?;
    let summary = trueno_zram_firmware::run(&bytes, &mut Unmeasured)
        .map_err(|f| format!("the suite fails on the host: {f}"))?;
    eprintln!("firmware: host run of the suite:\n{summary}");
    let pool = trueno_zram_firmware::pool::run(&bytes)
        .map_err(|f| format!("the pool pass fails on the host: {f}"))?;
    eprintln!("{pool}");
    Ok(SuiteInput {
        pages,
        digest: summary.digest,
    })
}

/// How to build one firmware image.
pub struct Build<'a> {
    pub board: &'a Board,
    /// Cargo features of the board crate.
    pub features: &'a [&'a str],
    /// Whether the default features stay on.
    pub default_features: bool,
    /// `opt-level` of the release profile (the crates' own is "s").
    pub opt_level: &'a str,
    /// The target folder under `target/firmware/BOARD/`: variants that differ in features share one
    /// (cargo keeps each feature set's artifacts apart), builds at another opt-level take their own
    /// so that they do not rebuild each other.
    pub variant: &'a str,
}

/// Builds a firmware image in release and returns the ELF's path.
pub fn build(build: &Build<'_>, pages: &Path, digest: u64) -> Result<PathBuf, String> {
    let board = build.board;
    let dir = firmware_dir().join(board.name).join(build.variant);
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root().join("targets").join(board.name))
        .args([
            "build",
            "--release",
            "--target",
            board.target,
            "--target-dir",
        ])
        .arg(&dir)
        // The host's flags (a target-cpu, say) mean nothing to these targets.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", build.opt_level)
        .env("TRUENO_FIRMWARE_PAGES", pages)
        .env("TRUENO_FIRMWARE_DIGEST", format!("{digest:#018x}"));
    if !build.default_features {
        cmd.arg("--no-default-features");
    }
    if !build.features.is_empty() {
        cmd.arg("--features").arg(build.features.join(","));
    }
    run(&mut cmd)?;
    Ok(dir.join(board.target).join("release").join(board.binary))
}

/// What a firmware run printed and how it ended.
pub struct Outcome {
    pub status: Option<i32>,
    /// Stdout as text (lossy), for the text firmware.
    pub stdout: String,
    /// Stdout as bytes, for the defmt firmware.
    pub raw_stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs a firmware image under its emulator, with a time limit.
pub fn run_image(board: &Board, elf: &Path) -> Result<Outcome, String> {
    let (program, args) = board
        .qemu
        .split_first()
        .ok_or("board without an emulator")?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .args(QEMU_COMMON)
        .arg("-kernel")
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    eprintln!("+ {}", setup::describe(&cmd));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > RUN_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} firmware did not finish within {} s",
                    board.name,
                    RUN_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let raw_stdout = out_reader.join().unwrap_or_default();
    let stdout = String::from_utf8_lossy(&raw_stdout).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok(Outcome {
        status: status.code(),
        stdout,
        raw_stdout,
        stderr,
    })
}

/// Checks a run that must pass: exit 0, the host's digest printed, the pass line last.
fn expect_pass(board: &Board, outcome: &Outcome, digest: u64) -> Result<(), String> {
    let digest_line = format!("digest {digest:#018x}");
    let ok = outcome.status == Some(0)
        && outcome.stdout.lines().any(|l| l == digest_line)
        && outcome.stdout.lines().last() == Some(PASS_LINE);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} firmware failed (exit {:?}, expected 0 with `{digest_line}` and `{PASS_LINE}`):\n{}{}",
            board.name, outcome.status, outcome.stdout, outcome.stderr
        ))
    }
}

/// Builds and runs the suite on every board, then checks that a wrong digest fails and that the
/// defmt build of the Cortex-M firmware runs.
pub fn test_firmware() -> Result<(), String> {
    setup::rustup_targets("stable", &[CORTEX_M4.target, RISCV32.target])?;
    let input = prepare_suite()?;
    let mut stack_lines = Vec::new();
    for board in BOARDS {
        // A wrong expected digest must fail: the comparison is real, and failures exit non-zero.
        let wrong = input.digest ^ 1;
        let build_for = |digest| {
            build(
                &Build {
                    board,
                    features: &[],
                    default_features: true,
                    opt_level: "s",
                    variant: "suite",
                },
                &input.pages,
                digest,
            )
        };
        let elf = build_for(wrong)?;
        let outcome = run_image(board, &elf)?;
        let fail_line = format!("{FAIL_PREFIX}digest");
        if outcome.status != Some(FAILURE_EXIT)
            || !outcome.stdout.lines().any(|l| l.starts_with(&fail_line))
        {
            return Err(format!(
                "{} firmware built with a wrong digest did not fail as it must (exit {:?}):\n{}{}",
                board.name, outcome.status, outcome.stdout, outcome.stderr
            ));
        }
        eprintln!(
            "firmware: {} rejects a wrong digest (exit {FAILURE_EXIT})",
            board.name
        );

        let elf = build_for(input.digest)?;
        let outcome = run_image(board, &elf)?;
        print!("{}", outcome.stdout);
        expect_pass(board, &outcome, input.digest)?;
        stack_lines.push(outcome.stdout.clone());

        // The pool variant: the same suite, then the pages through a PagePool on a fixed heap.
        let elf = build(
            &Build {
                board,
                features: &["pool"],
                default_features: true,
                opt_level: "s",
                variant: "pool",
            },
            &input.pages,
            input.digest,
        )?;
        let outcome = run_image(board, &elf)?;
        expect_pass(board, &outcome, input.digest)?;
        let pool_lines: Vec<&str> = outcome
            .stdout
            .lines()
            .filter(|l| l.starts_with("pool"))
            .collect();
        if !pool_lines.iter().any(|l| l.starts_with(POOL_DONE_PREFIX)) {
            return Err(format!(
                "{} pool firmware did not report its pool pass:\n{}",
                board.name, outcome.stdout
            ));
        }
        println!(
            "{} with feature pool:\n{}",
            board.name,
            pool_lines.join("\n")
        );
    }

    let table = stack_table(&stack_lines);
    println!("{table}");
    let path = firmware_dir().join("stack.md");
    std::fs::write(&path, &table).map_err(|e| format!("writing {}: {e}", path.display()))?;

    // The defmt build prints defmt frames: decode them far enough to name each frame's format string
    // (see `crate::defmt`) and check that the run logged its board first and its verdict last.
    let elf = build(
        &Build {
            board: &CORTEX_M4,
            features: &["defmt"],
            default_features: true,
            opt_level: "s",
            variant: "suite",
        },
        &input.pages,
        input.digest,
    )?;
    let outcome = run_image(&CORTEX_M4, &elf)?;
    let frames = crate::defmt::frames(&elf, &outcome.raw_stdout)?;
    let formats: Vec<&str> = frames.iter().map(|(f, _)| f.as_str()).collect();
    let first = "trueno-zram firmware suite on {=str}";
    let last = "trueno-zram firmware suite: PASS";
    // The summary frame carries the digest as its last field, a u64 little-endian.
    let digest = input.digest.to_le_bytes();
    let summary_has_digest = frames
        .iter()
        .any(|(_, bytes)| bytes.windows(8).any(|w| w == digest));
    if outcome.status != Some(0)
        || formats.first() != Some(&first)
        || formats.last() != Some(&last)
        || !summary_has_digest
    {
        return Err(format!(
            "cortex-m4 defmt firmware failed (exit {:?}, digest logged: {summary_has_digest}), its frames' format strings: {formats:?}\n{}",
            outcome.status, outcome.stderr
        ));
    }
    eprintln!(
        "firmware: cortex-m4 defmt build passed; {} defmt frames (format strings {formats:?}), the summary frame carries the host's digest",
        formats.len()
    );
    Ok(())
}

/// A Markdown table of the stack depths that the boards printed (one output per board, in the order
/// of [`BOARDS`]): lines `stack LAYER NAME: compress D B (bound B B), decompress D B (bound B B)`.
fn stack_table(outputs: &[String]) -> String {
    // (call, bound, depth per board), in the order the first board printed them.
    let mut rows: Vec<(String, String, Vec<String>)> = Vec::new();
    for (column, output) in outputs.iter().enumerate() {
        for line in output.lines() {
            let Some((call, figures)) =
                line.strip_prefix("stack ").and_then(|l| l.split_once(": "))
            else {
                continue;
            };
            for part in figures.split("), ") {
                let Some((op, rest)) = part.split_once(' ') else {
                    continue;
                };
                let Some((depth, bound)) = rest.split_once(" (bound ") else {
                    continue;
                };
                let name = format!("{call}, {op}");
                let bound = bound.trim_end_matches(')').to_owned();
                let index = match rows.iter().position(|(n, _, _)| *n == name) {
                    Some(i) => i,
                    None => {
                        rows.push((name, bound, vec![String::new(); outputs.len()]));
                        rows.len() - 1
                    }
                };
                rows[index].2[column] = depth.to_owned();
            }
        }
    }
    let mut table = String::from("| call |");
    let mut rule = String::from("| --- |");
    for board in BOARDS.iter().take(outputs.len()) {
        table.push_str(&format!(" {} |", board.name));
        rule.push_str(" ---: |");
    }
    table.push_str(" bound |\n");
    rule.push_str(" ---: |\n");
    table.push_str(&rule);
    for (name, bound, depths) in rows {
        table.push_str(&format!("| {name} | {} | {bound} |\n", depths.join(" | ")));
    }
    table
}

/// One size-probe build: which codecs it links.
struct Probe {
    /// The row's name in the table.
    name: &'static str,
    /// Features of the suite crate to turn on.
    suite_features: &'static [&'static str],
}

/// The baseline (no codec) first; every other probe is reported as what it adds to it.
const PROBES: &[Probe] = &[
    Probe {
        name: "baseline: runtime, semihosting, page generator",
        suite_features: &[],
    },
    Probe {
        name: "LZ4 compress + decompress (`lz4::Compressor::compress_page`, `lz4::decompress_page`)",
        suite_features: &["probe-lz4"],
    },
    Probe {
        name: "Zstandard compress + decompress, level 3 (`zstd::Compressor`, `zstd::Decompressor`)",
        suite_features: &["probe-zstd"],
    },
    Probe {
        name: "Zstandard decompress only (`zstd::Decompressor`)",
        suite_features: &["probe-zstd-decompress"],
    },
    Probe {
        name: "page API, every algorithm (`CompressorBuilder`, `PageCompressor`)",
        suite_features: &["probe-page-api"],
    },
];

const SIZE_OPT_LEVELS: [&str; 2] = ["s", "3"];

/// Builds the size probes of every board at opt-level "s" and "3", runs each (they must pass), and
/// prints a Markdown table of their flash sizes; also writes it to `target/firmware/size.md`.
pub fn firmware_size() -> Result<(), String> {
    setup::rustup_targets("stable", &[CORTEX_M4.target, RISCV32.target])?;
    // The probes embed no pages: only code and constants count.
    let empty = firmware_dir().join("no-pages.bin");
    std::fs::create_dir_all(firmware_dir()).map_err(|e| e.to_string())?;
    std::fs::write(&empty, []).map_err(|e| format!("writing {}: {e}", empty.display()))?;
    let mut sizes = vec![vec![0u64; BOARDS.len() * SIZE_OPT_LEVELS.len()]; PROBES.len()];
    for (b, board) in BOARDS.iter().enumerate() {
        for (o, opt_level) in SIZE_OPT_LEVELS.iter().enumerate() {
            for (p, probe) in PROBES.iter().enumerate() {
                let mut features = vec!["size-probe".to_owned()];
                features.extend(
                    probe
                        .suite_features
                        .iter()
                        .map(|f| format!("trueno-zram-firmware/{f}")),
                );
                let features: Vec<&str> = features.iter().map(String::as_str).collect();
                let elf = build(
                    &Build {
                        board,
                        features: &features,
                        default_features: false,
                        opt_level,
                        variant: "size",
                    },
                    &empty,
                    0,
                )?;
                let outcome = run_image(board, &elf)?;
                if outcome.status != Some(0) {
                    return Err(format!(
                        "{} size probe `{}` failed (exit {:?}): {}",
                        board.name, probe.name, outcome.status, outcome.stderr
                    ));
                }
                sizes[p][b * SIZE_OPT_LEVELS.len() + o] = crate::elf::flash_size(&elf)?;
            }
        }
    }
    let table = size_table(&sizes);
    println!("{table}");
    let path = firmware_dir().join("size.md");
    std::fs::write(&path, &table).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn size_table(sizes: &[Vec<u64>]) -> String {
    let mut header = String::from("| flash bytes |");
    let mut rule = String::from("| --- |");
    for board in BOARDS {
        for opt in SIZE_OPT_LEVELS {
            header.push_str(&format!(" {} opt-level {opt} |", board.name));
            rule.push_str(" ---: |");
        }
    }
    let mut table = format!("{header}\n{rule}\n");
    let baseline = sizes.first().cloned().unwrap_or_default();
    for (probe, row) in PROBES.iter().zip(sizes) {
        table.push_str(&format!("| {} |", probe.name));
        for (column, size) in row.iter().enumerate() {
            let base = baseline.get(column).copied().unwrap_or(0);
            if std::ptr::eq(probe, &PROBES[0]) {
                table.push_str(&format!(" {size} |"));
            } else {
                table.push_str(&format!(" +{} |", size.saturating_sub(base)));
            }
        }
        table.push('\n');
    }
    table
}

/// `cargo fmt --check` and `cargo clippy -D warnings` on the board crates, which sit outside the
/// workspace (each builds for its own target only), and clippy on the suite for each board's target,
/// where its painted-stack meter is compiled (a board's clippy does not lint its path dependencies).
pub fn lint_boards() -> Result<(), String> {
    setup::rustup_targets("stable", &[CORTEX_M4.target, RISCV32.target])?;
    let input = prepare_suite()?;
    for board in BOARDS {
        run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(workspace_root())
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .args([
                    "clippy",
                    "-p",
                    "trueno-zram-firmware",
                    "--all-features",
                    "--target",
                ])
                .args([board.target, "--", "-D", "warnings"]),
        )?;
        let dir = workspace_root().join("targets").join(board.name);
        let cargo = || {
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.current_dir(&dir)
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .env("TRUENO_FIRMWARE_PAGES", &input.pages)
                .env("TRUENO_FIRMWARE_DIGEST", format!("{:#018x}", input.digest));
            cmd
        };
        run(cargo().args(["fmt", "--check"]))?;
        let features: &[&str] = if board.name == CORTEX_M4.name {
            &["", "pool", "defmt"]
        } else {
            &["", "pool"]
        };
        for feature in features {
            run(cargo()
                .args([
                    "clippy",
                    "--release",
                    "--target",
                    board.target,
                    "--target-dir",
                ])
                .arg(firmware_dir().join(board.name).join("suite"))
                .args(["--features", feature, "--", "-D", "warnings"]))?;
        }
    }
    Ok(())
}
