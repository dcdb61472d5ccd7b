//! The units the generator writes.
//!
//! For `[zramN]`, exactly zram-generator's: `dev-zramN.swap` (or a `.mount` unit named after the
//! mount point) that requires the packaged `systemd-zram-setup@zramN.service`, a drop-in
//! `systemd-zram-setup@zramN.service.d/bindings.conf` binding the service to its user, and the
//! enablement link in `swap.target.wants/` or `local-fs.target.wants/`.
//!
//! For `[ublkN]`, a `trueno-ublk@ublkN.service` that runs the daemon and then, as
//! `ExecStartPost=`, `trueno-zram-generator --setup-device ublkN`, which waits for the block device
//! and (for swap) for the daemon's memory to be locked before it writes the signature; the swap or
//! mount unit on the device is ordered after the service, so systemd runs `swapon` only once the
//! service is up and, stopping in reverse order, stops the daemon only after `swapoff`.
//!
//! Every file is written to a temporary name in its folder and renamed into place, so a unit is
//! either absent or whole.

use super::config::{Device, DeviceKind, Transport};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// Where the generator is installed: the `ExecStartPost=` of the ublk services runs it.
/// Set `TRUENO_ZRAM_GENERATOR_PATH` at build time to package it elsewhere.
pub const GENERATOR_PATH: &str = match option_env!("TRUENO_ZRAM_GENERATOR_PATH") {
    Some(path) => path,
    None => "/usr/lib/systemd/system-generators/trueno-zram-generator",
};

/// The trueno-ublk daemon. Set `TRUENO_UBLK_PATH` at build time to package it elsewhere.
pub const UBLK_DAEMON_PATH: &str = match option_env!("TRUENO_UBLK_PATH") {
    Some(path) => path,
    None => "/usr/bin/trueno-ublk",
};

/// Writes the units of every device into `out`. `generated_by` goes into the header line.
pub fn write_all(out: &Path, devices: &[Device], generated_by: &str) -> io::Result<()> {
    let writer = Writer { out, generated_by };
    for device in devices {
        match device.name.kind {
            DeviceKind::Zram => writer.zram(device)?,
            DeviceKind::Ublk => writer.ublk(device)?,
        }
    }
    Ok(())
}

/// The name systemd gives a unit for `path` (systemd.unit(5) path escaping), with `suffix`.
pub fn unit_name_from_path(path: &Path, suffix: &str) -> String {
    let text = path.to_string_lossy();
    let trimmed = text.trim_matches('/');
    if trimmed.is_empty() {
        return format!("-{suffix}");
    }
    let mut name = String::with_capacity(trimmed.len() + suffix.len());
    let mut after_slash = false;
    for (i, byte) in trimmed.bytes().enumerate() {
        if byte == b'/' {
            if !after_slash {
                name.push('-');
            }
            after_slash = true;
            continue;
        }
        after_slash = false;
        match byte {
            b'.' if i == 0 => name.push_str("\\x2e"),
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b':' | b'_' | b'.' => {
                name.push(char::from(byte));
            }
            _ => {
                let _ = write!(name, "\\x{byte:02x}");
            }
        }
    }
    name.push_str(suffix);
    name
}

/// `%` starts a specifier in unit files; a literal one is `%%`.
fn escape_specifiers(value: &str) -> String {
    value.replace('%', "%%")
}

struct Writer<'a> {
    out: &'a Path,
    generated_by: &'a str,
}

impl Writer<'_> {
    fn zram(&self, device: &Device) -> io::Result<()> {
        let name = device.name.to_string();
        let consumer = if device.is_swap() {
            format!("dev-{name}.swap")
        } else if let Some(mount_point) = &device.mount_point {
            unit_name_from_path(mount_point, ".mount")
        } else {
            // Formatted but neither swap nor mounted: the setup service alone serves it.
            return Ok(());
        };
        let setup = format!("systemd-zram-setup@{name}.service");
        let binding = if device.is_swap() {
            "dev-%i.swap"
        } else {
            consumer.as_str()
        };
        let mut bindings = format!("[Unit]\nBindsTo={binding}");
        if let Some(writeback) = &device.writeback_device {
            let writeback_unit = unit_name_from_path(writeback, ".device");
            let _ = write!(bindings, " {writeback_unit}\nAfter={writeback_unit}");
        }
        bindings.push('\n');
        self.file(&format!("{setup}.d/bindings.conf"), &bindings)?;

        if device.is_swap() {
            // A writeback device must be detached before shutdown; systemd does not yet tear down
            // the device stack by itself, so the swap conflicts with shutdown.
            let conflicts = if device.writeback_device.is_some() {
                "Conflicts=shutdown.target\n"
            } else {
                ""
            };
            let unit = format!(
                "[Unit]\n\
                 Description=Compressed Swap on /dev/{name}\n\
                 Documentation=man:zram-generator(8) man:zram-generator.conf(5)\n\
                 \n\
                 DefaultDependencies=no\n\
                 \n\
                 Requires={setup}\n\
                 After={setup}\n\
                 Before=swap.target\n\
                 {conflicts}\
                 \n\
                 [Swap]\n\
                 What=/dev/{name}\n\
                 Priority={priority}\n\
                 Options={options}\n",
                priority = device.swap_priority,
                options = escape_specifiers(&device.options),
            );
            self.file(&consumer, &unit)?;
            self.link("swap.target.wants", &consumer)
        } else {
            let where_ = device
                .mount_point
                .as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let unit = format!(
                "[Unit]\n\
                 Description=Compressed Storage on /dev/{name}\n\
                 Documentation=man:zram-generator(8) man:zram-generator.conf(5)\n\
                 Requires={setup}\n\
                 After={setup}\n\
                 \n\
                 [Mount]\n\
                 What=/dev/{name}\n\
                 Where={where_}\n\
                 Options={options}\n",
                options = escape_specifiers(&device.options),
            );
            self.file(&consumer, &unit)?;
            self.link("local-fs.target.wants", &consumer)
        }
    }

    fn ublk(&self, device: &Device) -> io::Result<()> {
        let name = device.name.to_string();
        let node = device.device_path();
        let node_text = node.to_string_lossy();
        let consumer = if device.is_swap() {
            unit_name_from_path(&node, ".swap")
        } else if let Some(mount_point) = &device.mount_point {
            unit_name_from_path(mount_point, ".mount")
        } else {
            return Ok(());
        };
        let service = format!("trueno-ublk@{name}.service");
        let module = match device.transport {
            Transport::Ublk => "ublk_drv",
            Transport::Nbd => "nbd",
        };
        let mut command = format!(
            "{UBLK_DAEMON_PATH} create --name {name} --size {size} --algorithm {algorithm}",
            size = device.disksize,
            algorithm = device.ublk_algorithm,
        );
        if device.mem_limit > 0 {
            let _ = write!(command, " --mem-limit {}", device.mem_limit);
        }
        let _ = write!(command, " --transport {} --foreground", device.transport);
        if device.is_swap() {
            command.push_str(" --swap");
        }
        let purpose = if device.is_swap() { "swap" } else { "storage" };
        let service_unit = format!(
            "[Unit]\n\
             Description=Compressed RAM block device {node_text} for {purpose} (trueno-ublk {name})\n\
             Documentation=man:zram-generator.conf(5)\n\
             DefaultDependencies=no\n\
             Wants=modprobe@{module}.service\n\
             After=modprobe@{module}.service systemd-modules-load.service\n\
             BindsTo={consumer}\n\
             Conflicts=shutdown.target\n\
             Before=shutdown.target\n\
             \n\
             [Service]\n\
             Type=simple\n\
             ExecStart={command}\n\
             ExecStartPost={GENERATOR_PATH} --setup-device {name}\n\
             LimitMEMLOCK=infinity\n\
             OOMScoreAdjust=-1000\n\
             TimeoutStartSec=90s\n"
        );
        self.file(&service, &service_unit)?;

        if device.is_swap() {
            let unit = format!(
                "[Unit]\n\
                 Description=Compressed Swap on {node_text} (trueno-ublk {name})\n\
                 Documentation=man:zram-generator.conf(5)\n\
                 \n\
                 DefaultDependencies=no\n\
                 \n\
                 Requires={service}\n\
                 After={service}\n\
                 Before=swap.target umount.target\n\
                 Conflicts=umount.target\n\
                 \n\
                 [Swap]\n\
                 What={node_text}\n\
                 Priority={priority}\n\
                 Options={options}\n",
                priority = device.swap_priority,
                options = escape_specifiers(&device.options),
            );
            self.file(&consumer, &unit)?;
            self.link("swap.target.wants", &consumer)
        } else {
            let where_ = device
                .mount_point
                .as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let unit = format!(
                "[Unit]\n\
                 Description=Compressed Storage on {node_text} (trueno-ublk {name})\n\
                 Documentation=man:zram-generator.conf(5)\n\
                 Requires={service}\n\
                 After={service}\n\
                 \n\
                 [Mount]\n\
                 What={node_text}\n\
                 Where={where_}\n\
                 Options={options}\n",
                options = escape_specifiers(&device.options),
            );
            self.file(&consumer, &unit)?;
            self.link("local-fs.target.wants", &consumer)
        }
    }

    /// Writes `out/relative` with the header, atomically.
    fn file(&self, relative: &str, body: &str) -> io::Result<()> {
        let contents = format!(
            "# Automatically generated by {}\n\n{body}",
            self.generated_by
        );
        let path = self.out.join(relative);
        let temporary = prepare(&path)?;
        fs::write(&temporary, contents)
            .and_then(|()| fs::rename(&temporary, &path))
            .map_err(|e| {
                let _ = fs::remove_file(&temporary);
                io::Error::new(e.kind(), format!("{}: {e}", path.display()))
            })
    }

    /// Makes `out/folder/unit` a link to `../unit`, atomically.
    fn link(&self, folder: &str, unit: &str) -> io::Result<()> {
        let path = self.out.join(folder).join(unit);
        let temporary = prepare(&path)?;
        symlink(format!("../{unit}"), &temporary)
            .and_then(|()| fs::rename(&temporary, &path))
            .map_err(|e| {
                let _ = fs::remove_file(&temporary);
                io::Error::new(e.kind(), format!("{}: {e}", path.display()))
            })
    }
}

/// Creates the parent folder of `path` and returns a temporary name beside it.
fn prepare(path: &Path) -> io::Result<PathBuf> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = parent.join(format!(".{file_name}.{}.tmp", std::process::id()));
    // A leftover from a killed run would make symlink() fail.
    let _ = fs::remove_file(&temporary);
    Ok(temporary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_escaping_follows_systemd() {
        let name = |p: &str| unit_name_from_path(Path::new(p), ".mount");
        assert_eq!(name("/waldo"), "waldo.mount");
        assert_eq!(name("/waldo/quuix/"), "waldo-quuix.mount");
        assert_eq!(name("/waldo//quuix//"), "waldo-quuix.mount");
        assert_eq!(name("/"), "-.mount");
        assert_eq!(name("///"), "-.mount");
        assert_eq!(
            name("/run/compressed-mount-point"),
            "run-compressed\\x2dmount\\x2dpoint.mount"
        );
        assert_eq!(
            name("/.żupan-ci3pły"),
            "\\x2e\\xc5\\xbcupan\\x2dci3p\\xc5\\x82y.mount"
        );
        assert_eq!(
            unit_name_from_path(Path::new("/dev/disk/by-id/a b"), ".device"),
            "dev-disk-by\\x2did-a\\x20b.device"
        );
    }

    #[test]
    fn percent_is_escaped() {
        assert_eq!(escape_specifiers("a%b"), "a%%b");
    }
}
