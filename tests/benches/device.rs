//! The block device end to end: fio's nbd engine against the `trueno-ublk` daemon (the release
//! binary beside this benchmark, which `cargo xtask bench device` builds) and against `nbdkit
//! memory` (an uncompressed RAM disk), both over Unix sockets. Patterns: 4 KiB random read and write
//! at queue depth 1 and 32, 128 KiB sequential read and write. Every run starts on a device freshly
//! filled with the corpus (a write run would otherwise leave fio's random bytes for the reads after
//! it). Rounds interleave the two servers pattern by pattern, who goes first alternating; reported:
//! the median IOPS of each, the median of the rounds' ratios (a round's two runs see the same load
//! on a shared machine, so their ratio swings less than either figure), and each server's processor
//! time per request (read from /proc: it does not depend on how busy the machine is). Also
//! measured: how much resident memory the daemon gained holding the corpus (read from /proc after
//! its 10 s maintenance cycle has run), against the corpus size. `--algorithm NAME` picks the
//! daemon's algorithm (default lz4); `--seconds N` the length of a run (default 2); `--rounds N`
//! the rounds (at most 7, the default).
//!
//! Needs `fio`, `nbdkit` and `nbdcopy`; skips with one line when one is missing.

mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::Report;
use trueno_ublk::store::DEFAULT_ALGORITHM;

struct Pattern {
    name: &'static str,
    rw: &'static str,
    bs: &'static str,
    iodepth: u32,
}

impl Pattern {
    /// The side of fio's report that holds this pattern's figures.
    fn direction(&self) -> &'static str {
        if self.rw.contains("read") {
            "read"
        } else {
            "write"
        }
    }
}

const PATTERNS: [Pattern; 6] = [
    Pattern {
        name: "4k randread qd1",
        rw: "randread",
        bs: "4k",
        iodepth: 1,
    },
    Pattern {
        name: "4k randread qd32",
        rw: "randread",
        bs: "4k",
        iodepth: 32,
    },
    Pattern {
        name: "128k seqread qd8",
        rw: "read",
        bs: "128k",
        iodepth: 8,
    },
    Pattern {
        name: "4k randwrite qd1",
        rw: "randwrite",
        bs: "4k",
        iodepth: 1,
    },
    Pattern {
        name: "4k randwrite qd32",
        rw: "randwrite",
        bs: "4k",
        iodepth: 32,
    },
    Pattern {
        name: "128k seqwrite qd8",
        rw: "write",
        bs: "128k",
        iodepth: 8,
    },
];

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A figure from the daemon's control socket.
fn daemon_figure(control: &Path, name: &str) -> u64 {
    let text = trueno_ublk::control::request(control, "stat").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What one fio run measured.
struct Run {
    /// Requests per second.
    iops: f64,
    /// Requests completed.
    ios: f64,
}

/// Runs one fio pattern for `seconds`.
fn fio(uri: &str, p: &Pattern, size: u64, seconds: u32) -> Run {
    let out = Command::new("fio")
        .args([
            "--name=bench",
            "--ioengine=nbd",
            "--output-format=json",
            "--time_based",
            "--norandommap",
            "--randrepeat=0",
        ])
        .arg(format!("--uri={uri}"))
        .arg(format!("--rw={}", p.rw))
        .arg(format!("--bs={}", p.bs))
        .arg(format!("--iodepth={}", p.iodepth))
        .arg(format!("--size={size}"))
        .arg(format!("--runtime={seconds}"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run fio: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    // fio prints notes before the JSON document.
    let json = text.find('{').map_or("", |i| &text[i..]);
    let doc: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| {
        panic!(
            "fio output is not JSON ({e}):\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let job = &doc["jobs"][0];
    assert_eq!(job["error"].as_i64(), Some(0), "fio job failed: {job}");
    let side = &job[p.direction()];
    Run {
        iops: side["iops"].as_f64().unwrap_or(f64::NAN),
        ios: side["total_ios"].as_f64().unwrap_or(f64::NAN),
    }
}

/// Processor time a process has used so far (all its threads, user and system), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) close with ')'; utime and stime are
    // fields 14 and 15, the 12th and 13th after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: f64 = fields
        .get(11..13)
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks / per_second.max(1) as f64
}

fn nbdcopy(from: &str, to: &str) {
    let status = Command::new("nbdcopy")
        .args(["-C", "4", from, to])
        .status()
        .unwrap_or_else(|e| panic!("cannot run nbdcopy: {e}"));
    assert!(status.success(), "nbdcopy {from} {to} failed");
}

/// One pattern's figures, `[ours, nbdkit]` per run.
#[derive(Default)]
struct Samples {
    iops: [Vec<f64>; 2],
    cpu_us: [Vec<f64>; 2],
    /// Ours over nbdkit's, per round.
    ratio: Vec<f64>,
}

/// A server process, stopped with SIGTERM (a clean stop) when dropped.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let args = harness::args();
    for tool in ["fio", "nbdkit", "nbdcopy"] {
        if !have(tool) {
            eprintln!("skipped device benchmark: `{tool}` is not installed");
            return;
        }
    }
    let seconds: u32 = args
        .rest
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.rest.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let rounds = args.rounds.min(7);
    let dir = std::env::temp_dir().join(format!("trueno-bench-device-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));

    // The corpus as a file that nbdcopy can read (local pages when the shared corpus is absent).
    let (corpus_file, corpus_name): (PathBuf, String) = match args.corpora.first() {
        Some(p) if p.exists() => (
            p.clone(),
            p.file_name()
                .map_or("corpus".into(), |n| n.to_string_lossy().into_owned()),
        ),
        _ => {
            let pages = trueno_zram_tests::local_pages(16384);
            let file = dir.join("local-pages.bin");
            let bytes: Vec<u8> = pages.iter().flatten().copied().collect();
            std::fs::write(&file, bytes).unwrap_or_else(|e| panic!("{e}"));
            (file, "local-files".into())
        }
    };
    let corpus_len = std::fs::metadata(&corpus_file)
        .map(|m| m.len())
        .unwrap_or(0)
        / 4096
        * 4096;
    assert!(corpus_len > 0, "empty corpus");
    let size = corpus_len;

    let algorithm = args
        .rest
        .iter()
        .position(|a| a == "--algorithm")
        .and_then(|i| args.rest.get(i + 1))
        .map_or(DEFAULT_ALGORITHM, String::as_str)
        .to_owned();
    let daemon_bin = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("trueno-ublk")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("the release trueno-ublk binary is missing: run `cargo xtask bench device`")
        });
    let ours_sock = dir.join("ours.sock");
    let daemon = ServerProcess(
        Command::new(&daemon_bin)
            .args([
                "create",
                "--foreground",
                "--name",
                "bench",
                "--algorithm",
                &algorithm,
            ])
            .arg(format!("--size={size}"))
            .arg("--socket")
            .arg(&ours_sock)
            .env("TRUENO_UBLK_RUN_DIR", &dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", daemon_bin.display())),
    );
    let control = dir.join("bench.ctl");
    wait_for(&control);

    let kit_sock = dir.join("nbdkit.sock");
    let kit = ServerProcess(
        Command::new("nbdkit")
            .args(["--foreground", "--exit-with-parent", "--unix"])
            .arg(&kit_sock)
            .arg("memory")
            .arg(format!("size={size}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nbdkit: {e}")),
    );
    wait_for(&kit_sock);
    let ours = format!("nbd+unix:///?socket={}", ours_sock.display());
    let theirs = format!("nbd+unix:///?socket={}", kit_sock.display());

    let rss_before = rss_bytes(daemon.0.id());
    let corpus_path = corpus_file.display().to_string();
    nbdcopy(&corpus_path, &ours);
    nbdcopy(&corpus_path, &theirs);
    // Let the daemon's maintenance cycle (every 10 s) run once, as it would in service.
    std::thread::sleep(Duration::from_secs(11));
    let growth = rss_bytes(daemon.0.id()).saturating_sub(rss_before);
    let mem_used_total = daemon_figure(&control, "mem_used_total");
    let kit_rss = rss_bytes(kit.0.id());

    // Every run starts on a device that holds the corpus: a write run leaves fio's bytes behind,
    // and the reads after it must not read those instead.
    let servers = [(&ours, daemon.0.id()), (&theirs, kit.0.id())];
    let mut samples: Vec<Samples> = PATTERNS.iter().map(|_| Samples::default()).collect();
    for round in 0..rounds {
        for (p, s) in PATTERNS.iter().zip(samples.iter_mut()) {
            // Alternate who goes first, so that neither always runs on a warmer machine.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut iops = [0.0; 2];
            for i in order {
                let (uri, pid) = servers[i];
                nbdcopy(&corpus_path, uri);
                let cpu_before = cpu_seconds(pid);
                let run = fio(uri, p, size, seconds);
                let cpu = cpu_seconds(pid) - cpu_before;
                iops[i] = run.iops;
                s.iops[i].push(run.iops);
                s.cpu_us[i].push(cpu / run.ios * 1e6);
            }
            s.ratio.push(iops[0] / iops[1]);
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }

    let mut report = Report::new(
        "device",
        &[
            "ours IOPS",
            "nbdkit IOPS",
            "ours/nbdkit",
            "ours CPU us/req",
            "nbdkit CPU us/req",
        ],
    );
    for (p, s) in PATTERNS.iter().zip(samples) {
        let Samples {
            iops,
            ratio,
            cpu_us,
        } = s;
        let [a, b] = iops.map(harness::median);
        let [ca, cb] = cpu_us.map(harness::median);
        report.row(p.name, vec![a, b, harness::median(ratio), ca, cb]);
    }
    let corpus_mb = corpus_len as f64 / 1e6;
    report.row(
        format!("RSS growth MB ({corpus_name} {corpus_mb:.1} MB)"),
        vec![
            growth as f64 / 1e6,
            f64::NAN,
            growth as f64 / corpus_len as f64,
            f64::NAN,
            f64::NAN,
        ],
    );
    report.row(
        "daemon mem_used_total MB",
        vec![
            mem_used_total as f64 / 1e6,
            f64::NAN,
            mem_used_total as f64 / corpus_len as f64,
            f64::NAN,
            f64::NAN,
        ],
    );
    report.row(
        "nbdkit RSS MB",
        vec![
            f64::NAN,
            kit_rss as f64 / 1e6,
            kit_rss as f64 / corpus_len as f64,
            f64::NAN,
            f64::NAN,
        ],
    );
    report.note(format!(
        "algorithm {algorithm}; fio nbd engine, {seconds} s per run, {rounds} rounds interleaving the servers; \
         every run on a device freshly filled with {corpus_name} ({size} bytes) by nbdcopy; IOPS and CPU: medians of the runs, \
         ours/nbdkit: median of the rounds' ratios; CPU us/req: the server's processor time (all threads) per request; \
         ratio column of the memory rows: bytes held / corpus bytes (goal <= 0.35)"
    ));
    report.finish(&args);

    drop(daemon);
    drop(kit);
    let _ = std::fs::remove_dir_all(&dir);
}
