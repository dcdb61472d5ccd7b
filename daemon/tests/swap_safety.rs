//! `--swap` refuses to start where a swap-safety step is not permitted, before any device or
//! socket exists: the daemon runs in a child that has dropped a capability (and, for the memory
//! lock, has a low `RLIMIT_MEMLOCK`), as under a restricted service manager. Where the machine
//! permits every step, a swap daemon is started and its memory checked to be locked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trueno-ublk");
const CAP_IPC_LOCK: u32 = 14;
const CAP_SYS_RESOURCE: u32 = 24;
const MEMLOCK: u64 = 8 << 20;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// In the child before exec: takes `cap` out of the bounding, inheritable and ambient sets, so
/// that the program it executes (even as root) does not have it. Only system calls: fit for
/// `pre_exec`.
fn drop_capability(cap: u32) -> std::io::Result<()> {
    let cap_arg = libc::c_ulong::from(cap);
    // SAFETY: prctl reads only its integer arguments.
    if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap_arg, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above; lowering an ambient capability that is not raised succeeds too.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_LOWER as libc::c_ulong,
            cap_arg,
            0,
            0,
        )
    };
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData (version 3) into `data` and reads `header`.
    if unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    data[0].inheritable &= !(1 << cap);
    // SAFETY: capset reads `header` and two CapData from `data`.
    if unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn set_memlock(bytes: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit reads the struct and changes only this (child) process's limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &raw const limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn run_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trueno-swap-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `create --swap` in a child without `drop` capabilities and with `RLIMIT_MEMLOCK` at
/// `memlock` (when given). A capability this process lacks is not dropped: a child does not get
/// it (a user who is not root runs these tests with none).
fn create_swap(test: &str, extra: &[&str], drop: &[u32], memlock: Option<u64>) -> Output {
    let dir = run_dir(test);
    let drop: Vec<u32> = drop
        .iter()
        .copied()
        .filter(|&c| has_capability(c))
        .collect();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "create",
        "--foreground",
        "--swap",
        "--name",
        "swap",
        "--size",
        "1G",
    ])
    .args(extra)
    .env("TRUENO_UBLK_RUN_DIR", &dir)
    .stdin(Stdio::null());
    // SAFETY: the closure runs between fork and exec and makes only system calls.
    unsafe {
        cmd.pre_exec(move || {
            for &cap in &drop {
                drop_capability(cap)?;
            }
            if let Some(bytes) = memlock {
                set_memlock(bytes)?;
            }
            Ok(())
        });
    }
    let out = cmd
        .output()
        .expect("cannot start the daemon without capabilities");
    // Refused before anything was created.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{test}: left behind {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn refusal(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

#[test]
fn a_low_memlock_limit_without_cap_ipc_lock_refuses_swap() {
    for (transport, extra, buffers) in [
        (
            "ublk",
            &["--transport", "ublk", "--queues", "2", "--depth", "64"][..],
            Some("64.0 MiB of I/O buffers (2 queues × depth 64 × 512.0 KiB)"),
        ),
        (
            "nbd",
            &["--transport", "nbd", "--mem-limit", "256M"][..],
            None,
        ),
    ] {
        let out = create_swap(
            &format!("memlock-{transport}"),
            extra,
            &[CAP_IPC_LOCK],
            Some(MEMLOCK),
        );
        let stderr = refusal(&out);
        let line = stderr
            .lines()
            .find(|l| l.contains("RLIMIT_MEMLOCK"))
            .unwrap_or_else(|| panic!("{transport}: no RLIMIT_MEMLOCK line in:\n{stderr}"));
        assert!(line.contains("--swap refused: mlockall"), "{line}");
        assert!(
            line.contains("RLIMIT_MEMLOCK is 8.0 MiB (hard 8.0 MiB)"),
            "{line}"
        );
        assert!(
            line.contains("LimitMEMLOCK=") && line.contains("CAP_IPC_LOCK"),
            "{line}"
        );
        if let Some(buffers) = buffers {
            assert!(line.contains(buffers), "{line}");
            assert!(line.contains("1.0 GiB of store (the device size"), "{line}");
        } else {
            assert!(line.contains("256.0 MiB of store (--mem-limit)"), "{line}");
        }
        // The ublk check comes before the driver's: this machine may have none.
        assert!(!stderr.contains("ublk-control"), "{stderr}");
    }
}

#[test]
fn cap_ipc_lock_lifts_the_memlock_limit() {
    if !has_capability(CAP_IPC_LOCK) {
        eprintln!("skipped cap_ipc_lock_lifts_the_memlock_limit: this process lacks CAP_IPC_LOCK");
        return;
    }
    // Root keeps CAP_IPC_LOCK: the same 8 MiB limit is no reason to refuse. Without
    // CAP_SYS_RESOURCE the I/O flusher step is refused instead, and says so.
    let out = create_swap(
        "io-flusher",
        &["--transport", "nbd"],
        &[CAP_SYS_RESOURCE],
        Some(MEMLOCK),
    );
    let stderr = refusal(&out);
    assert!(!stderr.contains("RLIMIT_MEMLOCK"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--swap refused: PR_SET_IO_FLUSHER needs CAP_SYS_RESOURCE")
            && stderr.contains("run as root"),
        "{stderr}"
    );
}

#[test]
fn both_refusals_are_given_at_once() {
    let out = create_swap(
        "both",
        &["--transport", "nbd"],
        &[CAP_IPC_LOCK, CAP_SYS_RESOURCE],
        Some(MEMLOCK),
    );
    let stderr = refusal(&out);
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(stderr.contains("RLIMIT_MEMLOCK") && stderr.contains("PR_SET_IO_FLUSHER"));
}

fn has_capability(cap: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << cap) != 0)
}

#[test]
fn a_permitted_swap_daemon_locks_its_memory() {
    for cap in [CAP_IPC_LOCK, CAP_SYS_RESOURCE] {
        if !has_capability(cap) {
            eprintln!(
                "skipped a_permitted_swap_daemon_locks_its_memory: this process lacks capability {cap}, so --swap is refused (tested above)"
            );
            return;
        }
    }
    let dir = run_dir("permitted");
    let mut child = Command::new(BIN)
        .args([
            "create",
            "--foreground",
            "--swap",
            "--name",
            "swap",
            "--size",
            "64M",
        ])
        .args(["--transport", "nbd"])
        .env("TRUENO_UBLK_RUN_DIR", &dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.join("swap.ctl").exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let locked_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(locked_kb > 0, "VmLck is 0:\n{status}");
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}
