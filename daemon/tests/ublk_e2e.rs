//! End to end through the kernel's ublk driver: create a device, put ext4 on it, mount it, write
//! and verify files, run fio random writes with verification, and delete it. Where
//! `/dev/ublk-control` is absent (no `ublk_drv`, not root) it says so on one line and skips.

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

fn skip_reason() -> Option<String> {
    if !Path::new("/dev/ublk-control").exists() {
        return Some("/dev/ublk-control is absent (no ublk_drv: needs Linux >= 6.0, CONFIG_BLK_DEV_UBLK, modprobe ublk_drv)".into());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: adding a ublk device and mounting need root".into());
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
