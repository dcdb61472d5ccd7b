//! `trueno-zram-generator`: a drop-in replacement for systemd's zram-generator that also sets up
//! trueno-ublk devices.
//!
//! Invocation, as zram-generator's:
//! - `trueno-zram-generator DIR [DIR DIR]`: write units into the first directory (systemd passes
//!   three, see systemd.generator(7));
//! - `trueno-zram-generator --setup-device NAME`: configure and format device NAME;
//! - `trueno-zram-generator --reset-device NAME`: reset zram device NAME.
//!
//! `ZRAM_GENERATOR_ROOT` re-roots the configuration, `/proc/meminfo` and `/proc/cmdline`, and turns
//! off what touches the system while generating (container check, module loading, hot_add).
//! Usage errors exit 2, other failures 1.

pub mod config;
pub mod expr;
pub mod ini;
pub mod setup;
pub mod units;

use config::{DeviceKind, DeviceName, Loaded};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use trueno_zram::kernel::Zram;

const USAGE: &str = "\
Usage:
  trueno-zram-generator DIR [DIR DIR]
  trueno-zram-generator --setup-device DEVICE
  trueno-zram-generator --reset-device DEVICE

Generates systemd units for the zram and trueno-ublk devices configured in
{/usr/lib,/usr/local/lib,/etc,/run}/systemd/zram-generator.conf[.d/*.conf]
(see zram-generator.conf(5)), or sets up or resets one device.

Options:
  --setup-device DEVICE  configure and format DEVICE (zramN or ublkN)
  --reset-device DEVICE  reset DEVICE, freeing its memory
  -h, --help             print this help
  -V, --version          print the version

Formats devices with systemd-makefs, or mkswap/mkfs.TYPE where it is missing.
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Write units into the first directory.
    Generate(PathBuf),
    /// `--setup-device NAME`.
    Setup(String),
    /// `--reset-device NAME`.
    Reset(String),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

/// Parses the arguments (without the program name); `Err` is a usage error.
pub fn parse_args(args: &[String]) -> Result<Invocation, String> {
    let mut dirs = Vec::new();
    let mut setup = None;
    let mut reset = None;
    let mut iter = args.iter();
    let mut options_done = false;
    while let Some(arg) = iter.next() {
        let arg = arg.as_str();
        if options_done || !arg.starts_with('-') || arg == "-" {
            dirs.push(arg);
            continue;
        }
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (arg, None),
        };
        match flag {
            "--" => options_done = true,
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "--setup-device" | "--reset-device" => {
                let value = match inline_value {
                    Some(value) => value,
                    None => iter
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("{flag} needs a device name"))?,
                };
                let slot = if flag == "--setup-device" {
                    &mut setup
                } else {
                    &mut reset
                };
                if slot.replace(value).is_some() {
                    return Err(format!("{flag} given twice"));
                }
            }
            _ => return Err(format!("unknown option {arg}")),
        }
    }
    match (setup, reset, dirs.as_slice()) {
        (Some(_), Some(_), _) => Err("--setup-device and --reset-device exclude each other".into()),
        (Some(_), None, [_, ..]) | (None, Some(_), [_, ..]) => {
            Err("a device option takes no output directory".into())
        }
        (Some(name), None, []) => Ok(Invocation::Setup(name)),
        (None, Some(name), []) => Ok(Invocation::Reset(name)),
        (None, None, []) => Err("no output directory given".into()),
        (None, None, [first, ..]) if dirs.len() <= 3 => Ok(Invocation::Generate(first.into())),
        (None, None, _) => Err(format!(
            "at most three output directories, got {}",
            dirs.len()
        )),
    }
}

/// Runs the generator with `args` (without the program name) and returns the exit status.
pub fn main_with_args(args: &[String]) -> i32 {
    let invocation = match parse_args(args) {
        Ok(invocation) => invocation,
        Err(why) => {
            eprintln!("trueno-zram-generator: {why}\n\n{USAGE}");
            return 2;
        }
    };
    let (root, test_mode) = match std::env::var_os("ZRAM_GENERATOR_ROOT") {
        Some(root) => (PathBuf::from(root), true),
        None => (PathBuf::from("/"), false),
    };
    match invocation {
        Invocation::Help => {
            print!("{USAGE}");
            0
        }
        Invocation::Version => {
            println!("trueno-zram-generator {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Invocation::Generate(out) => report(generate(&root, &out, test_mode)),
        Invocation::Setup(name) => report(setup_device(&root, &name)),
        Invocation::Reset(name) => report(reset_device(&name)),
    }
}

fn report(result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(why) => {
            eprintln!("trueno-zram-generator: {why}");
            1
        }
    }
}

fn warn(message: &str) {
    eprintln!("trueno-zram-generator: {message}");
}

/// Reads the kernel switch: `Ok(None)` means the generator is disabled.
fn kernel_override(root: &Path) -> Option<bool> {
    match config::kernel_switch(root) {
        Ok(Some(false)) => {
            warn("disabled by systemd.zram=0 on the kernel command line.");
            None
        }
        Ok(Some(true)) => Some(true),
        Ok(None) => Some(false),
        Err(why) => {
            warn(&format!(
                "cannot read the kernel command line ({why}), ignoring it."
            ));
            Some(false)
        }
    }
}

fn load(root: &Path, force_zram0: bool) -> Result<Loaded, String> {
    let loaded = config::load(root, force_zram0)?;
    for warning in &loaded.warnings {
        warn(warning);
    }
    Ok(loaded)
}

fn generate(root: &Path, out: &Path, test_mode: bool) -> Result<(), String> {
    let Some(force_zram0) = kernel_override(root) else {
        return Ok(());
    };
    let loaded = load(root, force_zram0)?;
    if loaded.devices.is_empty() {
        return Ok(());
    }
    if !test_mode && in_container() {
        warn("running in a container, no devices.");
        return Ok(());
    }
    let generated_by = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "trueno-zram-generator".to_string());
    units::write_all(out, &loaded.devices, &generated_by).map_err(|e| e.to_string())?;
    if !test_mode {
        prepare_kernel(&loaded);
    }
    Ok(())
}

fn in_container() -> bool {
    Command::new("systemd-detect-virt")
        .args(["--quiet", "--container"])
        .status()
        .is_ok_and(|status| status.success())
}

/// Loads the zram module, adds devices up to the highest configured number, and loads the crypto
/// modules of algorithms the kernel does not list yet; failures are warnings, as the setup service
/// reports what is really missing.
fn prepare_kernel(loaded: &Loaded) {
    let zram_indices: Vec<u32> = loaded
        .devices
        .iter()
        .filter(|d| d.name.kind == DeviceKind::Zram)
        .map(|d| d.name.index)
        .collect();
    let Some(highest) = zram_indices.iter().copied().max() else {
        return;
    };
    if !Path::new("/sys/class/zram-control").exists() {
        modprobe("zram");
    }
    let zram = Zram::system();
    while zram.device(highest).is_err() {
        match zram.hot_add() {
            Ok(added) if added.id() < highest => {}
            Ok(_) => break,
            Err(e) => {
                warn(&format!("adding zram devices up to zram{highest}: {e}"));
                break;
            }
        }
    }
    let wanted: BTreeSet<&str> = loaded
        .devices
        .iter()
        .flat_map(|d| d.compression.algorithms.iter().map(|(a, _)| a.as_str()))
        .collect();
    if wanted.is_empty() {
        return;
    }
    let crypto = fs::read_to_string("/proc/crypto").unwrap_or_default();
    let known: BTreeSet<&str> = crypto
        .lines()
        .filter_map(|l| l.strip_prefix("name"))
        .filter_map(|l| l.split_once(':').map(|(_, name)| name.trim()))
        .collect();
    for algorithm in wanted.difference(&known) {
        modprobe(&format!("crypto-{algorithm}"));
    }
}

fn modprobe(module: &str) {
    match Command::new("modprobe").arg(module).status() {
        Ok(status) if status.success() => {}
        Ok(status) => warn(&format!("modprobe {module} failed ({status}), ignoring.")),
        Err(e) => warn(&format!("modprobe {module} cannot run ({e}), ignoring.")),
    }
}

fn setup_device(root: &Path, name: &str) -> Result<(), String> {
    let device_name = DeviceName::parse(name).ok_or_else(|| format!("no such device {name}"))?;
    let Some(force_zram0) = kernel_override(root) else {
        // As zram-generator: the switch turns everything off, which is not a failure.
        return Ok(());
    };
    let loaded = load(root, force_zram0)?;
    let device = loaded.device(device_name).ok_or_else(|| {
        if loaded.rejected.contains(&device_name) {
            format!("{name}: its configuration has errors (see above)")
        } else {
            format!("{name}: no such device in the configuration")
        }
    })?;
    setup::setup(device, &Zram::system(), &mut |w| warn(&w)).map_err(|e| e.to_string())
}

fn reset_device(name: &str) -> Result<(), String> {
    // The configuration is not read, so that a device can be reset after it left the configuration.
    match DeviceName::parse(name).map(|n| n.kind) {
        // The daemon removes its device when it stops; there is nothing left to reset.
        Some(DeviceKind::Ublk) => Ok(()),
        _ => setup::reset_zram(name, &Zram::system()).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            parse_args(&args(&["/a", "/b", "/c"])),
            Ok(Invocation::Generate("/a".into()))
        );
        assert_eq!(
            parse_args(&args(&["--setup-device", "zram0"])),
            Ok(Invocation::Setup("zram0".into()))
        );
        assert_eq!(
            parse_args(&args(&["--reset-device=zram1"])),
            Ok(Invocation::Reset("zram1".into()))
        );
        assert_eq!(parse_args(&args(&["--version"])), Ok(Invocation::Version));
        assert_eq!(parse_args(&args(&["-h"])), Ok(Invocation::Help));
        for bad in [
            &[][..],
            &["a", "b", "c", "d"][..],
            &["dir1", "--setup-device"][..],
            &["dir1", "--setup-device", "zram0"][..],
            &["--setup-device", "zram0", "--reset-device", "zram0"][..],
            &["--frobnicate"][..],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
