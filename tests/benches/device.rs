//! The block device end to end: fio's nbd engine against our NBD server (the `trueno-ublk` store
//! behind it) and against `nbdkit memory` (an uncompressed RAM disk), both over Unix sockets, on a
//! device pre-filled with the corpus. Patterns: 4 KiB random read and write at queue depth 1 and
//! 32, 128 KiB sequential read and write. Rounds interleave the two servers pattern by pattern; the
//! median IOPS of each is reported with their ratio. Also measured: how much resident memory our
//! server gained holding the corpus, against the corpus size.
//!
//! Needs `fio`, `nbdkit` and `nbdcopy`; skips with one line when one is missing.

mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::Report;
use trueno_ublk::nbd::{Endpoint, NbdServer, StopSignal};
use trueno_ublk::store::{BlockStore, DEFAULT_ALGORITHM, StoreConfig, parse_algorithm};

struct Pattern {
    name: &'static str,
    rw: &'static str,
    bs: &'static str,
    iodepth: u32,
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

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Runs one fio pattern; returns IOPS.
fn fio(uri: &str, p: &Pattern, size: u64, seconds: u32) -> f64 {
    let out = Command::new("fio")
        .args([
            "--name=bench",
            "--ioengine=nbd",
            "--output-format=json",
            "--time_based",
            "--ramp_time=1",
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
    let dir = if p.rw.contains("read") {
        "read"
    } else {
        "write"
    };
    job[dir]["iops"].as_f64().unwrap_or(f64::NAN)
}

fn nbdcopy(from: &str, to: &str) {
    let status = Command::new("nbdcopy")
        .args(["-C", "4", from, to])
        .status()
        .unwrap_or_else(|e| panic!("cannot run nbdcopy: {e}"));
    assert!(status.success(), "nbdcopy {from} {to} failed");
}

struct Nbdkit(Child);

impl Drop for Nbdkit {
    fn drop(&mut self) {
        let _ = self.0.kill();
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
        .unwrap_or(3);
    let rounds = args.rounds.min(5);
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

    // Our server, in this process so that its resident memory is ours to measure.
    let ours_sock = dir.join("ours.sock");
    let store = Arc::new(
        BlockStore::new(StoreConfig {
            size,
            algorithm: parse_algorithm(DEFAULT_ALGORITHM).unwrap_or_else(|e| panic!("{e}")),
            mem_limit: None,
        })
        .unwrap_or_else(|e| panic!("{e}")),
    );
    let server = NbdServer::bind(
        &Endpoint::Unix(ours_sock.clone()),
        "bench",
        Arc::clone(&store),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let stop = Arc::new(StopSignal::new().unwrap_or_else(|e| panic!("{e}")));
    let stop2 = Arc::clone(&stop);
    let server_thread = std::thread::spawn(move || server.run(&stop2));

    let kit_sock = dir.join("nbdkit.sock");
    let kit = Nbdkit(
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

    let rss_before = rss_bytes();
    let corpus_path = corpus_file.display().to_string();
    nbdcopy(&corpus_path, &ours);
    nbdcopy(&corpus_path, &theirs);
    let rss_after = rss_bytes();
    let growth = rss_after.saturating_sub(rss_before);
    let stats = store.stats();

    let mut samples: Vec<[Vec<f64>; 2]> =
        PATTERNS.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    for round in 0..rounds {
        for (p, s) in PATTERNS.iter().zip(samples.iter_mut()) {
            // Alternate who goes first, so that neither always runs on a warmer machine.
            let order: [(usize, &str); 2] = if round % 2 == 0 {
                [(0, &ours), (1, &theirs)]
            } else {
                [(1, &theirs), (0, &ours)]
            };
            for (i, uri) in order {
                s[i].push(fio(uri, p, size, seconds));
            }
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }

    let mut report = Report::new("device", &["ours IOPS", "nbdkit IOPS", "ours/nbdkit"]);
    for (p, s) in PATTERNS.iter().zip(samples) {
        let [a, b] = s;
        let (a, b) = (harness::median(a), harness::median(b));
        report.row(p.name, vec![a, b, a / b]);
    }
    let corpus_mb = corpus_len as f64 / 1e6;
    report.row(
        format!("RSS growth MB ({corpus_name} {corpus_mb:.1} MB)"),
        vec![
            growth as f64 / 1e6,
            f64::NAN,
            growth as f64 / corpus_len as f64,
        ],
    );
    report.row(
        "store mem_used_total MB",
        vec![
            stats.mem_used_total as f64 / 1e6,
            f64::NAN,
            stats.mem_used_total as f64 / corpus_len as f64,
        ],
    );
    report.note(format!(
        "algorithm {DEFAULT_ALGORITHM}; fio nbd engine, {seconds} s per run after 1 s ramp, median of {rounds} interleaved rounds; \
         device {size} bytes pre-filled with {corpus_name} by nbdcopy; ratio column of the memory rows: bytes held / corpus bytes (goal <= 0.35)"
    ));
    report.finish(&args);

    stop.fire();
    let _ = server_thread.join();
    drop(kit);
    let _ = std::fs::remove_dir_all(&dir);
}
