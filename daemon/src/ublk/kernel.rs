//! The ublk devices the kernel holds, whoever added them: their ids from sysfs
//! (`/sys/class/ublk-char/ublkcN`), what each says of itself through the control device
//! (`UBLK_CMD_GET_DEV_INFO`: the pid of its server and its state), and their removal (stop, then
//! delete). A device whose server was killed stays in the kernel until someone deletes it; this
//! is how `trueno-ublk list` finds it and `delete` removes it.
//!
//! [`UblkKernel`] is the seam: [`SystemUblk`] talks to the kernel (only where
//! `/dev/ublk-control` exists), tests use a fake.

use std::path::{Path, PathBuf};

/// `ublksrv_flags` of the devices trueno-ublk adds: the kernel keeps the word for the server and
/// reports it back, so `list` can tell our devices from another ublk server's.
pub const TRUENO_MARK: u64 = u64::from_be_bytes(*b"trueno\0\x01");

/// Where the kernel's ublk devices appear, under the sysfs root.
const CHAR_CLASS: &str = "class/ublk-char";

/// The control device.
pub const CONTROL_DEVICE: &str = "/dev/ublk-control";

/// A device's state (`UBLK_S_DEV_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevState {
    /// Added but not started, or stopped: no block device.
    Dead,
    /// Started: `/dev/ublkbN` exists.
    Live,
    /// Quiesced for a server upgrade.
    Quiesced,
    /// Failing I/O while waiting for a recovering server.
    FailIo,
    /// A state this build does not know.
    Other(u16),
}

impl DevState {
    /// From the kernel's number.
    pub fn from_kernel(state: u16) -> Self {
        match state {
            0 => Self::Dead,
            1 => Self::Live,
            2 => Self::Quiesced,
            3 => Self::FailIo,
            other => Self::Other(other),
        }
    }
}

impl std::fmt::Display for DevState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dead => f.write_str("dead"),
            Self::Live => f.write_str("live"),
            Self::Quiesced => f.write_str("quiesced"),
            Self::FailIo => f.write_str("fail-io"),
            Self::Other(n) => write!(f, "state {n}"),
        }
    }
}

/// What the kernel says of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelDevice {
    /// The N of `/dev/ublkcN` and `/dev/ublkbN`.
    pub id: u32,
    /// The pid of the server that added or started it (`ublksrv_pid`).
    pub server_pid: i32,
    /// Its state.
    pub state: DevState,
    /// Added by trueno-ublk ([`TRUENO_MARK`]).
    pub ours: bool,
}

/// The kernel's ublk devices, and their removal.
pub trait UblkKernel {
    /// Every device: its id, and what it says of itself (or why it could not be asked).
    fn devices(&self) -> Vec<(u32, Result<KernelDevice, String>)>;
    /// Stops device `id` (its block device goes) and deletes it (its id is free again).
    fn remove(&self, id: u32) -> Result<(), String>;
}

/// The ids of the devices under the sysfs tree at `sys_root`, sorted; entries that are not
/// `ublkcN` are ignored.
pub fn device_ids(sys_root: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(sys_root.join(CHAR_CLASS)) else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let digits = name.to_str()?.strip_prefix("ublkc")?;
            digits
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| digits.parse().ok())?
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// The kernel device a command-line argument names: `ublkbN`, `ublkcN`, `/dev/ublkbN`,
/// `/dev/ublkcN`, or `ublkN`.
pub fn parse_device_arg(arg: &str) -> Option<u32> {
    let base = arg.strip_prefix("/dev/").unwrap_or(arg);
    let digits = ["ublkb", "ublkc", "ublk"]
        .iter()
        .find_map(|p| base.strip_prefix(p))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The running kernel, through libublk's control commands.
#[derive(Debug, Clone)]
pub struct SystemUblk {
    sys_root: PathBuf,
}

impl SystemUblk {
    /// The system's sysfs.
    pub fn new() -> Self {
        Self::with_sys_root("/sys")
    }

    /// Device ids from the sysfs tree at `sys_root`; the control commands still go to the
    /// kernel.
    pub fn with_sys_root(sys_root: impl Into<PathBuf>) -> Self {
        Self {
            sys_root: sys_root.into(),
        }
    }
}

impl Default for SystemUblk {
    fn default() -> Self {
        Self::new()
    }
}

fn open(id: u32) -> Result<libublk::ctrl::UblkCtrl, String> {
    let id = i32::try_from(id).map_err(|_| format!("ublk device id {id} is out of range"))?;
    if !Path::new(CONTROL_DEVICE).exists() {
        return Err(format!("{CONTROL_DEVICE} is absent"));
    }
    // Not for adding: this only opens the control device and reads the device's info.
    libublk::ctrl::UblkCtrl::new_simple(id).map_err(|e| format!("ublk device {id}: {e}"))
}

impl UblkKernel for SystemUblk {
    fn devices(&self) -> Vec<(u32, Result<KernelDevice, String>)> {
        device_ids(&self.sys_root)
            .into_iter()
            .map(|id| {
                let info = open(id).map(|ctrl| {
                    let info = ctrl.dev_info();
                    KernelDevice {
                        id,
                        server_pid: info.ublksrv_pid,
                        state: DevState::from_kernel(info.state),
                        ours: info.ublksrv_flags == TRUENO_MARK,
                    }
                });
                (id, info)
            })
            .collect()
    }

    fn remove(&self, id: u32) -> Result<(), String> {
        let ctrl = open(id)?;
        // Stopping a device that is already dead is a no-op for the kernel; a failure here
        // (the device going away meanwhile) leaves the delete to say what is wrong.
        if let Err(e) = ctrl.stop_dev() {
            log::debug!("ublk device {id}: stop: {e}");
        }
        ctrl.del_dev()
            .map(|_| ())
            .map_err(|e| format!("cannot delete ublk device {id}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_ublkc_entries_only() {
        let root = crate::state::tests::temp_dir("sysfs");
        let class = root.join(CHAR_CLASS);
        for entry in [
            "ublkc0", "ublkc12", "ublkc3", "ublkc", "ublkcx", "ublkc-1", "ublkb4", "junk",
        ] {
            std::fs::create_dir_all(class.join(entry)).unwrap_or_else(|e| unreachable!("{e}"));
        }
        std::fs::write(class.join("ublkc99999999999"), "").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(device_ids(&root), vec![0, 3, 12]);
        assert_eq!(device_ids(&root.join("absent")), Vec::<u32>::new());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_device_the_kernel_does_not_have_is_reported_not_invented() {
        // Ids from a fake sysfs, answers from the kernel: here it has no such devices (or no
        // driver at all), so each is an error that says why, and nothing is removed.
        let root = crate::state::tests::temp_dir("sysfs-real");
        let id = 1_000_000 + std::process::id() % 1000;
        std::fs::create_dir_all(root.join(CHAR_CLASS).join(format!("ublkc{id}")))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let kernel = SystemUblk::with_sys_root(&root);
        let devices = kernel.devices();
        assert_eq!(devices.len(), 1);
        assert!(
            matches!(&devices[0], (i, Err(why)) if *i == id && !why.is_empty()),
            "{devices:?}"
        );
        assert!(kernel.remove(id).is_err());
        let too_big = kernel.remove(u32::MAX).err().unwrap_or_default();
        assert!(too_big.contains("out of range"), "{too_big}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn device_arguments_name_kernel_ids() {
        for (arg, id) in [
            ("ublk0", Some(0)),
            ("ublkb7", Some(7)),
            ("ublkc12", Some(12)),
            ("/dev/ublkb3", Some(3)),
            ("/dev/ublkc3", Some(3)),
            ("ublk", None),
            ("ublkb", None),
            ("ublk-1", None),
            ("trueno0", None),
            ("/dev/sda", None),
            ("ublk1x", None),
            ("ublk99999999999", None),
        ] {
            assert_eq!(parse_device_arg(arg), id, "{arg}");
        }
    }

    #[test]
    fn states_and_mark() {
        assert_eq!(DevState::from_kernel(0), DevState::Dead);
        assert_eq!(DevState::from_kernel(1), DevState::Live);
        assert_eq!(DevState::from_kernel(2), DevState::Quiesced);
        assert_eq!(DevState::from_kernel(3), DevState::FailIo);
        assert_eq!(DevState::from_kernel(9).to_string(), "state 9");
        assert_eq!(libublk::sys::UBLK_S_DEV_DEAD, 0);
        assert_eq!(libublk::sys::UBLK_S_DEV_LIVE, 1);
        assert_eq!(libublk::sys::UBLK_S_DEV_QUIESCED, 2);
        assert_eq!(libublk::sys::UBLK_S_DEV_FAIL_IO, 3);
        assert_eq!(&TRUENO_MARK.to_be_bytes()[..6], b"trueno");
    }
}
