//! `remove`: reset kernel zram devices and remove them. A device in use as swap is refused unless
//! `--force`, which runs swapoff first.

use trueno_zram::kernel::Zram;

use super::error::{CliError, CliResult};
use super::system::{run_tool, usage_of};

/// Arguments of `remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// Devices to remove (zramN or /dev/zramN).
    #[arg(required = true)]
    devices: Vec<String>,
    /// Disable swap on the device first (swapoff).
    #[arg(short, long)]
    force: bool,
    /// Only reset the device (free its memory), keep it for reuse.
    #[arg(long)]
    keep: bool,
}

/// Runs `remove`.
pub fn run(zram: &Zram, args: &RemoveArgs) -> CliResult {
    for name in &args.devices {
        let dev = zram.device_named(name)?;
        let node = dev.node().to_string_lossy().into_owned();
        match usage_of(dev.node()) {
            Some(usage) if usage == "[SWAP]" && args.force => run_tool("swapoff", &[&node])?,
            Some(usage) if usage == "[SWAP]" => {
                return Err(CliError::busy(format!(
                    "{} is busy: it is in use as swap; run `swapoff {node}` first or pass --force",
                    dev.name()
                )));
            }
            Some(mount) => {
                return Err(CliError::busy(format!(
                    "{} is busy: it is mounted on {mount}; unmount it first",
                    dev.name()
                )));
            }
            None => {}
        }
        dev.reset()?;
        if !args.keep {
            zram.hot_remove(dev.id())?;
        }
        println!(
            "{} {}",
            if args.keep { "reset" } else { "removed" },
            dev.name()
        );
    }
    Ok(())
}
