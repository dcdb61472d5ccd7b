//! Reading and writing one sysfs attribute, turning the kernel's errno answers into [`KernelError`]s.

use std::io::{self, Write};
use std::path::Path;

use super::error::{KernelError, Result, einval_hint, requirement};

/// Reads attribute `setting` from the device directory `dir`, whose device is called `device`.
pub(crate) fn read(dir: &Path, device: &str, setting: &'static str) -> Result<String> {
    ensure_exists(dir, device, setting)?;
    let path = dir.join(setting);
    std::fs::read_to_string(&path).map_err(|source| {
        classify(
            source,
            device,
            setting,
            "",
            format!("reading {setting} of {device}"),
            &path,
            "reading",
        )
    })
}

/// Writes `value` to attribute `setting` of the device directory `dir`.
pub(crate) fn write(dir: &Path, device: &str, setting: &'static str, value: &str) -> Result<()> {
    ensure_exists(dir, device, setting)?;
    let path = dir.join(setting);
    let action = || format!("writing {setting} of {device}");
    // Never create: a missing attribute is reported above, and sysfs refuses creation anyway.
    // Truncating is what `echo value > attr` does: sysfs ignores it, a fake tree needs it.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| classify(e, device, setting, value, action(), &path, "opening"))?;
    // sysfs takes one write per store; write_all issues exactly one for these short values.
    file.write_all(value.as_bytes())
        .map_err(|e| classify(e, device, setting, value, action(), &path, "writing"))
}

/// Distinguishes a missing device from a missing attribute, so neither surfaces as a raw ENOENT.
fn ensure_exists(dir: &Path, device: &str, setting: &'static str) -> Result<()> {
    if !dir.is_dir() {
        return Err(KernelError::NoSuchDevice {
            name: device.to_owned(),
            path: dir.to_path_buf(),
        });
    }
    if !dir.join(setting).exists() {
        return Err(KernelError::Unsupported {
            setting,
            needs: requirement(setting),
        });
    }
    Ok(())
}

/// Maps an errno from a sysfs store or show to the error a user can act on.
pub(crate) fn classify(
    source: io::Error,
    device: &str,
    setting: &'static str,
    value: &str,
    action: String,
    path: &Path,
    op: &'static str,
) -> KernelError {
    match source.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => KernelError::NotRoot { action },
        Some(libc::EBUSY) => KernelError::Busy {
            device: device.to_owned(),
            setting,
        },
        Some(libc::ENOMEM | libc::E2BIG) if setting == "disksize" => KernelError::SizeTooLarge {
            device: device.to_owned(),
            bytes: value.trim().parse().unwrap_or(u64::MAX),
        },
        Some(libc::ENODEV) if setting == "hot_remove" => KernelError::NoSuchDevice {
            name: format!("zram{}", value.trim()),
            path: path.to_path_buf(),
        },
        Some(libc::ENOENT) => KernelError::Unsupported {
            setting,
            needs: requirement(setting),
        },
        Some(libc::EINVAL) if op == "writing" => KernelError::Rejected {
            device: device.to_owned(),
            setting,
            value: value.trim().to_owned(),
            hint: einval_hint(setting),
        },
        _ => KernelError::Io {
            op,
            path: path.to_path_buf(),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno(code: i32, setting: &'static str, value: &str) -> KernelError {
        classify(
            io::Error::from_raw_os_error(code),
            "zram7",
            setting,
            value,
            format!("writing {setting} of zram7"),
            Path::new("/sys/block/zram7").join(setting).as_path(),
            "writing",
        )
    }

    #[test]
    fn errno_answers_become_actionable_errors() {
        assert!(matches!(
            errno(libc::EACCES, "reset", "1"),
            KernelError::NotRoot { .. }
        ));
        assert!(matches!(
            errno(libc::EPERM, "disksize", "1"),
            KernelError::NotRoot { .. }
        ));
        let busy = errno(libc::EBUSY, "disksize", "4096");
        assert!(matches!(
            busy,
            KernelError::Busy {
                setting: "disksize",
                ..
            }
        ));
        assert!(busy.to_string().contains("swapoff"), "{busy}");
        match errno(libc::ENOMEM, "disksize", "1125899906842624") {
            KernelError::SizeTooLarge { bytes, device } => {
                assert_eq!(bytes, 1 << 50);
                assert_eq!(device, "zram7");
            }
            other => panic!("{other}"),
        }
        let rejected = errno(libc::EINVAL, "algorithm_params", "algo=lz4 level=x");
        assert!(rejected.to_string().contains("algo=NAME"), "{rejected}");
        assert!(
            matches!(errno(libc::ENODEV, "hot_remove", "9"), KernelError::NoSuchDevice { name, .. } if name == "zram9")
        );
        assert!(matches!(
            errno(libc::EIO, "reset", "1"),
            KernelError::Io { .. }
        ));
    }
}
