//! What can go wrong when driving kernel zram, phrased so that a user knows what to do next.

use std::io;
use std::path::PathBuf;

/// An error from the kernel zram interface. Each message names the device and setting involved and,
/// where there is one, the action that fixes it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// The kernel refused a write for lack of privileges.
    #[error("{action} needs root: run it as root (for example with sudo)")]
    NotRoot {
        /// What was attempted, e.g. `writing disksize of zram0`.
        action: String,
    },
    /// Neither zram devices nor the zram control directory exist.
    #[error(
        "this kernel has no zram ({} is absent): load it with `modprobe zram` or use a kernel built with CONFIG_ZRAM",
        path.display()
    )]
    NoZram {
        /// The directory that should exist.
        path: PathBuf,
    },
    /// The named device does not exist.
    #[error("there is no zram device {name} ({} is absent)", path.display())]
    NoSuchDevice {
        /// Device name, e.g. `zram3`.
        name: String,
        /// Its sysfs directory.
        path: PathBuf,
    },
    /// The device is initialised or in use (swap, mounted, open), so the kernel refused the change.
    #[error(
        "{device} is busy: the kernel refuses `{setting}` while the device is initialised or in use; \
         swapoff or unmount it, then reset it"
    )]
    Busy {
        /// Device name.
        device: String,
        /// The setting or action refused.
        setting: &'static str,
    },
    /// The kernel does not offer this compression algorithm.
    #[error(
        "{device}: the kernel offers no compression algorithm `{algorithm}` (it offers: {available})"
    )]
    UnknownAlgorithm {
        /// Device name.
        device: String,
        /// The algorithm asked for.
        algorithm: String,
        /// The algorithms the kernel lists, space-separated.
        available: String,
    },
    /// The kernel could not allocate the page table for this disk size.
    #[error(
        "{device}: disksize of {bytes} bytes is too large for this machine's memory; choose a smaller size"
    )]
    SizeTooLarge {
        /// Device name.
        device: String,
        /// The size asked for.
        bytes: u64,
    },
    /// The running kernel's zram lacks this attribute.
    #[error("this kernel's zram has no `{setting}`: {needs}")]
    Unsupported {
        /// The sysfs attribute.
        setting: &'static str,
        /// What provides it.
        needs: &'static str,
    },
    /// The kernel rejected a value as invalid.
    #[error("{device}: the kernel rejected {setting} `{value}`: {hint}")]
    Rejected {
        /// Device name.
        device: String,
        /// The sysfs attribute.
        setting: &'static str,
        /// The value written.
        value: String,
        /// What the kernel expects.
        hint: &'static str,
    },
    /// An attribute's content is not in the format this kernel interface documents.
    #[error("cannot parse {}: {reason} (content: `{content}`)", path.display())]
    Parse {
        /// The attribute file.
        path: PathBuf,
        /// Its content, trimmed.
        content: String,
        /// What was wrong.
        reason: String,
    },
    /// Any other I/O failure, with the file and the operation.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// `reading`, `writing`, `opening`...
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// Result with a [`KernelError`].
pub type Result<T> = std::result::Result<T, KernelError>;

/// What a zram attribute needs when the running kernel lacks it.
pub(crate) fn requirement(setting: &str) -> &'static str {
    match setting {
        "recomp_algorithm" | "recompress" => {
            "recompression needs a kernel built with CONFIG_ZRAM_MULTI_COMP (Linux 6.2 or later)"
        }
        "writeback" | "backing_dev" | "bd_stat" | "writeback_limit" | "writeback_limit_enable" => {
            "writeback needs a kernel built with CONFIG_ZRAM_WRITEBACK"
        }
        "idle" => "idle-page marking needs a kernel with zram idle tracking (Linux 5.2 or later)",
        "algorithm_params" => "per-algorithm parameters need a newer kernel (Linux 6.12 or later)",
        "max_comp_streams" => {
            "newer kernels removed it and run one compression stream per CPU; leave it unset"
        }
        _ => "this attribute needs a newer kernel or another zram build",
    }
}

/// What the kernel expects for a setting it answered EINVAL to.
pub(crate) fn einval_hint(setting: &str) -> &'static str {
    match setting {
        "disksize" => "give a non-zero size in bytes (suffixes K, M, G are accepted)",
        "comp_algorithm" | "recomp_algorithm" => "choose an algorithm the kernel lists",
        "algorithm_params" => {
            "give `algo=NAME` with `level=N` and/or `dict=PATH` for an algorithm the kernel lists"
        }
        "recompress" | "idle" | "writeback" => {
            "the device must be initialised (disksize set) and the request well-formed"
        }
        "backing_dev" => "give the path of a block device, before setting disksize",
        "hot_remove" => "give the number of an existing zram device",
        _ => "see Documentation/admin-guide/blockdev/zram.rst for the accepted values",
    }
}
