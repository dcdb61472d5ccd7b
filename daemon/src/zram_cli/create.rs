//! `create`: configure a kernel zram device (a free one, a new one, or the one named), optionally
//! as swap. On any failure the device is left as it was found: reset, and removed if we added it.

use trueno_zram::kernel::{DeviceConfig, Zram, ZramDevice};

use super::error::{CliError, CliResult};
use super::system::run_tool;
use crate::units::{parse_size, total_ram};

/// Arguments of `create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Uncompressed capacity: bytes, a unit (4G, 512M) or an expression of the machine's memory
    /// (ram/2, ram*0.75, min(ram/2, 4G)).
    #[arg(short, long, default_value = "min(ram/2, 4G)")]
    size: String,
    /// Compression algorithm, one the kernel offers (`trueno-zram status` lists them); the kernel's
    /// default when omitted.
    #[arg(short, long)]
    algorithm: Option<String>,
    /// Compression streams (only kernels that still have max_comp_streams; newer ones use one per CPU).
    #[arg(long)]
    streams: Option<u32>,
    /// Memory limit for the compressed data and its overhead (same forms as --size).
    #[arg(long)]
    mem_limit: Option<String>,
    /// Configure this device (zramN or /dev/zramN) instead of a free one.
    #[arg(short, long, conflicts_with = "new")]
    device: Option<String>,
    /// Always add a new device instead of reusing a free one.
    #[arg(long)]
    new: bool,
    /// Format the device as swap (mkswap) and enable it (swapon).
    #[arg(long)]
    swap: bool,
    /// Swap priority, -1 to 32767 (higher is used first); needs --swap.
    #[arg(short, long, requires = "swap", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-1..=32767))]
    priority: Option<i32>,
}

/// The device to configure, and whether we added it (so a failure removes it again).
fn pick_device(zram: &Zram, args: &CreateArgs) -> CliResult<(ZramDevice, bool)> {
    if let Some(name) = &args.device {
        return Ok((zram.device_named(name)?, false));
    }
    if !args.new
        && let Some(dev) = zram.find_free()?
    {
        return Ok((dev, false));
    }
    Ok((zram.hot_add()?, true))
}

/// Runs `create`.
pub fn run(zram: &Zram, args: &CreateArgs) -> CliResult {
    let ram = total_ram().map_err(CliError::failure)?;
    let disksize = parse_size(&args.size, ram)?;
    let mem_limit = args
        .mem_limit
        .as_deref()
        .map(|m| parse_size(m, ram))
        .transpose()?;
    let (dev, added) = pick_device(zram, args)?;
    let undo = |dev: &ZramDevice| {
        let _ = dev.reset();
        if added {
            let _ = zram.hot_remove(dev.id());
        }
    };
    let config = DeviceConfig {
        disksize,
        algorithm: args.algorithm.clone(),
        params: None,
        streams: args.streams,
        mem_limit,
    };
    if let Err(e) = dev.configure(&config) {
        // A device we did not initialise keeps its state; one we half-configured is reset.
        if !matches!(e, trueno_zram::kernel::KernelError::Busy { .. }) {
            undo(&dev);
        }
        return Err(e.into());
    }
    if args.swap {
        let node = dev.node().to_string_lossy().into_owned();
        let priority = args.priority.map(|p| p.to_string());
        let mut swapon: Vec<&str> = Vec::new();
        if let Some(p) = &priority {
            swapon.extend(["--priority", p]);
        }
        swapon.push(&node);
        if let Err(e) = run_tool("mkswap", &[&node]).and_then(|()| run_tool("swapon", &swapon)) {
            undo(&dev);
            return Err(e);
        }
    }
    println!("{}", dev.node().display());
    Ok(())
}
