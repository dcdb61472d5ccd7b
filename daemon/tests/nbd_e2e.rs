//! End to end with real NBD clients that we did not write (Debian's libnbd-bin, qemu-utils, fio):
//! each test starts the `trueno-ublk` binary in the foreground on its own Unix socket, runs a
//! client against it, and stops it with SIGTERM. A test whose tool is missing skips with one line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trueno-ublk");

/// A daemon started for one test, stopped (SIGTERM) and checked when dropped.
struct Daemon {
    child: Option<Child>,
    dir: PathBuf,
    name: String,
    socket: PathBuf,
}

impl Daemon {
    fn start(test: &str, size: &str, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("trueno-e2e-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("dev.nbd");
        let name = "e2e".to_string();
        let mut cmd = Command::new(BIN);
        cmd.args(["create", "--foreground", "--name", &name, "--size", size]);
        if !extra.contains(&"--listen") {
            cmd.arg("--socket").arg(&socket);
        }
        let child = cmd
            .args(extra)
            .env("TRUENO_UBLK_RUN_DIR", &dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let d = Self {
            child: Some(child),
            dir,
            name,
            socket,
        };
        let start = Instant::now();
        while !d.dir.join(format!("{}.ctl", d.name)).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn uri(&self) -> String {
        format!("nbd+unix:///{}?socket={}", self.name, self.socket.display())
    }

    fn cli(&self, args: &[&str]) -> Output {
        cli_in(&self.dir, args)
    }

    /// SIGTERM, then the daemon must exit 0 and remove its sockets.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = i32::try_from(child.id()).unwrap();
        // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = child.wait().unwrap();
        assert!(status.success(), "daemon exited with {status}");
        assert!(!self.socket.exists(), "NBD socket left behind");
        assert!(
            !self.dir.join("e2e.ctl").exists(),
            "control socket left behind"
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the `trueno-ublk` command line with its run directory (sockets, logs) in `dir`.
fn cli_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("TRUENO_UBLK_RUN_DIR", dir)
        .output()
        .unwrap()
}

fn have(tool: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped {test}: `{tool}` is not installed");
    }
    found
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn nbdinfo_shows_size_and_flags() {
    if !have("nbdinfo", "nbdinfo_shows_size_and_flags") {
        return;
    }
    let mut d = Daemon::start("nbdinfo", "256M", &[]);
    let text = run_ok(Command::new("nbdinfo").arg(d.uri()));
    for want in [
        "export-size: 268435456",
        "can_flush: true",
        "can_fua: true",
        "can_trim: true",
        "can_zero: true",
        "can_fast_zero: true",
        "can_multi_conn: true",
        "block_size_preferred: 4096",
        "is_read_only: false",
    ] {
        assert!(text.contains(want), "nbdinfo lacks `{want}`:\n{text}");
    }
    let list = run_ok(
        Command::new("nbdinfo")
            .args(["--list"])
            .arg(format!("nbd+unix://?socket={}", d.socket.display())),
    );
    assert!(list.contains("export=\"e2e\""), "{list}");
    d.stop();
}

#[test]
fn qemu_io_writes_reads_verifies_zeroes_and_discards() {
    if !have(
        "qemu-io",
        "qemu_io_writes_reads_verifies_zeroes_and_discards",
    ) {
        return;
    }
    let mut d = Daemon::start("qemu-io", "64M", &[]);
    let commands = [
        "write -P 0xa5 0 1M",
        "write -P 0x3c 12345 70000",
        "read -P 0xa5 0 12345",
        "read -P 0x3c 12345 70000",
        "read -P 0xa5 82345 966231",
        "write -z 65536 131072",
        "read -P 0 65536 131072",
        "read -P 0xa5 196608 65536",
        "write -z 1000 3000",
        "read -P 0 1000 3000",
        "discard 262144 262144",
        "read -P 0 262144 262144",
        "write -P 0x77 262144 4096",
        "read -P 0x77 262144 4096",
        "read -P 0 266240 258048",
        "flush",
    ];
    let mut cmd = Command::new("qemu-io");
    cmd.args(["-f", "raw"]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    cmd.arg(d.uri());
    let text = run_ok(&mut cmd);
    assert!(
        !text.contains("failed"),
        "qemu-io reported a failure:\n{text}"
    );
    assert_eq!(text.matches("verification").count(), 0, "{text}");
    assert_eq!(text.matches("read ").count(), 9, "every read ran:\n{text}");
    let stat = String::from_utf8_lossy(&d.cli(&["stat", "e2e", "--json"]).stdout).into_owned();
    assert!(stat.contains("\"write_zeroes\":2"), "{stat}");
    assert!(stat.contains("\"discards\":1"), "{stat}");
    d.stop();
}

/// The shared corpus when present, else 24 MiB of generated pages of every kind.
fn copy_source() -> (Vec<u8>, &'static str) {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/memdump.bin");
    if let Ok(bytes) = std::fs::read(&shared) {
        return (bytes, "memdump.bin");
    }
    eprintln!("../shared/corpus/memdump.bin is absent: copying generated data instead");
    let mut bytes = Vec::with_capacity(24 << 20);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for page in 0..(24 << 20) / 4096 {
        for i in 0..4096 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes.push(match page % 4 {
                0 => 0,
                1 => (i % 64) as u8,
                2 => b"text text "[i % 10],
                _ => x as u8,
            });
        }
    }
    (bytes, "generated")
}

#[test]
fn nbdcopy_round_trips_the_corpus_over_four_connections() {
    nbdcopy_round_trip(
        "nbdcopy_round_trips_the_corpus_over_four_connections",
        "lz4",
    );
}

#[test]
fn nbdcopy_round_trips_the_corpus_on_a_zstd_device() {
    nbdcopy_round_trip("nbdcopy_round_trips_the_corpus_on_a_zstd_device", "zstd:1");
}

fn nbdcopy_round_trip(test: &str, algorithm: &str) {
    if !have("nbdcopy", test) {
        return;
    }
    let (data, what) = copy_source();
    let mut d = Daemon::start(test, "128M", &["--algorithm", algorithm]);
    let input = d.dir.join("in.bin");
    let output = d.dir.join("out.bin");
    std::fs::write(&input, &data).unwrap();
    run_ok(
        Command::new("nbdcopy")
            .args(["-C", "4"])
            .arg(&input)
            .arg(d.uri()),
    );
    run_ok(
        Command::new("nbdcopy")
            .args(["-C", "4"])
            .arg(d.uri())
            .arg(&output),
    );
    let back = std::fs::read(&output).unwrap();
    assert_eq!(back.len(), 128 << 20);
    assert!(
        back[..data.len()] == data[..],
        "{what} came back different ({algorithm})"
    );
    assert!(back[data.len()..].iter().all(|&b| b == 0), "tail not zero");
    let stat = String::from_utf8_lossy(&d.cli(&["stat", "e2e", "--json"]).stdout).into_owned();
    assert!(
        stat.contains(&format!("\"algorithm\":\"{algorithm}\"")),
        "{stat}"
    );
    d.stop();
}

/// `--mem-limit 0` is no limit (zram's meaning, and what `stat` shows), not a limit of 0 bytes
/// that refuses every page that is not one repeated word.
#[test]
fn a_memory_limit_of_0_is_no_limit() {
    if !have("nbdcopy", "a_memory_limit_of_0_is_no_limit") {
        return;
    }
    let mut d = Daemon::start("mem-limit-0", "16M", &["--mem-limit", "0"]);
    // Pages that do not compress: each one takes pool memory.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let data: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let input = d.dir.join("in.bin");
    std::fs::write(&input, &data).unwrap();
    run_ok(Command::new("nbdcopy").arg(&input).arg(d.uri()));
    let stat = String::from_utf8_lossy(&d.cli(&["stat", "e2e", "--json"]).stdout).into_owned();
    assert!(stat.contains("\"mem_limit\":0,"), "{stat}");
    assert!(stat.contains("\"failed_writes\":0,"), "{stat}");
    assert!(stat.contains("\"huge_pages\":256,"), "{stat}");
    d.stop();
}

#[test]
fn fio_random_writes_verify_with_crc32c() {
    if !have("fio", "fio_random_writes_verify_with_crc32c") {
        return;
    }
    let mut d = Daemon::start("fio", "64M", &[]);
    let text = run_ok(
        Command::new("fio")
            .args([
                "--name=verify",
                "--ioengine=nbd",
                "--rw=randwrite",
                "--bs=4k",
                "--size=32m",
                "--iodepth=16",
                "--verify=crc32c",
                "--verify_fatal=1",
                "--do_verify=1",
                "--verify_state_save=0",
            ])
            .arg(format!("--uri={}", d.uri())),
    );
    assert!(!text.contains("verify: bad"), "{text}");
    assert!(text.contains("err= 0"), "fio reported errors:\n{text}");
    d.stop();
}

#[test]
fn cli_lists_stats_and_deletes_a_background_device() {
    let dir = std::env::temp_dir().join(format!("trueno-e2e-{}-cli", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cli = |args: &[&str]| cli_in(&dir, args);
    let out = cli(&["create", "--size", "16M", "--mem-limit", "1M"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("nbd-client -unix"), "no attach hint:\n{text}");
    assert!(text.contains("trueno0"), "{text}");
    let list = String::from_utf8_lossy(&cli(&["list"]).stdout).into_owned();
    assert!(
        list.contains("trueno0") && list.contains("16.0 MiB"),
        "{list}"
    );
    let json = String::from_utf8_lossy(&cli(&["stat", "trueno0", "--json"]).stdout).into_owned();
    assert!(json.contains("\"disksize\":16777216"), "{json}");
    assert!(json.contains("\"mem_limit\":1048576"), "{json}");
    let out = cli(&["delete", "trueno0"]);
    assert!(out.status.success());
    assert!(!dir.join("trueno0.ctl").exists());
    assert!(!dir.join("trueno0.nbd").exists());
    assert!(!cli(&["stat", "trueno0"]).status.success());
    if !std::path::Path::new("/dev/ublk-control").exists() {
        // Without the driver, ublk is refused with what the kernel lacks.
        let bad = cli(&["create", "--size", "16M", "--transport", "ublk"]);
        assert!(!bad.status.success());
        let stderr = String::from_utf8_lossy(&bad.stderr).into_owned();
        assert!(
            stderr.contains("/dev/ublk-control is absent") && stderr.contains("modprobe ublk_drv"),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sizes_are_read_as_trueno_zram_reads_them() {
    // `ram` and units, through the background path that hands the text to the daemon it starts.
    let dir = std::env::temp_dir().join(format!("trueno-e2e-{}-sizes", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cli = |args: &[&str]| cli_in(&dir, args);
    let out = cli(&[
        "create",
        "--name",
        "sizes",
        "--size",
        "min(ram / 4, 24M) + 5000",
        "--mem-limit",
        "1.5M",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8_lossy(&cli(&["stat", "sizes", "--json"]).stdout).into_owned();
    // 24 MiB plus 5000 bytes, rounded down to whole pages.
    assert!(json.contains("\"disksize\":25169920"), "{json}");
    assert!(json.contains("\"mem_limit\":1572864"), "{json}");
    assert!(cli(&["delete", "sizes"]).status.success());
    for (bad, says) in [
        ("ram/0", "division by zero"),
        ("4Q", "unknown unit `q`"),
        ("100", "less than one 4 KiB page"),
    ] {
        let out = cli(&["create", "--size", bad]);
        assert!(!out.status.success(), "{bad} was taken");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(stderr.contains(says), "{bad}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn loopback_tcp_serves_when_asked_and_only_on_loopback() {
    if !have(
        "nbdinfo",
        "loopback_tcp_serves_when_asked_and_only_on_loopback",
    ) {
        return;
    }
    let port = 20_000 + std::process::id() % 20_000;
    let addr = format!("127.0.0.1:{port}");
    let mut d = Daemon::start("tcp", "32M", &["--listen", &addr]);
    let text = run_ok(Command::new("nbdinfo").arg(format!("nbd://{addr}/e2e")));
    assert!(text.contains("export-size: 33554432"), "{text}");
    d.stop();
    let refused = Command::new(BIN)
        .args([
            "create",
            "--foreground",
            "--size",
            "32M",
            "--listen",
            "0.0.0.0:1",
        ])
        .env(
            "TRUENO_UBLK_RUN_DIR",
            std::env::temp_dir().join("trueno-e2e-refused"),
        )
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a loopback address"));
}
