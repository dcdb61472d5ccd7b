//! The built `trueno-zram` binary: help for every command, one-line errors with their exit codes, the
//! bench reports, and (as root, with zram) real devices created, listed, refused while busy and
//! removed. Root-only tests skip with one line otherwise.

// Test helpers fail loudly: a broken fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

const BIN: &str = env!("CARGO_BIN_EXE_trueno-zram");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a failure with exit `code` and a one-line message containing `needle`.
fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    let line = err.trim_end();
    assert!(!line.contains('\n'), "not one line: {err}");
    assert!(line.starts_with("trueno-zram: "), "{err}");
    assert!(line.contains(needle), "`{needle}` not in: {err}");
}

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "trueno-zram-cli-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_command_has_help() {
    for cmd in ["create", "status", "remove", "bench", "compare", "entropy"] {
        let o = run(&[cmd, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{cmd}");
        let text = stdout(&o);
        assert!(
            text.contains(&format!("Usage: trueno-zram {cmd}")),
            "{text}"
        );
        assert!(text.contains("Exit codes:"), "{text}");
    }
    let top = run(&["--help"]);
    assert_eq!(top.status.code(), Some(0));
    for cmd in ["create", "status", "remove", "bench", "compare", "entropy"] {
        assert!(stdout(&top).contains(cmd));
    }
    assert_eq!(
        run(&[]).status.code(),
        Some(2),
        "no command is a usage error"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_fails(&run(&["create", "--size", "ram/"]), 2, "bad size `ram/`");
    assert_fails(&run(&["create", "--size", "4Q"]), 2, "unknown unit `q`");
    assert_fails(&run(&["create", "--size", "20E"]), 7, "too large");
    assert_fails(&run(&["bench", "--codec", "lz5"]), 2, "unknown codec `lz5`");
    assert_fails(&run(&["bench", "--codec", "zstd:99"]), 2, "codec `zstd:99`");
    // clap's own usage errors also exit 2 (its message spans several lines).
    assert_eq!(run(&["create", "--priority", "3"]).status.code(), Some(2));
    assert_eq!(
        run(&["create", "--swap", "--priority", "40000"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn a_kernel_without_zram_is_named() {
    let tmp = TempDir::new();
    std::fs::create_dir_all(tmp.path("block")).unwrap();
    let root = tmp.0.to_str().unwrap();
    for args in [
        vec!["--sysfs", root, "status"],
        vec!["--sysfs", root, "create", "--new", "--size", "16M"],
        vec!["--sysfs", root, "remove", "zram0"],
    ] {
        assert_fails(&run(&args), 4, "modprobe zram");
    }
}

#[test]
fn bench_prints_and_writes_reports() {
    let tmp = TempDir::new();
    let (json, html) = (tmp.path("b.json"), tmp.path("b.html"));
    let o = run(&[
        "bench",
        "--pages",
        "300",
        "--rounds",
        "1",
        "-q",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout(&o).contains("synthetic mix (300 pages)"),
        "{}",
        stdout(&o)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = doc["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        assert_eq!(r["pages"], 300);
        assert!(r["ratio"].as_f64().unwrap() >= 1.0);
        assert!(r["compress_mb_s"].as_f64().unwrap() > 0.0);
        assert!(stdout(&o).contains(r["codec"].as_str().unwrap()));
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("compression ratio"));

    let missing = run(&["bench", "--corpus", "/nonexistent/corpus.bin"]);
    assert_fails(&missing, 1, "cannot read /nonexistent/corpus.bin");
    let unwritable = run(&[
        "bench",
        "--pages",
        "10",
        "--rounds",
        "1",
        "-q",
        "--json",
        "/nonexistent/x.json",
    ]);
    assert_fails(&unwritable, 1, "cannot write /nonexistent/x.json");
}

#[test]
fn entropy_predicts_from_page_contents() {
    let tmp = TempDir::new();
    let file = tmp.path("half.bin");
    // One zero page (same-fill: 8 bytes) and one page of all 256 byte values (8 bits/byte: stored).
    let mut bytes = vec![0u8; 4096];
    bytes.extend((0..16u8).flat_map(|_| 0..=255u8));
    std::fs::write(&file, &bytes).unwrap();
    let o = run(&["entropy", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.contains("2 pages, mean entropy 4.000 bits/byte, 1 same-fill pages"),
        "{text}"
    );
    // The zero page costs 8 bytes; the other one what the core's estimate says, and all 4096 bytes
    // by the order-0 bound (8 bits/byte).
    let other: [u8; 4096] = bytes[4096..].try_into().unwrap();
    let estimate = trueno_zram::entropy::estimate(&other).predicted_ratio();
    let predicted = 8192.0 / (8.0 + 4096.0 / f64::from(estimate));
    assert!(
        text.contains(&format!("predicted ratio {predicted:.3} (core estimate")),
        "{text}"
    );
    assert!(
        text.contains(&format!("order-0 bound   {:.3}", 8192.0 / 4104.0)),
        "{text}"
    );
    assert_fails(
        &run(&["entropy", "/nonexistent/file"]),
        1,
        "cannot read /nonexistent/file",
    );
    let empty = tmp.path("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    assert_fails(&run(&["entropy", empty.to_str().unwrap()]), 2, "is empty");
}

/// Whether the real kernel tests can run, or one line saying why not.
fn real_zram(what: &str) -> bool {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !is_root {
        eprintln!("skipped {what}: needs root");
    } else if !Path::new("/sys/class/zram-control").is_dir() {
        eprintln!("skipped {what}: this kernel has no zram");
    } else {
        return true;
    }
    false
}

/// A device the binary created, removed (swap off first) however the test ends.
struct Created(String);

impl Drop for Created {
    fn drop(&mut self) {
        let _ = run(&["remove", "--force", &self.0]);
    }
}

/// Taken by every test that adds or removes kernel devices. The kernel hands a removed device's number
/// to the next `hot_add`, so a test removing its device (and `Created`'s clean-up removing it again)
/// while another test adds one could remove the other test's device under it.
fn kernel_turn() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    // A test that failed while holding the lock poisons it; its devices are gone by now.
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

fn create(args: &[&str]) -> Created {
    let mut all = vec!["create", "--new"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let node = stdout(&o).trim().to_owned();
    assert!(node.starts_with("/dev/zram"), "{node}");
    Created(node)
}

#[test]
fn create_status_remove_for_real() {
    let _turn = kernel_turn();
    if !real_zram("creating real zram devices") {
        return;
    }
    let dev = create(&["--size", "16M", "--algorithm", "lz4", "--mem-limit", "8M"]);
    let name = dev.0.trim_start_matches("/dev/").to_owned();
    let o = run(&["status", "--json", &name]);
    assert_eq!(o.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc[0]["name"], name.as_str());
    assert_eq!(doc[0]["algorithm"], "lz4");
    assert_eq!(doc[0]["disksize"], 16 << 20);
    assert_eq!(doc[0]["mm_stat"]["mem_limit"], 8 << 20);
    let table = stdout(&run(&["status"]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&dev.0) && l.contains("lz4") && l.contains("16M")),
        "{table}"
    );

    let o = run(&["remove", &name]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains(&format!("removed {name}")));
    assert_fails(
        &run(&["status", &name]),
        4,
        &format!("no zram device {name}"),
    );
}

#[test]
fn what_the_kernel_refuses_is_explained() {
    let _turn = kernel_turn();
    if !real_zram("kernel refusals") {
        return;
    }
    let algorithms = std::fs::read_to_string("/sys/block/zram0/comp_algorithm").unwrap_or_default();
    if !algorithms.contains("zstd") {
        assert_fails(
            &run(&["create", "--new", "--size", "16M", "-a", "zstd"]),
            6,
            "no compression algorithm `zstd`",
        );
    }
    assert_fails(&run(&["create", "--new", "--size", "1P"]), 7, "too large");
    if !Path::new("/sys/block/zram0/max_comp_streams").exists() {
        assert_fails(
            &run(&["create", "--new", "--size", "16M", "--streams", "2"]),
            6,
            "max_comp_streams",
        );
    }
    if Path::new("/usr/bin/setpriv").exists() {
        let o = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "create",
                "--new",
                "--size",
                "16M",
            ])
            .output()
            .unwrap();
        assert_fails(&o, 3, "needs root");
    }
}

#[test]
fn a_swap_device_is_busy_until_forced() {
    let _turn = kernel_turn();
    if !real_zram("swap on zram") {
        return;
    }
    let dev = create(&[
        "--size",
        "16M",
        "--algorithm",
        "lz4",
        "--swap",
        "--priority",
        "3",
    ]);
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap();
    assert!(swaps.lines().any(|l| l.starts_with(&dev.0)), "{swaps}");
    let name = dev.0.trim_start_matches("/dev/").to_owned();
    assert!(stdout(&run(&["status", &name])).contains("[SWAP]"));
    assert_fails(&run(&["remove", &name]), 5, "in use as swap");
    let o = run(&["remove", "--force", &name]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !std::fs::read_to_string("/proc/swaps")
            .unwrap()
            .contains(&dev.0)
    );
}

#[test]
fn compare_runs_the_kernel_and_our_codecs() {
    let _turn = kernel_turn();
    if !real_zram("compare against kernel zram") {
        return;
    }
    let o = run(&["compare", "--pages", "256", "--rounds", "1", "-q"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    let offered = std::fs::read_to_string("/sys/block/zram0/comp_algorithm").unwrap_or_default();
    for algo in offered
        .split_whitespace()
        .map(|a| a.trim_matches(['[', ']']))
    {
        assert!(
            text.lines()
                .any(|l| l.starts_with("kernel") && l.contains(algo)),
            "{algo}: {text}"
        );
    }
    assert!(text.lines().any(|l| l.starts_with("trueno")), "{text}");
    assert_fails(
        &run(&["compare", "--pages", "16", "--kernel", "zstd9"]),
        6,
        "`zstd9`",
    );
}
