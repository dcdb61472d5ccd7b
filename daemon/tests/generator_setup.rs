//! `trueno-zram-generator --setup-device` / `--reset-device` against this machine's real kernel zram,
//! as root: a device of the test's own is added, configured from a configuration file, checked
//! through sysfs and its signature on the device, reset and removed. Skips with one line when not
//! root or without zram.

// Test helpers fail loudly: a broken fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use trueno_zram::kernel::{KernelError, Zram, ZramDevice};

const GENERATOR: &str = env!("CARGO_BIN_EXE_trueno-zram-generator");

/// A device added for this test, reset and removed however the test ends.
struct OwnDevice {
    zram: Zram,
    dev: ZramDevice,
}

impl Drop for OwnDevice {
    fn drop(&mut self) {
        let _ = self.dev.reset();
        let _ = self.zram.hot_remove(self.dev.id());
    }
}

fn own_device(what: &str) -> Option<OwnDevice> {
    let zram = Zram::system();
    if !zram.is_available() {
        eprintln!("skipped {what}: this kernel has no zram");
        return None;
    }
    match zram.hot_add() {
        Ok(dev) => Some(OwnDevice { zram, dev }),
        Err(KernelError::NotRoot { .. }) => {
            eprintln!("skipped {what}: adding a zram device needs root");
            None
        }
        Err(e) => panic!("hot_add: {e}"),
    }
}

/// A root holding `proc/meminfo` (1 GiB) and `config` as the main configuration file.
fn config_root(config: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("generator-setup-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("proc")).unwrap();
    fs::write(root.join("proc/meminfo"), "MemTotal: 1048576 kB\n").unwrap();
    fs::write(root.join("proc/cmdline"), "quiet\n").unwrap();
    fs::create_dir_all(root.join("etc/systemd")).unwrap();
    fs::write(root.join("etc/systemd/zram-generator.conf"), config).unwrap();
    root
}

fn generator(root: &Path, args: &[&str]) -> (Output, String) {
    let output = Command::new(GENERATOR)
        .args(args)
        .env("ZRAM_GENERATOR_ROOT", root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}

fn first_bytes(node: &Path, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    fs::File::open(node).unwrap().read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn swap_device_is_configured_formatted_and_reset() {
    let Some(own) = own_device("swap_device_is_configured_formatted_and_reset") else {
        return;
    };
    let name = own.dev.name().to_string();
    let root = config_root(&format!(
        "[{name}]\nzram-size = 64\nzram-resident-limit = ram / 32\ncompression-algorithm = lz4(level=1)\n"
    ));
    let (output, stderr) = generator(&root, &["--setup-device", &name]);
    assert!(output.status.success(), "{stderr}");

    assert_eq!(own.dev.disksize().unwrap(), 64 << 20);
    assert!(own.dev.is_initialized().unwrap());
    assert_eq!(
        own.dev.comp_algorithm().unwrap().selected.as_deref(),
        Some("lz4")
    );
    // ram is 1024 MiB: 32 MiB.
    assert_eq!(own.dev.mm_stat().unwrap().mem_limit, 32 << 20);
    // mkswap's signature ends the first page.
    let page = first_bytes(own.dev.node(), 4096);
    assert_eq!(&page[4086..], b"SWAPSPACE2", "no swap signature");

    let (output, stderr) = generator(&root, &["--reset-device", &name]);
    assert!(output.status.success(), "{stderr}");
    assert!(!own.dev.is_initialized().unwrap());
    assert_eq!(own.dev.disksize().unwrap(), 0);
}

#[test]
fn algorithms_the_kernel_lacks_are_warnings_and_the_default_stays() {
    let Some(own) = own_device("algorithms_the_kernel_lacks_are_warnings_and_the_default_stays")
    else {
        return;
    };
    let name = own.dev.name().to_string();
    let default = own.dev.comp_algorithm().unwrap().selected;
    let available = own.dev.comp_algorithm().unwrap().available;
    if available.iter().any(|a| a == "zstd") {
        eprintln!("skipped: this kernel has zstd, the test needs an algorithm it lacks");
        return;
    }
    let root = config_root(&format!(
        "[{name}]\nzram-size = 16\ncompression-algorithm = zstd lz4\nwriteback-device = /dev/null\n"
    ));
    let (output, stderr) = generator(&root, &["--setup-device", &name]);
    // As zram-generator: the device still comes up, with the kernel's default algorithm.
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("compression algorithm zstd not set")
            && stderr.contains("offers no compression algorithm `zstd`"),
        "{stderr}"
    );
    assert!(stderr.contains(&available.join(" ")), "{stderr}");
    assert_eq!(own.dev.comp_algorithm().unwrap().selected, default);
    if !own.dev.has("recomp_algorithm") {
        assert!(
            stderr.contains("recompression (priority 1) algorithm lz4 not set")
                && stderr.contains("CONFIG_ZRAM_MULTI_COMP"),
            "{stderr}"
        );
    }
    if !own.dev.has("backing_dev") {
        assert!(stderr.contains("has no writeback"), "{stderr}");
    }
    assert_eq!(own.dev.disksize().unwrap(), 16 << 20);
}

#[test]
fn file_system_device_gets_its_file_system() {
    let Some(own) = own_device("file_system_device_gets_its_file_system") else {
        return;
    };
    let name = own.dev.name().to_string();
    let root = config_root(&format!(
        "[{name}]\nzram-size = 32\nmount-point = /var/compressed\nfs-type = ext4\n"
    ));
    let (output, stderr) = generator(&root, &["--setup-device", &name]);
    assert!(output.status.success(), "{stderr}");
    // The ext2/3/4 superblock magic 0xEF53, little-endian at byte 1080.
    let start = first_bytes(own.dev.node(), 2048);
    assert_eq!(&start[1080..1082], &[0x53, 0xEF], "no ext4 superblock");
}

#[test]
fn refusals_exit_1_with_the_reason() {
    let Some(own) = own_device("refusals_exit_1_with_the_reason") else {
        return;
    };
    let name = own.dev.name().to_string();

    // Not in the configuration.
    let root = config_root("[zram999999]\n");
    let (output, stderr) = generator(&root, &["--setup-device", &name]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("no such device in the configuration"),
        "{stderr}"
    );

    // Configured wrongly: the warning names file and line, and nothing is set.
    let root = config_root(&format!("[{name}]\nzram-size = -ram\n"));
    let (output, stderr) = generator(&root, &["--setup-device", &name]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("zram-generator.conf:2:"), "{stderr}");
    assert!(stderr.contains("configuration has errors"), "{stderr}");
    assert!(!own.dev.is_initialized().unwrap());

    // Already set up: busy.
    let root = config_root(&format!("[{name}]\nzram-size = 8\n"));
    let (output, stderr) = generator(&root, &["--setup-device", &name]);
    assert!(output.status.success(), "{stderr}");
    let (output, stderr) = generator(&root, &["--setup-device", &name]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("busy"), "{stderr}");
}

/// The setup of a ublk device waits for the daemon's device and fails, naming it, when none comes.
#[test]
fn ublk_setup_fails_when_the_daemon_device_never_appears() {
    let root = config_root("[ublk77]\nzram-size = 16\nalgorithm = zstd:3\n");
    let output = Command::new(GENERATOR)
        .args(["--setup-device", "ublk77"])
        .env("ZRAM_GENERATOR_ROOT", &root)
        .env("TRUENO_UBLK_SETUP_TIMEOUT", "1")
        .env_remove("MAINPID")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ublk77: /dev/ublkb77 did not appear with a size within 1s"),
        "{stderr}"
    );
}

/// A daemon that died is reported at once, not after the whole wait, however long that wait is
/// (the largest one the variable can hold has no end on the clock, and must not panic).
#[test]
fn ublk_setup_fails_fast_when_the_daemon_exited() {
    let root = config_root("[ublk78]\nzram-size = 16\n");
    for timeout in ["600", "18446744073709551615"] {
        // A pid that no process has: above the kernel's pid_max limit.
        let output = Command::new(GENERATOR)
            .args(["--setup-device", "ublk78"])
            .env("ZRAM_GENERATOR_ROOT", &root)
            .env("TRUENO_UBLK_SETUP_TIMEOUT", timeout)
            .env("MAINPID", "4194305")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "timeout {timeout}: {stderr}");
        assert!(
            stderr
                .contains("ublk78: the daemon (pid 4194305) exited before /dev/ublkb78 was ready"),
            "timeout {timeout}: {stderr}"
        );
    }
}
