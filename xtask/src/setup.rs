//! Installing what the project's checks need on a fresh Debian machine with Rust: apt packages,
//! rustup targets and components, cargo tools. Each is installed only when missing.

use std::process::Command;

/// Full-system emulators for the firmware smoke tests. Installed before [`APT_PACKAGES`]: on machines
/// with a backported qemu-utils, Debian 12's emulators replace it, and the second step then brings back
/// the matching qemu-utils.
pub const EMULATOR_PACKAGES: &[&str] = &["qemu-system-arm", "qemu-system-misc"];

/// Debian packages the test suite uses: cross toolchain and emulator, the reference C libraries and
/// their command-line tools, the NBD clients and fio for end-to-end tests, libclang for bindgen.
pub const APT_PACKAGES: &[&str] = &[
    "qemu-user",
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "liblz4-dev",
    "libzstd-dev",
    "lz4",
    "zstd",
    "fio",
    "nbdkit",
    "libnbd-bin",
    "qemu-utils",
    "libclang-dev",
    "clang",
];

/// no_std targets that the core and alloc crates must build for.
pub const EMBEDDED_TARGETS: &[&str] = &[
    "thumbv7em-none-eabihf",
    "aarch64-unknown-none",
    "riscv32imac-unknown-none-elf",
    "x86_64-unknown-none",
];

/// The Linux target whose tests run under qemu-user.
pub const CROSS_TEST_TARGET: &str = "aarch64-unknown-linux-gnu";

pub fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("+ {}", describe(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {}: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", describe(cmd)))
    }
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn apt_installed(package: &str) -> bool {
    output_of("dpkg-query", &["-W", "-f=${Status}", package])
        .is_some_and(|s| s.contains("install ok installed"))
}

/// Installs the missing apt packages (needs root, as CI and the development machine have).
pub fn apt_packages(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !apt_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if output_of("id", &["-u"]).is_some_and(|u| u.trim() != "0") {
        return Err(format!(
            "missing apt packages {missing:?}; install them as root"
        ));
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Adds rustup targets that are missing from `toolchain`.
pub fn rustup_targets(toolchain: &str, targets: &[&str]) -> Result<(), String> {
    let toolchain_arg = format!("+{toolchain}");
    let installed =
        output_of("rustup", &[&toolchain_arg, "target", "list", "--installed"]).unwrap_or_default();
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("rustup")
        .args(["target", "add", "--toolchain", toolchain])
        .args(&missing))
}

/// Adds rustup components that are missing from `toolchain`.
pub fn rustup_components(toolchain: &str, components: &[&str]) -> Result<(), String> {
    let toolchain_arg = format!("+{toolchain}");
    let installed = output_of(
        "rustup",
        &[&toolchain_arg, "component", "list", "--installed"],
    )
    .unwrap_or_default();
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| !installed.lines().any(|l| l.starts_with(c)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("rustup")
        .args(["component", "add", "--toolchain", toolchain])
        .args(&missing))
}

/// Whether a nightly toolchain is installed; installs a minimal one when it is not.
pub fn nightly() -> Result<(), String> {
    if output_of("rustup", &["run", "nightly", "rustc", "--version"]).is_some() {
        return Ok(());
    }
    run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))
}

/// Installs a cargo subcommand when `cargo NAME --version` does not answer.
pub fn cargo_tool(subcommand: &str, krate: &str) -> Result<(), String> {
    if output_of("cargo", &[subcommand, "--version"]).is_some() {
        return Ok(());
    }
    run(Command::new("cargo").args(["install", "--locked", krate]))
}
