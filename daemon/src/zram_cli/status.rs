//! `status`: the kernel's zram devices as a zramctl-like table, or as JSON.

use serde::Serialize;
use trueno_zram::kernel::{IoStat, MmStat, Zram, ZramDevice};

use super::error::CliResult;
use super::system::usage_of;
use crate::units::human;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only these devices (zramN or /dev/zramN); all when none is named.
    devices: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One device's state, as printed.
#[derive(Debug, Serialize)]
struct DeviceStatus {
    name: String,
    node: String,
    initialized: bool,
    disksize: u64,
    algorithm: Option<String>,
    algorithms: Vec<String>,
    /// Where it is used: `[SWAP]` or a mount point.
    usage: Option<String>,
    /// orig_data_size / compr_data_size.
    ratio: Option<f64>,
    mm_stat: MmStat,
    io_stat: IoStat,
}

fn status_of(dev: &ZramDevice) -> CliResult<DeviceStatus> {
    let list = dev.comp_algorithm()?;
    let mm_stat = dev.mm_stat()?;
    Ok(DeviceStatus {
        name: dev.name().to_owned(),
        node: dev.node().display().to_string(),
        initialized: dev.is_initialized()?,
        disksize: dev.disksize()?,
        algorithm: list.selected,
        algorithms: list.available,
        usage: usage_of(dev.node()),
        ratio: mm_stat.compression_ratio(),
        mm_stat,
        io_stat: dev.io_stat()?,
    })
}

/// Runs `status`.
pub fn run(zram: &Zram, args: &StatusArgs) -> CliResult {
    let devices = if args.devices.is_empty() {
        zram.devices()?
    } else {
        args.devices
            .iter()
            .map(|n| zram.device_named(n))
            .collect::<Result<Vec<_>, _>>()?
    };
    let statuses = devices
        .iter()
        .map(status_of)
        .collect::<CliResult<Vec<_>>>()?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&statuses).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:<12} {:<10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>8}  MOUNTPOINT",
        "NAME",
        "ALGORITHM",
        "DISKSIZE",
        "DATA",
        "COMPR",
        "TOTAL",
        "RATIO",
        "SAME",
        "HUGE",
        "MEMLIMIT"
    );
    for s in &statuses {
        let mm = &s.mm_stat;
        let (data, compr, total) = if s.initialized {
            (
                human(mm.orig_data_size),
                human(mm.compr_data_size),
                human(mm.mem_used_total),
            )
        } else {
            ("-".into(), "-".into(), "-".into())
        };
        println!(
            "{:<12} {:<10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>8}  {}",
            s.node,
            s.algorithm.as_deref().unwrap_or("-"),
            human(s.disksize),
            data,
            compr,
            total,
            s.ratio.map_or_else(|| "-".into(), |r| format!("{r:.2}")),
            mm.same_pages,
            mm.huge_pages.map_or_else(|| "-".into(), |h| h.to_string()),
            if mm.mem_limit == 0 {
                "-".into()
            } else {
                human(mm.mem_limit)
            },
            s.usage.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
