//! What the CLI asks the rest of the system: active swap areas, mounts, and the util-linux tools
//! (`mkswap`, `swapon`, `swapoff`) it runs for `--swap`.

use std::path::Path;
use std::process::Command;

use super::error::{CliError, CliResult, one_line};

/// Where a block node is in use: `[SWAP]`, a mount point, or `None`.
pub fn usage_of(node: &Path) -> Option<String> {
    let node = node.to_string_lossy();
    let is_swap = std::fs::read_to_string("/proc/swaps")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().next() == Some(&node));
    if is_swap {
        return Some("[SWAP]".into());
    }
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let mut fields = l.split_whitespace();
            (fields.next() == Some(&node)).then(|| fields.next().unwrap_or("").to_owned())
        })
}

/// Runs a system tool, turning a missing tool or a failure into one actionable line.
pub fn run_tool(tool: &str, args: &[&str]) -> CliResult {
    let output = Command::new(tool).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::failure(format!("`{tool}` is not installed: install util-linux"))
        } else {
            CliError::failure(format!("cannot run `{tool}`: {e}"))
        }
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = format!(
        "`{tool} {}` failed ({}): {}",
        args.join(" "),
        output.status,
        one_line(&stderr)
    );
    Err(if stderr.contains("busy") {
        CliError::busy(message)
    } else {
        CliError::failure(message)
    })
}
