//! End to end through the kernel's ublk driver: create a device, put ext4 on it, mount it, write
//! and verify files, run fio random writes with verification, and delete it; stop a daemon with
//! SIGTERM and SIGINT (the device must go); kill one with SIGKILL (the kernel keeps its device:
//! `list` must show it and `delete` remove it). Where `/dev/ublk-control` is absent (no
//! `ublk_drv`, not root) each test says so on one line and skips.

#![allow(clippy::panic, clippy::cast_possible_truncation)] // test helpers fail loudly; patterns keep low bytes

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trueno-ublk");

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .env("TRUENO_UBLK_RUN_DIR", run_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn run_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ublk-e2e-{}", std::process::id()))
}

fn driver_skip_reason() -> Option<String> {
    if !Path::new("/dev/ublk-control").exists() {
        return Some("/dev/ublk-control is absent (no ublk_drv: needs Linux >= 6.0, CONFIG_BLK_DEV_UBLK, modprobe ublk_drv)".into());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: adding a ublk device and mounting need root".into());
    }
    None
}

fn skip_reason() -> Option<String> {
    if let Some(why) = driver_skip_reason() {
        return Some(why);
    }
    for tool in ["mkfs.ext4", "mount", "umount", "fio"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

#[test]
fn ext4_and_fio_on_a_ublk_device() {
    if let Some(why) = skip_reason() {
        eprintln!("ublk_e2e skipped: {why}");
        return;
    }
    let name = "ublk_e2e";
    let out = run(
        BIN,
        &[
            "create",
            "--transport",
            "ublk",
            "--name",
            name,
            "--size",
            "256M",
            "--algorithm",
            "lz4",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let bdev = text
        .split_whitespace()
        .find(|w| w.starts_with("/dev/ublkb"))
        .unwrap_or_else(|| panic!("no /dev/ublkbN in: {text}"))
        .to_owned();
    let listed = String::from_utf8_lossy(&run(BIN, &["list"]).stdout).into_owned();
    assert!(listed.contains(name) && listed.contains(&bdev), "{listed}");

    run("mkfs.ext4", &["-q", "-F", &bdev]);
    let mnt = run_dir().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap_or_else(|e| panic!("{e}"));
    let mnt_s = mnt.to_string_lossy().into_owned();
    run("mount", &[&bdev, &mnt_s]);
    let files: Vec<(PathBuf, Vec<u8>)> = (0..16u32)
        .map(|i| {
            let data: Vec<u8> = (0..(64 << 10) + i * 4099)
                .map(|j| (j.wrapping_mul(i + 7) >> 3) as u8)
                .collect();
            (mnt.join(format!("file{i}")), data)
        })
        .collect();
    for (path, data) in &files {
        std::fs::write(path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    run("sync", &[]);
    run("sh", &["-c", "echo 3 > /proc/sys/vm/drop_caches"]);
    for (path, data) in &files {
        let back = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            back == *data,
            "{} differs after a cache drop",
            path.display()
        );
    }
    run("umount", &[&mnt_s]);

    run(
        "fio",
        &[
            "--name=randwrite",
            &format!("--filename={bdev}"),
            "--rw=randwrite",
            "--bs=4k",
            "--size=64M",
            "--direct=1",
            "--ioengine=psync",
            "--verify=crc32c",
            "--do_verify=1",
            "--verify_fatal=1",
        ],
    );

    run(BIN, &["delete", name]);
    let started = Instant::now();
    while Path::new(&bdev).exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{bdev} still exists after delete"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A field of device `name`'s state file.
fn state_field(name: &str, key: &str) -> String {
    let text = std::fs::read_to_string(run_dir().join(format!("{name}.state")))
        .unwrap_or_else(|e| panic!("{name}.state: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .to_owned()
}

fn wait_gone(path: &str, what: &str) {
    let started = Instant::now();
    while Path::new(path).exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path} still exists {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exists(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every thread gone or a zombie: the main thread turns zombie before the others have exited,
/// and the process's files close only with the last thread.
fn process_gone(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|task| {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        stat.rsplit_once(')')
            .map(|(_, rest)| rest.trim_start())
            .is_none_or(|s| s.starts_with('Z'))
    })
}

#[test]
fn sigterm_and_sigint_stop_the_daemon_and_delete_the_device() {
    if let Some(why) = driver_skip_reason() {
        eprintln!("ublk_e2e signals skipped: {why}");
        return;
    }
    for (signal, name) in [(libc::SIGTERM, "ublk_term"), (libc::SIGINT, "ublk_int")] {
        let mut child = Command::new(BIN)
            .args(["create", "--foreground", "--transport", "ublk"])
            .args(["--name", name, "--size", "64M"])
            .env("TRUENO_UBLK_RUN_DIR", run_dir())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        wait_exists(&run_dir().join(format!("{name}.ctl")));
        let bdev = state_field(name, "endpoint");
        let id = state_field(name, "ublk_id");
        wait_exists(Path::new(&bdev));
        let pid = i32::try_from(child.id()).unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: kill(2) with a pid we spawned and a valid signal number.
        unsafe { libc::kill(pid, signal) };
        let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "{name}: exited with {status}");
        wait_gone(&bdev, "after the signal");
        wait_gone(&format!("/dev/ublkc{id}"), "after the signal");
        assert!(!Path::new(&format!("/sys/class/ublk-char/ublkc{id}")).exists());
        for file in ["ctl", "state"] {
            assert!(
                !run_dir().join(format!("{name}.{file}")).exists(),
                "{name}.{file}"
            );
        }
    }
}

#[test]
fn a_daemon_killed_by_sigkill_leaves_a_device_that_list_shows_and_delete_removes() {
    if let Some(why) = driver_skip_reason() {
        eprintln!("ublk_e2e SIGKILL skipped: {why}");
        return;
    }
    // Once through the name (state file kept), once through the kernel id alone (run dir lost).
    for (name, by_id) in [("ublk_kill", false), ("ublk_lost", true)] {
        run(
            BIN,
            &[
                "create",
                "--transport",
                "ublk",
                "--name",
                name,
                "--size",
                "64M",
            ],
        );
        let pid: i32 = state_field(name, "pid")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let id = state_field(name, "ublk_id");
        // SAFETY: kill(2) with the pid of the daemon this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        let started = Instant::now();
        while !process_gone(pid) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{pid} lives on"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let cdev = format!("/dev/ublkc{id}");
        assert!(Path::new(&cdev).exists(), "the kernel keeps {cdev}");
        let target = if by_id {
            std::fs::remove_file(run_dir().join(format!("{name}.state")))
                .unwrap_or_else(|e| panic!("{e}"));
            format!("ublk{id}")
        } else {
            name.to_owned()
        };
        let listed = String::from_utf8_lossy(&run(BIN, &["list"]).stdout).into_owned();
        let line = listed
            .lines()
            .find(|l| l.starts_with(&format!("{target} ")))
            .unwrap_or_else(|| panic!("{target} not listed:\n{listed}"));
        assert!(
            line.contains("orphaned") && line.contains(&format!("ublk device {id}")),
            "{line}"
        );
        if by_id {
            // The kernel stops the device of a dead server soon (and then reports pid -1).
            assert!(
                line.contains(&format!("of pid {pid}, which is gone"))
                    || line.contains("with no server"),
                "{line}"
            );
            assert!(line.contains("(added by trueno-ublk)"), "{line}");
        } else {
            assert!(
                line.contains(&format!("daemon pid {pid} is gone")),
                "{line}"
            );
        }
        let deleted = String::from_utf8_lossy(&run(BIN, &["delete", &target]).stdout).into_owned();
        assert!(
            deleted.contains(&format!("removed ublk device {id}")),
            "{deleted}"
        );
        wait_gone(&cdev, "after delete");
        assert!(!Path::new(&format!("/sys/class/ublk-char/ublkc{id}")).exists());
        let listed = String::from_utf8_lossy(&run(BIN, &["list"]).stdout).into_owned();
        assert!(!listed.contains(&target), "{listed}");
        assert!(!run_dir().join(format!("{name}.state")).exists());
        assert!(!run_dir().join(format!("{name}.ctl")).exists());
    }
}
