//! Control of the Linux kernel's zram devices through sysfs.
//!
//! [`Zram`] finds, adds and removes devices; [`ZramDevice`] configures one and reads its statistics.
//! Both work under a configurable sysfs root, so tests can point them at a fake tree. Every failure is
//! a [`KernelError`] that says what to do: a setting the running kernel lacks is
//! [`KernelError::Unsupported`] naming it, an algorithm it lacks is [`KernelError::UnknownAlgorithm`]
//! listing the ones it has, never a bare I/O error.
//!
//! ```no_run
//! use trueno_zram::kernel::{DeviceConfig, Zram};
//! let zram = Zram::system();
//! let dev = zram.hot_add()?;
//! dev.configure(&DeviceConfig { disksize: 1 << 30, algorithm: Some("lz4".into()), ..Default::default() })?;
//! println!("{:?}", dev.mm_stat()?);
//! dev.reset()?;
//! zram.hot_remove(dev.id())?;
//! # Ok::<(), trueno_zram::kernel::KernelError>(())
//! ```

mod algorithms;
mod attr;
mod device;
mod direct_io;
mod error;
mod stats;

use std::path::{Path, PathBuf};

pub use algorithms::{
    AlgorithmList, RecompAlgorithm, parse_algorithm_list, parse_recomp_algorithms,
};
pub use device::{
    AlgorithmParams, DeviceConfig, IdleMark, PageSelection, Recompress, Writeback, ZramDevice,
};
pub use direct_io::DirectIo;
pub use error::{KernelError, Result};
pub use stats::{
    BdStat, DebugStat, IoStat, MmStat, parse_bd_stat, parse_debug_stat, parse_io_stat,
    parse_mm_stat,
};

/// The kernel's zram, seen through a sysfs root (`/sys`) and a device-node root (`/dev`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zram {
    sysfs: PathBuf,
    dev: PathBuf,
}

impl Zram {
    /// The running kernel: `/sys` and `/dev`.
    pub fn system() -> Self {
        Self::with_roots("/sys", "/dev")
    }

    /// A tree rooted elsewhere (tests): `sysfs` stands for `/sys`, `dev` for `/dev`.
    pub fn with_roots(sysfs: impl Into<PathBuf>, dev: impl Into<PathBuf>) -> Self {
        Self {
            sysfs: sysfs.into(),
            dev: dev.into(),
        }
    }

    fn control_dir(&self) -> PathBuf {
        self.sysfs.join("class/zram-control")
    }

    fn device_at(&self, id: u32) -> ZramDevice {
        ZramDevice::new(
            id,
            self.sysfs.join(format!("block/zram{id}")),
            self.dev.join(format!("zram{id}")),
        )
    }

    /// Whether the kernel has zram at all (a control directory or at least one device).
    pub fn is_available(&self) -> bool {
        self.control_dir().is_dir() || self.devices().is_ok_and(|d| !d.is_empty())
    }

    /// Every zram device, by number.
    pub fn devices(&self) -> Result<Vec<ZramDevice>> {
        let block = self.sysfs.join("block");
        let entries = std::fs::read_dir(&block).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                KernelError::NoZram {
                    path: block.clone(),
                }
            } else {
                KernelError::Io {
                    op: "listing",
                    path: block.clone(),
                    source,
                }
            }
        })?;
        let mut ids: Vec<u32> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(device_number))
            .collect();
        if ids.is_empty() && !self.control_dir().is_dir() {
            return Err(KernelError::NoZram {
                path: self.control_dir(),
            });
        }
        ids.sort_unstable();
        Ok(ids.into_iter().map(|id| self.device_at(id)).collect())
    }

    /// Device `zram<id>`, if it exists.
    pub fn device(&self, id: u32) -> Result<ZramDevice> {
        let dev = self.device_at(id);
        if dev.sysfs_dir().is_dir() {
            Ok(dev)
        } else if !self.is_available() {
            Err(KernelError::NoZram {
                path: self.control_dir(),
            })
        } else {
            Err(KernelError::NoSuchDevice {
                name: dev.name().to_owned(),
                path: dev.sysfs_dir().to_path_buf(),
            })
        }
    }

    /// A device by name (`zram3` or `/dev/zram3`).
    pub fn device_named(&self, name: &str) -> Result<ZramDevice> {
        let base = Path::new(name)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(name);
        match device_number(base) {
            Some(id) => self.device(id),
            None => Err(KernelError::NoSuchDevice {
                name: name.to_owned(),
                path: self.sysfs.join("block").join(base),
            }),
        }
    }

    /// The first uninitialised device, if any.
    pub fn find_free(&self) -> Result<Option<ZramDevice>> {
        for dev in self.devices()? {
            if !dev.is_initialized()? {
                return Ok(Some(dev));
            }
        }
        Ok(None)
    }

    /// Adds a device (`hot_add`) and returns it.
    pub fn hot_add(&self) -> Result<ZramDevice> {
        let dir = self.control_dir();
        if !dir.is_dir() {
            return Err(KernelError::NoZram { path: dir });
        }
        let path = dir.join("hot_add");
        let content = std::fs::read_to_string(&path).map_err(|e| {
            attr::classify(
                e,
                "zram-control",
                "hot_add",
                "",
                "adding a zram device (hot_add)".into(),
                &path,
                "reading",
            )
        })?;
        let id = content
            .trim()
            .parse::<u32>()
            .map_err(|_| KernelError::Parse {
                path: path.clone(),
                content: content.trim().to_owned(),
                reason: "hot_add did not answer a device number".to_owned(),
            })?;
        self.device(id)
    }

    /// Removes device `zram<id>` (`hot_remove`); it must be reset or at least not in use.
    pub fn hot_remove(&self, id: u32) -> Result<()> {
        let dir = self.control_dir();
        if !dir.is_dir() {
            return Err(KernelError::NoZram { path: dir });
        }
        let dev = self.device(id)?;
        attr::write(&dir, dev.name(), "hot_remove", &id.to_string()).map_err(|e| match e {
            KernelError::Busy { device, .. } => KernelError::Busy {
                device,
                setting: "hot_remove",
            },
            KernelError::NotRoot { .. } => KernelError::NotRoot {
                action: format!("removing {} (hot_remove)", dev.name()),
            },
            other => other,
        })
    }
}

/// The number in a device name `zramN`.
fn device_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("zram")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
