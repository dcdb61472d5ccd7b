//! Reading the configuration: files and drop-ins, the kernel command-line switch, the keys of a
//! `[zramN]` or `[ublkN]` section, and the sizes they evaluate to.
//!
//! The search paths, precedence, keys and defaults are zram-generator's (see
//! `zram-generator.conf(5)`). Unlike zram-generator, a malformed entry never stops the whole run: it
//! produces a warning naming the file and line, and only the device it belongs to is skipped.

use super::expr::Expr;
use super::ini::{self, EntryKind};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use trueno_zram::zstd::compress::{MAX_LEVEL as ZSTD_MAX_LEVEL, MIN_LEVEL as ZSTD_MIN_LEVEL};

/// The folders searched for configuration, lowest precedence first, relative to the root.
pub const BASE_DIRS: [&str; 4] = ["usr/lib", "usr/local/lib", "etc", "run"];
/// The main configuration file, relative to a base folder.
pub const MAIN_FILE: &str = "systemd/zram-generator.conf";
/// The drop-in folder, relative to a base folder.
pub const DROPIN_DIR: &str = "systemd/zram-generator.conf.d";
/// The size of a device whose `zram-size` is not set, in MiB of `ram`.
pub const DEFAULT_ZRAM_SIZE: &str = "min(ram / 2, 4096)";
/// The kernel command-line switch.
pub const KERNEL_SWITCH: &str = "systemd.zram";

/// Where an entry came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A problem with one entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where it is.
    pub at: Location,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// The two families of devices a section can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceKind {
    /// A kernel zram device, `/dev/zramN`.
    Zram,
    /// A trueno-ublk daemon device.
    Ublk,
}

/// A device name such as `zram0` or `ublk3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceName {
    /// Its family.
    pub kind: DeviceKind,
    /// Its number.
    pub index: u32,
}

impl DeviceName {
    /// Parses `zramN` or `ublkN`, N a decimal number without leading zeros.
    pub fn parse(name: &str) -> Option<Self> {
        let (kind, digits) = if let Some(digits) = name.strip_prefix("zram") {
            (DeviceKind::Zram, digits)
        } else if let Some(digits) = name.strip_prefix("ublk") {
            (DeviceKind::Ublk, digits)
        } else {
            return None;
        };
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return None;
        }
        Some(Self {
            kind,
            index: digits.parse().ok()?,
        })
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DeviceKind::Zram => write!(f, "zram{}", self.index),
            DeviceKind::Ublk => write!(f, "ublk{}", self.index),
        }
    }
}

/// A size expression as written, with where it was written.
#[derive(Debug, Clone)]
pub struct SizeSetting {
    /// The text.
    pub text: String,
    /// The parsed expression.
    pub expr: Expr,
    /// Its place in the configuration.
    pub at: Location,
}

/// `compression-algorithm`: the first algorithm compresses, later ones recompress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Algorithms {
    /// `(algorithm, parameters)`; parameters are space-separated `key=value` words, maybe empty.
    pub algorithms: Vec<(String, String)>,
    /// Parameters of a bare `(...)`: global recompression parameters.
    pub recompression_global: String,
}

/// The compressor of a trueno-ublk device (`algorithm =` in a `[ublkN]` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UblkAlgorithm {
    /// LZ4.
    Lz4,
    /// Zstandard at a level.
    Zstd(i32),
    /// Chosen per page.
    Adaptive,
}

impl fmt::Display for UblkAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lz4 => f.write_str("lz4"),
            Self::Zstd(level) => write!(f, "zstd:{level}"),
            Self::Adaptive => f.write_str("adaptive"),
        }
    }
}

/// How a trueno-ublk device reaches the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The ublk driver: `/dev/ublkbN`.
    Ublk,
    /// The NBD driver: `/dev/nbdN`.
    Nbd,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ublk => "ublk",
            Self::Nbd => "nbd",
        })
    }
}

/// One configured device, after merging every file.
#[derive(Debug, Clone)]
pub struct Device {
    /// `zramN` or `ublkN`.
    pub name: DeviceName,
    /// `host-memory-limit` in MiB: no device when MemTotal is above it.
    pub host_memory_limit_mb: Option<u64>,
    /// `zram-size`.
    pub zram_size: Option<SizeSetting>,
    /// `zram-resident-limit`.
    pub zram_resident_limit: Option<SizeSetting>,
    /// `compression-algorithm` (zram).
    pub compression: Algorithms,
    /// `algorithm` (ublk).
    pub ublk_algorithm: UblkAlgorithm,
    /// `transport` (ublk).
    pub transport: Transport,
    /// `writeback-device` (zram).
    pub writeback_device: Option<PathBuf>,
    /// `swap-priority`.
    pub swap_priority: i32,
    /// `mount-point`, normalised.
    pub mount_point: Option<PathBuf>,
    /// `fs-type`.
    pub fs_type: Option<String>,
    /// `options`.
    pub options: String,
    /// Obsolete `zram-fraction`.
    pub zram_fraction: Option<f64>,
    /// Obsolete `max-zram-size` (`Some(None)` for `none`).
    pub max_zram_size_mb: Option<Option<u64>>,
    /// The evaluated size in bytes.
    pub disksize: u64,
    /// The evaluated resident limit in bytes (0: none).
    pub mem_limit: u64,
    /// Errors by key, in the order found, so that a later valid value of the same key clears an
    /// earlier bad one.
    errors: Vec<(String, Diagnostic)>,
}

impl Device {
    fn record_error(&mut self, key: String, diagnostic: Diagnostic) {
        self.clear_error(&key);
        self.errors.push((key, diagnostic));
    }

    fn clear_error(&mut self, key: &str) {
        self.errors.retain(|(k, _)| k != key);
    }

    fn new(name: DeviceName) -> Self {
        Self {
            name,
            host_memory_limit_mb: None,
            zram_size: None,
            zram_resident_limit: None,
            compression: Algorithms::default(),
            ublk_algorithm: UblkAlgorithm::Lz4,
            transport: Transport::Ublk,
            writeback_device: None,
            swap_priority: 100,
            mount_point: None,
            fs_type: None,
            options: "discard".to_string(),
            zram_fraction: None,
            max_zram_size_mb: None,
            disksize: 0,
            mem_limit: 0,
            errors: Vec::new(),
        }
    }

    /// Swap, unless a mount point or a file-system type other than `swap` is set.
    pub fn is_swap(&self) -> bool {
        self.mount_point.is_none() && self.fs_type.as_deref().is_none_or(|t| t == "swap")
    }

    /// The type to format with: `fs-type`, else `swap`, else `ext2` for a mount point.
    pub fn effective_fs_type(&self) -> &str {
        match (&self.fs_type, self.is_swap()) {
            (Some(fs_type), _) => fs_type,
            (None, true) => "swap",
            (None, false) => "ext2",
        }
    }

    /// The block device node.
    pub fn device_path(&self) -> PathBuf {
        let index = self.name.index;
        PathBuf::from(match (self.name.kind, self.transport) {
            (DeviceKind::Zram, _) => format!("/dev/zram{index}"),
            (DeviceKind::Ublk, Transport::Ublk) => format!("/dev/ublkb{index}"),
            (DeviceKind::Ublk, Transport::Nbd) => format!("/dev/nbd{index}"),
        })
    }
}

/// The result of reading the configuration.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Devices to set up: valid, enabled, of a size above 0; sorted by name.
    pub devices: Vec<Device>,
    /// Devices left out because their configuration is wrong.
    pub rejected: Vec<DeviceName>,
    /// Everything worth telling the administrator, in order.
    pub warnings: Vec<String>,
}

impl Loaded {
    /// The device named `name`, if it is to be set up.
    pub fn device(&self, name: DeviceName) -> Option<&Device> {
        self.devices.iter().find(|d| d.name == name)
    }
}

/// Reads the kernel command-line switch from `root/proc/cmdline`: `Some(true)` forces a `zram0`,
/// `Some(false)` disables the generator. The last occurrence wins; unknown values are ignored.
pub fn kernel_switch(root: &Path) -> Result<Option<bool>, String> {
    let path = root.join("proc/cmdline");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(parse_kernel_switch(&text))
}

/// The switch's value in a command line.
pub fn parse_kernel_switch(cmdline: &str) -> Option<bool> {
    cmdline.split_whitespace().rev().find_map(|word| {
        let value = word.strip_prefix(KERNEL_SWITCH)?;
        match value {
            "" | "=1" | "=yes" | "=true" | "=on" => Some(true),
            "=0" | "=no" | "=false" | "=off" => Some(false),
            _ => None,
        }
    })
}

/// The configuration files in the order they apply: the main file (the last that exists), then the
/// drop-ins sorted by file name, a later folder's file masking an earlier one of the same name and
/// an empty file or a link to `/dev/null` masking it altogether.
pub fn fragments(root: &Path) -> Vec<PathBuf> {
    let mut dropins: BTreeMap<String, PathBuf> = BTreeMap::new();
    for base in BASE_DIRS {
        let Ok(entries) = fs::read_dir(root.join(base).join(DROPIN_DIR)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || !name.ends_with(".conf") {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                continue;
            }
            dropins.insert(name, path);
        }
    }
    let main = BASE_DIRS
        .iter()
        .rev()
        .map(|base| root.join(base).join(MAIN_FILE))
        .find(|path| path.exists());
    main.into_iter()
        .chain(dropins.into_values().filter(|path| !is_masked(path)))
        .collect()
}

fn is_masked(path: &Path) -> bool {
    let to_dev_null = fs::read_link(path).is_ok_and(|target| target == Path::new("/dev/null"));
    to_dev_null || fs::metadata(path).is_ok_and(|m| m.len() == 0)
}

/// Reads every file under `root` and evaluates the devices. `force_zram0` (the kernel switch)
/// adds a `zram0` with default settings when no file configures it.
pub fn load(root: &Path, force_zram0: bool) -> Result<Loaded, String> {
    let memtotal_mb = crate::units::memtotal_kib(root)? / 1024;
    let files = fragments(root);
    let mut reader = Reader {
        devices: BTreeMap::new(),
        variables: BTreeMap::new(),
        warnings: Vec::new(),
        memtotal_mb,
    };
    if files.is_empty() && !force_zram0 {
        reader.warnings.push("No configuration found.".to_string());
    }
    for file in &files {
        reader.read_file(file);
    }
    if force_zram0 {
        let zram0 = DeviceName {
            kind: DeviceKind::Zram,
            index: 0,
        };
        reader
            .devices
            .entry(zram0)
            .or_insert_with(|| Device::new(zram0));
    }
    Ok(reader.finish())
}

struct Reader {
    devices: BTreeMap<DeviceName, Device>,
    variables: BTreeMap<String, f64>,
    warnings: Vec<String>,
    memtotal_mb: u64,
}

/// The section the following lines belong to.
enum Section {
    Global,
    Device(DeviceName),
    Ignored,
}

impl Reader {
    fn read_file(&mut self, file: &Path) {
        let text = match fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    self.warnings.push(format!(
                        "{}: not UTF-8 ({e}), file ignored.",
                        file.display()
                    ));
                    return;
                }
            },
            Err(e) => {
                self.warnings
                    .push(format!("{}: {e}, file ignored.", file.display()));
                return;
            }
        };
        let mut section = Section::Global;
        for entry in ini::parse(&text) {
            let at = Location {
                file: file.to_path_buf(),
                line: entry.line,
            };
            match entry.kind {
                EntryKind::Section(name) => {
                    section = match DeviceName::parse(&name) {
                        Some(device) => {
                            self.devices
                                .entry(device)
                                .or_insert_with(|| Device::new(device));
                            Section::Device(device)
                        }
                        None => {
                            self.warnings.push(format!(
                                "{at}: section [{name}] is not a device (zramN or ublkN), ignored."
                            ));
                            Section::Ignored
                        }
                    }
                }
                EntryKind::Pair { key, value } => match section {
                    Section::Global => self.global_line(&at, &key, &value),
                    Section::Device(name) => {
                        if let Some(device) = self.devices.get_mut(&name) {
                            set_key(device, &key, &value, &at);
                        }
                    }
                    Section::Ignored => {}
                },
                EntryKind::MalformedSection(why) => {
                    // The lines below belong to a section nobody can name: not to the previous one.
                    self.warnings.push(format!(
                        "{at}: malformed section header: {why}; lines up to the next header ignored."
                    ));
                    section = Section::Ignored;
                }
                EntryKind::Malformed(why) => {
                    let message = format!("malformed line: {why}");
                    match section {
                        Section::Device(name) => {
                            if let Some(device) = self.devices.get_mut(&name) {
                                // Keyed by place: a later line cannot repair a line that means nothing.
                                let message = format!("{name}: {message}");
                                device.record_error(format!("{at}"), Diagnostic { at, message });
                            }
                        }
                        Section::Global => self.warnings.push(format!("{at}: {message}, ignored.")),
                        Section::Ignored => {}
                    }
                }
            }
        }
    }

    /// The global section holds only `set!VAR = program` directives.
    fn global_line(&mut self, at: &Location, key: &str, value: &str) {
        let Some((operation, variable)) = key.split_once('!') else {
            self.warnings.push(format!(
                "{at}: invalid outside-of-section key {key}, ignored."
            ));
            return;
        };
        if operation != "set" {
            self.warnings.push(format!(
                "{at}: unknown outside-of-section operation {operation}!, ignored."
            ));
            return;
        }
        if variable == "ram"
            || !variable
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || !variable.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        {
            self.warnings.push(format!(
                "{at}: set!{variable}: not a variable name that an expression can use, ignored."
            ));
            return;
        }
        match self.run_set(value) {
            Ok((result, exit_warning)) => {
                if let Some(exit_warning) = exit_warning {
                    self.warnings
                        .push(format!("{at}: {key} = {value}: {exit_warning}"));
                }
                self.variables.insert(variable.to_string(), result);
            }
            Err(why) => self.warnings.push(format!(
                "{at}: {key} = {value}: {why}; the variable stays undefined."
            )),
        }
    }

    /// Runs `program` with the shell and evaluates its output.
    fn run_set(&self, program: &str) -> Result<(f64, Option<String>), String> {
        let output = Command::new("/bin/sh")
            .args(["-c", "--", program])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run /bin/sh: {e}"))?;
        let status = output.status;
        let exit_warning = (!status.success())
            .then(|| format!("the program failed ({status}); its output is used anyway"));
        let failed = |why: String| {
            if status.success() {
                why
            } else {
                format!("the program failed ({status}) and {why}")
            }
        };
        let text = String::from_utf8(output.stdout)
            .map_err(|e| failed(format!("its output is not UTF-8: {e}")))?;
        let value = Expr::parse(&text)
            .and_then(|expr| expr.eval(&self.eval_variables()))
            .map_err(|e| {
                failed(format!(
                    "its output {:?} is not an expression: {e}",
                    text.trim_end()
                ))
            })?;
        Ok((value, exit_warning))
    }

    fn eval_variables(&self) -> BTreeMap<String, f64> {
        let mut variables = self.variables.clone();
        #[allow(clippy::cast_precision_loss)] // MiB of RAM: far below 2^52.
        variables.insert("ram".to_string(), self.memtotal_mb as f64);
        variables
    }

    fn finish(self) -> Loaded {
        let variables = self.eval_variables();
        let mut loaded = Loaded {
            warnings: self.warnings,
            ..Loaded::default()
        };
        for (name, mut device) in self.devices {
            if let Some(limit) = device.host_memory_limit_mb
                && limit < self.memtotal_mb
            {
                loaded.warnings.push(format!(
                    "{name}: system has too much memory ({}MB), limit is {limit}MB, ignoring.",
                    self.memtotal_mb
                ));
                continue;
            }
            if device.errors.is_empty() {
                evaluate_sizes(
                    &mut device,
                    self.memtotal_mb,
                    &variables,
                    &mut loaded.warnings,
                );
            }
            if !device.errors.is_empty() {
                for (_, diagnostic) in &device.errors {
                    loaded.warnings.push(format!("{diagnostic}"));
                }
                loaded
                    .warnings
                    .push(format!("{name}: configuration has errors, device skipped."));
                loaded.rejected.push(name);
            } else if device.disksize > 0 {
                loaded.devices.push(device);
            }
        }
        loaded
    }
}

/// A non-negative float to an integer, rounding down and saturating at `u64::MAX` (as
/// zram-generator does: `+inf` MiB gives `u64::MAX` bytes).
fn saturating_u64(value: f64) -> u64 {
    // `as` from a float saturates and maps NaN to 0; callers have rejected negative and NaN values.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let integer = value as u64;
    integer
}

/// MiB (as an expression gives them) to bytes.
fn mib_to_bytes(mib: f64) -> u64 {
    saturating_u64(mib * 1024.0 * 1024.0)
}

fn evaluate_sizes(
    device: &mut Device,
    memtotal_mb: u64,
    variables: &BTreeMap<String, f64>,
    warnings: &mut Vec<String>,
) {
    let name = device.name;
    #[allow(clippy::cast_precision_loss)] // MiB of RAM: far below 2^52.
    let ram = memtotal_mb as f64;
    if device.zram_fraction.is_some() || device.max_zram_size_mb.is_some() {
        // The obsolete pair overrides zram-size.
        let max_mb = device.max_zram_size_mb.flatten().unwrap_or(u64::MAX);
        let fraction_mb = saturating_u64(device.zram_fraction.unwrap_or(0.5) * ram);
        device.disksize = fraction_mb.min(max_mb).saturating_mul(1024 * 1024);
    } else {
        let size = match &device.zram_size {
            Some(setting) => evaluate(name, setting, "zram-size", variables),
            None => Ok((ram / 2.0).min(4096.0)),
        };
        match size {
            Ok(mib) => {
                device.disksize = mib_to_bytes(mib);
                let ratio = device.disksize / memtotal_mb.saturating_mul(1024 * 1024).max(1);
                if ratio > 32 {
                    let text = device
                        .zram_size
                        .as_ref()
                        .map_or(DEFAULT_ZRAM_SIZE, |s| s.text.as_str());
                    warnings.push(format!(
                        "{name}: zram-size ({text} = {}B) would require improbable compression ratio {ratio} with available memory ({memtotal_mb}MB), units may be wrong",
                        device.disksize
                    ));
                }
            }
            Err(diagnostic) => {
                device.record_error("zram-size".into(), diagnostic);
            }
        }
    }
    if name.kind == DeviceKind::Ublk {
        // trueno-ublk takes whole 4 KiB pages.
        device.disksize -= device.disksize % 4096;
    }
    if let Some(setting) = &device.zram_resident_limit {
        match evaluate(name, setting, "zram-resident-limit", variables) {
            Ok(mib) => device.mem_limit = mib_to_bytes(mib),
            Err(diagnostic) => {
                device.record_error("zram-resident-limit".into(), diagnostic);
            }
        }
    }
}

/// Evaluates a size setting in MiB; a negative or NaN result is an error.
fn evaluate(
    name: DeviceName,
    setting: &SizeSetting,
    key: &str,
    variables: &BTreeMap<String, f64>,
) -> Result<f64, Diagnostic> {
    let fail = |message: String| Diagnostic {
        at: setting.at.clone(),
        message,
    };
    let value = setting
        .expr
        .eval(variables)
        .map_err(|e| fail(format!("{name}: {key} = {}: {e}", setting.text)))?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(fail(format!(
            "{name}: {key} = {} evaluates to {value}, not a size (must be 0 or more)",
            setting.text
        )))
    }
}

/// Applies `key = value` to a device, recording an error (by key) if it is wrong.
fn set_key(device: &mut Device, key: &str, value: &str, at: &Location) {
    let canonical = if key == "memory-limit" {
        "host-memory-limit"
    } else {
        key
    };
    match apply(device, canonical, value, at) {
        Ok(()) => device.clear_error(canonical),
        Err(message) => {
            device.record_error(
                canonical.to_string(),
                Diagnostic {
                    at: at.clone(),
                    message: format!("{}: {message}", device.name),
                },
            );
        }
    }
}

fn apply(device: &mut Device, key: &str, value: &str, at: &Location) -> Result<(), String> {
    let kind = device.name.kind;
    match (key, kind) {
        ("host-memory-limit", _) => device.host_memory_limit_mb = optional_mib(key, value)?,
        ("zram-size", _) => device.zram_size = Some(size_setting(key, value, at)?),
        ("zram-resident-limit", _) => {
            device.zram_resident_limit = Some(size_setting(key, value, at)?);
        }
        ("compression-algorithm", DeviceKind::Zram) => {
            device.compression = parse_algorithms(value);
        }
        ("writeback-device", DeviceKind::Zram) => {
            device.writeback_device = Some(absolute_path(key, value)?);
        }
        ("swap-priority", _) => device.swap_priority = swap_priority(value)?,
        ("mount-point", _) => device.mount_point = Some(absolute_path(key, value)?),
        ("fs-type", _) => device.fs_type = Some(fs_type(value)?),
        ("options", _) => device.options = printable(key, value)?.to_string(),
        ("zram-fraction", _) => device.zram_fraction = Some(zram_fraction(value)?),
        ("max-zram-size", _) => device.max_zram_size_mb = Some(optional_mib(key, value)?),
        ("algorithm", DeviceKind::Ublk) => device.ublk_algorithm = ublk_algorithm(value)?,
        ("transport", DeviceKind::Ublk) => device.transport = transport(value)?,
        ("compression-algorithm", DeviceKind::Ublk) => {
            return Err(
                "compression-algorithm names kernel zram algorithms; a ublk device takes algorithm = lz4|zstd:LEVEL|adaptive"
                    .to_string(),
            );
        }
        ("writeback-device", DeviceKind::Ublk) => {
            return Err(
                "writeback-device is a kernel zram setting; ublk devices have no backing device"
                    .to_string(),
            );
        }
        _ => return Err(format!("unknown key {key}")),
    }
    Ok(())
}

fn optional_mib(key: &str, value: &str) -> Result<Option<u64>, String> {
    if value == "none" {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        format!("{key} = {value:?} is neither a number of MiB (0 or more) nor \"none\"")
    })
}

fn size_setting(key: &str, value: &str, at: &Location) -> Result<SizeSetting, String> {
    let expr = Expr::parse(value).map_err(|e| format!("{key} = {value}: {e}"))?;
    Ok(SizeSetting {
        text: value.to_string(),
        expr,
        at: at.clone(),
    })
}

/// Splits `compression-algorithm` as zram-generator does: white-space separated words, each
/// `algo` or `algo(k=v,...)`; a word `(k=v,...)` without an algorithm sets the global recompression
/// parameters.
pub fn parse_algorithms(value: &str) -> Algorithms {
    let mut algorithms = Algorithms::default();
    for word in value.split_whitespace() {
        let (algorithm, params) = match word.split_once('(') {
            Some((algorithm, rest)) => (
                algorithm,
                rest.strip_suffix(')').unwrap_or(rest).replace(',', " "),
            ),
            None => (word, String::new()),
        };
        if algorithm.is_empty() {
            algorithms.recompression_global = params;
        } else {
            algorithms.algorithms.push((algorithm.to_string(), params));
        }
    }
    algorithms
}

/// An absolute path without `..`, normalised (`//` and `/./` removed), printable.
fn absolute_path(key: &str, value: &str) -> Result<PathBuf, String> {
    let path = Path::new(printable(key, value)?);
    if !path.is_absolute() {
        return Err(format!("{key} = {value} is not an absolute path"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!("{key} = {value} is not normalised (has \"..\")"));
    }
    Ok(path.components().collect())
}

/// Values that go into unit files must not carry control characters (a newline would add lines).
fn printable<'a>(key: &str, value: &'a str) -> Result<&'a str, String> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!("{key} contains the control character {c:?}")),
        None => Ok(value),
    }
}

fn swap_priority(value: &str) -> Result<i32, String> {
    let priority: i32 = value
        .parse()
        .map_err(|_| format!("swap-priority = {value:?} is not a whole number"))?;
    // swapon(8) --priority takes -1 to 32767.
    if (-1..=0x7FFF).contains(&priority) {
        Ok(priority)
    } else {
        Err(format!("swap-priority = {priority} is outside -1..=32767"))
    }
}

/// A file-system type names a `mkfs.TYPE` program: letters, digits, `.`, `_`, `-` only.
fn fs_type(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !value.starts_with('.');
    if valid {
        Ok(value.to_string())
    } else {
        Err(format!(
            "fs-type = {value:?} is not a file-system type name"
        ))
    }
}

fn zram_fraction(value: &str) -> Result<f64, String> {
    let fraction: f64 = value
        .parse()
        .map_err(|_| format!("zram-fraction = {value:?} is not a number"))?;
    if fraction >= 0.0 {
        Ok(fraction)
    } else {
        Err(format!("zram-fraction = {value} is not 0 or more"))
    }
}

fn ublk_algorithm(value: &str) -> Result<UblkAlgorithm, String> {
    match value {
        "lz4" => return Ok(UblkAlgorithm::Lz4),
        "adaptive" => return Ok(UblkAlgorithm::Adaptive),
        "zstd" => return Ok(UblkAlgorithm::Zstd(3)),
        _ => {}
    }
    // The levels the daemon's Zstandard encoder takes (0, which it reads as 3, is not offered): a
    // level it refuses would give a unit whose service fails at every boot.
    let levels = i32::from(ZSTD_MIN_LEVEL)..=i32::from(ZSTD_MAX_LEVEL);
    let level = value
        .strip_prefix("zstd:")
        .and_then(|level| level.parse::<i32>().ok())
        .filter(|level| *level != 0 && levels.contains(level));
    level.map(UblkAlgorithm::Zstd).ok_or_else(|| {
        format!(
            "algorithm = {value:?} is not lz4, zstd, zstd:LEVEL ({} to {}, not 0) or adaptive",
            levels.start(),
            levels.end()
        )
    })
}

fn transport(value: &str) -> Result<Transport, String> {
    match value {
        "ublk" => Ok(Transport::Ublk),
        "nbd" => Ok(Transport::Nbd),
        _ => Err(format!("transport = {value:?} is not ublk or nbd")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root under the target's temporary folder with `MemTotal` and one main configuration file.
    fn root_with(memtotal_kib: u64, config: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "trueno-generator-config-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("proc")).unwrap();
        fs::create_dir_all(root.join("etc/systemd")).unwrap();
        fs::write(
            root.join("proc/meminfo"),
            format!("MemTotal: {memtotal_kib} kB\n"),
        )
        .unwrap();
        fs::write(root.join("etc/systemd/zram-generator.conf"), config).unwrap();
        root
    }

    fn sizes(memtotal_kib: u64, config: &str) -> Vec<(String, u64, u64)> {
        let root = root_with(memtotal_kib, config);
        let loaded = load(&root, false).unwrap();
        let _ = fs::remove_dir_all(&root);
        loaded
            .devices
            .iter()
            .map(|d| (d.name.to_string(), d.disksize, d.mem_limit))
            .collect()
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn sizes_as_zram_generator_computes_them() {
        // The default: min(ram / 2, 4096) MiB.
        assert_eq!(
            sizes(100 * 1024, "[zram0]\n"),
            [("zram0".into(), 50 * MIB, 0)]
        );
        assert_eq!(
            sizes(10_000 * 1024, "[zram0]\n"),
            [("zram0".into(), 4096 * MIB, 0)]
        );
        // ram is MemTotal in whole MiB (801322 kB -> 782).
        assert_eq!(
            sizes(
                801_322,
                "[zram0]\nzram-size = ram\nzram-resident-limit = ram / 4\n"
            ),
            [("zram0".into(), 782 * MIB, 195 * MIB + MIB / 2)]
        );
        assert_eq!(
            sizes(5000 * 1024, "[zram0]\nzram-size = 500k\n"),
            [("zram0".into(), 500_000 * MIB, 0)]
        );
        // +inf saturates, as zram-generator's float conversion does.
        assert_eq!(
            sizes(100 * 1024, "[zram0]\nzram-size = (ram - 99) / 0\n"),
            [("zram0".into(), u64::MAX, 0)]
        );
        // The obsolete pair: fraction of ram in whole MiB, capped.
        assert_eq!(
            sizes(
                3000 * 1024,
                "[zram0]\nzram-fraction = 0.5\nmax-zram-size = 1000\n[zram1]\nzram-fraction = 0.25\n"
            ),
            [
                ("zram0".into(), 1000 * MIB, 0),
                ("zram1".into(), 750 * MIB, 0)
            ]
        );
        // ublk sizes are whole pages.
        assert_eq!(
            sizes(1024 * 1024, "[ublk0]\nzram-size = 1.0001\n"),
            [("ublk0".into(), MIB, 0)]
        );
    }

    #[test]
    fn kernel_switch_adds_zram0_only_when_unconfigured() {
        let root = root_with(1024 * 1024, "[zram0]\nswap-priority = 3\n");
        let loaded = load(&root, true).unwrap();
        assert_eq!(loaded.devices.len(), 1);
        assert_eq!(loaded.devices[0].swap_priority, 3);
        fs::write(root.join("etc/systemd/zram-generator.conf"), "[zram1]\n").unwrap();
        let names: Vec<String> = load(&root, true)
            .unwrap()
            .devices
            .iter()
            .map(|d| d.name.to_string())
            .collect();
        assert_eq!(names, ["zram0", "zram1"]);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn memtotal_is_required() {
        let root = root_with(1, "");
        fs::write(root.join("proc/meminfo"), "MemFree: 5 kB\n").unwrap();
        assert!(load(&root, false).unwrap_err().contains("no MemTotal"));
        fs::remove_file(root.join("proc/meminfo")).unwrap();
        assert!(load(&root, false).is_err());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn device_names() {
        assert_eq!(
            DeviceName::parse("zram12"),
            Some(DeviceName {
                kind: DeviceKind::Zram,
                index: 12
            })
        );
        assert_eq!(
            DeviceName::parse("ublk0").map(|n| n.to_string()),
            Some("ublk0".into())
        );
        for bad in [
            "zram",
            "zram-1",
            "zram+1",
            "zram01",
            "zramx",
            "swap",
            "zram99999999999",
            "ublk",
        ] {
            assert_eq!(DeviceName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn kernel_switch_last_wins() {
        assert_eq!(
            parse_kernel_switch("foo=1 systemd.zram=0 systemd.zram"),
            Some(true)
        );
        assert_eq!(
            parse_kernel_switch("systemd.zram systemd.zram=off"),
            Some(false)
        );
        assert_eq!(
            parse_kernel_switch("systemd.zram=0 systemd.zram=maybe"),
            Some(false)
        );
        assert_eq!(parse_kernel_switch("zram=0 quiet"), None);
        assert_eq!(parse_kernel_switch(""), None);
    }

    #[test]
    fn algorithms_split_like_zram_generator() {
        let a = parse_algorithms("zstd(dictionary=/etc/gaming,level=9) lz4 (recompargs)");
        assert_eq!(
            a.algorithms,
            vec![
                (
                    "zstd".to_string(),
                    "dictionary=/etc/gaming level=9".to_string()
                ),
                ("lz4".to_string(), String::new()),
            ]
        );
        assert_eq!(a.recompression_global, "recompargs");
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            absolute_path("k", "/foo//bar/./baz/").unwrap(),
            Path::new("/foo/bar/baz")
        );
        assert_eq!(absolute_path("k", "///").unwrap(), Path::new("/"));
        assert!(absolute_path("k", "foo/bar").is_err());
        assert!(absolute_path("k", "/foo/../bar").is_err());
        assert!(absolute_path("k", "/foo\nbar").is_err());
    }

    /// Every algorithm the generator accepts, written into the unit's command line, is one the
    /// daemon builds a store with.
    #[test]
    fn every_accepted_ublk_algorithm_is_one_the_daemon_takes() {
        let names = ["lz4", "adaptive", "zstd"]
            .into_iter()
            .map(String::from)
            .chain((-30..=30).map(|level| format!("zstd:{level}")));
        let mut accepted = 0;
        for name in names {
            let Ok(algorithm) = ublk_algorithm(&name) else {
                continue;
            };
            accepted += 1;
            let written = algorithm.to_string();
            let parsed = crate::store::parse_algorithm(&written)
                .unwrap_or_else(|e| panic!("{name}: the daemon refuses {written}: {e}"));
            crate::store::BlockStore::new(crate::store::StoreConfig {
                size: 1 << 20,
                algorithm: parsed,
                mem_limit: None,
            })
            .unwrap_or_else(|e| panic!("{name}: the daemon cannot build {written}: {e}"));
        }
        // lz4, adaptive, zstd and the 16 levels -7..=9 but 0.
        assert_eq!(accepted, 3 + 16);
    }

    #[test]
    fn key_values() {
        assert_eq!(swap_priority("-1"), Ok(-1));
        assert!(swap_priority("32768").is_err());
        assert!(swap_priority("high").is_err());
        assert_eq!(optional_mib("k", "none"), Ok(None));
        assert!(optional_mib("k", "-5").is_err());
        assert_eq!(ublk_algorithm("zstd:9"), Ok(UblkAlgorithm::Zstd(9)));
        assert_eq!(ublk_algorithm("zstd:-7"), Ok(UblkAlgorithm::Zstd(-7)));
        assert!(ublk_algorithm("zstd:0").is_err());
        assert!(ublk_algorithm("zstd:10").is_err());
        assert!(ublk_algorithm("zstd:19").is_err());
        assert!(ublk_algorithm("lzo").is_err());
        assert!(fs_type("../../bin/sh").is_err());
        assert_eq!(fs_type("ext4"), Ok("ext4".to_string()));
        assert!(zram_fraction("-0.5").is_err());
        assert!(zram_fraction("NaN").is_err());
    }
}
