//! `--setup-device` and `--reset-device`: what the `systemd-zram-setup@zramN.service` and
//! `trueno-ublk@ublkN.service` units run.
//!
//! A zram device is configured through the std crate's kernel module, in the order the kernel needs
//! (algorithm, its parameters and the recompression algorithms, the backing device, then disksize,
//! which initialises it, then mem_limit), and formatted with `systemd-makefs`, or `mkswap` /
//! `mkfs.TYPE` where systemd-makefs is missing. As with zram-generator, an algorithm, parameter or
//! recompression setting the kernel lacks is a warning and the kernel's default stays: a machine
//! still gets its swap.
//!
//! A ublk device is made by the trueno-ublk daemon; its setup waits for the block device and, for
//! swap, for the daemon (`$MAINPID`) to have locked its memory, then writes the signature.

use super::config::{Device, DeviceKind};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};
use trueno_zram::kernel::{AlgorithmParams, KernelError, Zram, ZramDevice};

/// Where `systemd-makefs` may be installed.
const SYSTEMD_MAKEFS: [&str; 2] = [
    "/usr/lib/systemd/systemd-makefs",
    "/lib/systemd/systemd-makefs",
];

/// How long a ublk setup waits for the daemon's device and memory lock, unless the environment
/// variable `TRUENO_UBLK_SETUP_TIMEOUT` gives a number of seconds.
const UBLK_WAIT: Duration = Duration::from_secs(60);

fn ublk_wait() -> Duration {
    std::env::var("TRUENO_UBLK_SETUP_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(UBLK_WAIT, Duration::from_secs)
}

/// Why a setup or reset failed.
#[derive(Debug)]
pub enum SetupError {
    /// The kernel refused or lacks something that the device cannot do without.
    Kernel(KernelError),
    /// Formatting failed.
    Format(String),
    /// A ublk device did not become ready.
    NotReady(String),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kernel(e) => write!(f, "{e}"),
            Self::Format(why) | Self::NotReady(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SetupError {}

impl From<KernelError> for SetupError {
    fn from(e: KernelError) -> Self {
        Self::Kernel(e)
    }
}

/// Configures and formats `device`; `warn` receives what was left at the kernel's default.
pub fn setup(device: &Device, zram: &Zram, warn: &mut dyn FnMut(String)) -> Result<(), SetupError> {
    match device.name.kind {
        DeviceKind::Zram => {
            let kernel_device = zram.device(device.name.index)?;
            configure_zram(device, &kernel_device, warn)?;
            make_fs(device.effective_fs_type(), kernel_device.node())
        }
        DeviceKind::Ublk => {
            let pid = std::env::var("MAINPID").ok();
            wait_for_ublk(device, pid.as_deref())?;
            make_fs(device.effective_fs_type(), &device.device_path())
        }
    }
}

/// Resets zram device `name` (`zramN` or `/dev/zramN`), freeing its memory.
pub fn reset_zram(name: &str, zram: &Zram) -> Result<(), SetupError> {
    Ok(zram.device_named(name)?.reset()?)
}

fn configure_zram(
    device: &Device,
    kernel: &ZramDevice,
    warn: &mut dyn FnMut(String),
) -> Result<(), SetupError> {
    if kernel.is_initialized()? {
        return Err(KernelError::Busy {
            device: kernel.name().to_string(),
            setting: "disksize",
        }
        .into());
    }
    for (priority, (algorithm, params)) in device.compression.algorithms.iter().enumerate() {
        let priority = u32::try_from(priority).unwrap_or(u32::MAX);
        let selected = if priority == 0 {
            kernel.set_comp_algorithm(algorithm)
        } else {
            kernel.set_recomp_algorithm(algorithm, priority)
        };
        if let Err(e) = selected {
            let role = if priority == 0 {
                "compression".to_string()
            } else {
                format!("recompression (priority {priority})")
            };
            warn(format!(
                "{}: {role} algorithm {algorithm} not set, keeping the kernel's default: {e}",
                kernel.name()
            ));
            continue;
        }
        if !params.is_empty() {
            let applied = algorithm_params(algorithm, priority, params, warn)
                .map(|p| kernel.set_algorithm_params(&p));
            if let Some(Err(e)) = applied {
                warn(format!(
                    "{}: parameters \"{params}\" of {algorithm} not set: {e}",
                    kernel.name()
                ));
            }
        }
    }
    if !device.compression.recompression_global.is_empty() {
        warn(format!(
            "{}: global recompression parameters \"{}\" are used by a later `recompress`, nothing to set now",
            kernel.name(),
            device.compression.recompression_global
        ));
    }
    if let Some(backing) = &device.writeback_device {
        if kernel.has("backing_dev") {
            kernel.set_backing_dev(backing)?;
        } else {
            warn(format!(
                "{}: writeback-device={} set, but this kernel's zram has no writeback (CONFIG_ZRAM_WRITEBACK); ignored",
                kernel.name(),
                backing.display()
            ));
        }
    }
    kernel.set_disksize(device.disksize)?;
    kernel.set_mem_limit(device.mem_limit)?;
    Ok(())
}

/// Turns zram-generator's `k=v k=v` parameter words into the kernel's `algorithm_params`; words the
/// kernel has no parameter for are warned about. `None` when nothing is left to set.
fn algorithm_params(
    algorithm: &str,
    priority: u32,
    params: &str,
    warn: &mut dyn FnMut(String),
) -> Option<AlgorithmParams> {
    let mut result = AlgorithmParams {
        algorithm: (priority == 0).then(|| algorithm.to_string()),
        priority: (priority > 0).then_some(priority),
        ..AlgorithmParams::default()
    };
    let mut any = false;
    for word in params.split_whitespace() {
        match word.split_once('=') {
            Some(("level", level)) if level.parse::<i32>().is_ok() => {
                result.level = level.parse().ok();
                any = true;
            }
            Some(("dict" | "dictionary", path)) if !path.is_empty() => {
                result.dict = Some(PathBuf::from(path));
                any = true;
            }
            _ => warn(format!(
                "{algorithm}: parameter \"{word}\" is not one the kernel takes (level=N, dict=PATH); ignored"
            )),
        }
    }
    any.then_some(result)
}

/// Writes a swap or file-system signature on `node`.
pub fn make_fs(fs_type: &str, node: &Path) -> Result<(), SetupError> {
    let (program, args): (String, Vec<String>) =
        match SYSTEMD_MAKEFS.iter().find(|p| Path::new(p).exists()) {
            Some(makefs) => (
                (*makefs).to_string(),
                vec![fs_type.to_string(), node.to_string_lossy().into_owned()],
            ),
            None if fs_type == "swap" => (
                "mkswap".to_string(),
                vec![node.to_string_lossy().into_owned()],
            ),
            None => (
                format!("mkfs.{fs_type}"),
                vec![node.to_string_lossy().into_owned()],
            ),
        };
    let status = Command::new(&program)
        .args(&args)
        .status()
        .map_err(|e| SetupError::Format(format!("cannot run {program}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(SetupError::Format(format!(
            "{program} {} failed: {status}",
            args.join(" ")
        )))
    }
}

/// Waits until the daemon's block device exists with a size, and for swap until the daemon has
/// locked its memory, so that `swapon` can never page out the pages that serve the swap.
fn wait_for_ublk(device: &Device, main_pid: Option<&str>) -> Result<(), SetupError> {
    let node = device.device_path();
    let sysfs_size = Path::new("/sys/class/block")
        .join(node.file_name().unwrap_or_default())
        .join("size");
    let wait = ublk_wait();
    // `Instant + Duration` panics past the clock's range, and the wait comes from the environment:
    // a wait too long to have an end is waited without one.
    let deadline = Instant::now().checked_add(wait);
    loop {
        let size_ready = fs::read_to_string(&sysfs_size)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .is_some_and(|sectors| sectors > 0);
        let lock_ready = !device.is_swap() || main_pid.is_some_and(memory_locked);
        if size_ready && node.exists() && lock_ready {
            return Ok(());
        }
        if let Some(pid) = main_pid
            && !Path::new("/proc").join(pid).exists()
        {
            return Err(SetupError::NotReady(format!(
                "{}: the daemon (pid {pid}) exited before {} was ready",
                device.name,
                node.display()
            )));
        }
        if deadline.is_some_and(|end| Instant::now() >= end) {
            let missing = if !size_ready {
                format!("{} did not appear with a size", node.display())
            } else if main_pid.is_none() {
                "$MAINPID is unset, so the daemon's memory lock cannot be checked".to_string()
            } else {
                "the daemon did not lock its memory (VmLck is 0); swap on it could deadlock"
                    .to_string()
            };
            return Err(SetupError::NotReady(format!(
                "{}: {missing} within {}s",
                device.name,
                wait.as_secs()
            )));
        }
        sleep(Duration::from_millis(100));
    }
}

/// Whether process `pid` has locked memory (`VmLck` above 0 in its status).
fn memory_locked(pid: &str) -> bool {
    fs::read_to_string(Path::new("/proc").join(pid).join("status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmLck:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .is_some_and(|kib| kib > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_map_to_the_kernel() {
        let mut warnings = Vec::new();
        let p = algorithm_params(
            "zstd",
            0,
            "dictionary=/etc/gaming level=9 foo=1",
            &mut |w| warnings.push(w),
        )
        .unwrap();
        assert_eq!(p.algorithm.as_deref(), Some("zstd"));
        assert_eq!(p.level, Some(9));
        assert_eq!(p.dict.as_deref(), Some(Path::new("/etc/gaming")));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("foo=1"));
        let recomp = algorithm_params("lz4", 2, "level=3", &mut |_| {}).unwrap();
        assert_eq!((recomp.algorithm, recomp.priority), (None, Some(2)));
        assert!(algorithm_params("lz4", 0, "bogus", &mut |_| {}).is_none());
    }

    #[test]
    fn own_process_memory_lock_is_read() {
        // This test process has locked nothing.
        assert!(!memory_locked(&std::process::id().to_string()));
        assert!(!memory_locked("not-a-pid"));
    }

    /// A process that called mlockall() is seen as locked (needs python3 and the right to lock).
    #[test]
    fn locked_process_is_detected() {
        let script = "import ctypes, sys, time\n\
                      ok = ctypes.CDLL(None).mlockall(3) == 0\n\
                      print('locked' if ok else 'refused', flush=True)\n\
                      time.sleep(10)\n";
        let Ok(mut child) = Command::new("python3")
            .args(["-c", script])
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("skipped locked_process_is_detected: python3 is not installed");
            return;
        };
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            use std::io::BufRead;
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        }
        let pid = child.id().to_string();
        let locked = memory_locked(&pid);
        let _ = child.kill();
        let _ = child.wait();
        if line.trim() != "locked" {
            eprintln!("skipped locked_process_is_detected: mlockall refused (not root?)");
            return;
        }
        assert!(locked, "VmLck of a process after mlockall is 0");
    }
}
