//! `trueno-ublk`: create, list, inspect and delete compressed RAM block devices.
//!
//! ```text
//! trueno-ublk create --size 4G --algorithm lz4 [--mem-limit 1G] [--transport ublk|nbd]
//!     [--queues N --depth D] [--socket PATH | --listen 127.0.0.1:10809] [--swap]
//! trueno-ublk list
//! trueno-ublk stat [DEVICE] [--json]
//! trueno-ublk delete DEVICE
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use trueno_ublk::cli;

#[derive(Parser)]
#[command(
    name = "trueno-ublk",
    version,
    about = "Compressed RAM block devices, served through ublk (/dev/ublkbN) or NBD",
    after_help = KERNEL_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const KERNEL_HELP: &str = "\
ublk (the default where /dev/ublk-control exists):
  Needs Linux >= 6.0 built with CONFIG_BLK_DEV_UBLK (=m or =y), the driver loaded
  (`modprobe ublk_drv`), and root (or CAP_SYS_ADMIN). The device appears as /dev/ublkbN.
  As swap:  trueno-ublk create --size 8G --swap --transport ublk
            mkswap /dev/ublkb0 && swapon -p 100 /dev/ublkb0
  (--swap locks the daemon's memory and its I/O buffers and marks it an I/O flusher, so
  swapping out never waits on memory that only the swap-out could free. It needs
  CAP_SYS_RESOURCE, and CAP_IPC_LOCK or an RLIMIT_MEMLOCK covering buffers and store; where a
  step is not permitted, create says which and refuses before adding the device.)
  A daemon killed with SIGKILL leaves its device in the kernel: `list` shows it as orphaned,
  `delete NAME` (or `delete ublkN`) removes it.
NBD: choose --transport nbd where the kernel has no ublk_drv (older kernels, containers
  without /dev/ublk-control), to serve a client over loopback TCP (--listen; NBD has no
  authentication, so other addresses are refused), or to test without root;
  attach with nbd-client (the nbd module) or any userspace NBD client.";

#[derive(Subcommand)]
enum Command {
    /// Create a device and serve it (in the background unless --foreground).
    Create {
        /// Device size: bytes, with K, M, G, T (powers of 1024), or arithmetic on `ram` (`ram/2`,
        /// `min(ram/2, 4G)`); rounded down to whole 4 KiB pages.
        #[arg(long)]
        size: String,
        /// Compression: samefill, lz4, zstd[:LEVEL], adaptive (those in this build).
        #[arg(long, default_value = trueno_ublk::store::DEFAULT_ALGORITHM)]
        algorithm: String,
        /// Most memory the compressed pages may take, written as --size is; writes past it fail
        /// with ENOSPC (0: no limit, as zram's mem_limit).
        #[arg(long)]
        mem_limit: Option<String>,
        /// Transport; default: ublk when /dev/ublk-control exists, else NBD.
        #[arg(long, value_enum)]
        transport: Option<Transport>,
        /// NBD Unix socket path (default: /run/trueno-ublk/NAME.nbd).
        #[arg(long, conflicts_with = "listen")]
        socket: Option<std::path::PathBuf>,
        /// Serve NBD on loopback TCP instead, e.g. 127.0.0.1:10809.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Device name (default: the first free trueno0, trueno1, ...).
        #[arg(long)]
        name: Option<String>,
        /// Worker threads per NBD connection.
        #[arg(long, default_value_t = trueno_ublk::nbd::DEFAULT_WORKERS)]
        workers: usize,
        /// Stay in the foreground (logs to stderr; stop with Ctrl-C).
        #[arg(long)]
        foreground: bool,
        /// The device will be swap: lock all memory and run as an I/O flusher, so that the daemon
        /// never waits on the memory it is freeing.
        #[arg(long)]
        swap: bool,
        /// ublk hardware queues, each served by its own thread (default: CPU count, at most 4).
        #[arg(long)]
        queues: Option<u16>,
        /// ublk queue depth: requests in flight per queue.
        #[arg(long, default_value_t = trueno_ublk::ublk::params::DEFAULT_DEPTH)]
        depth: u16,
    },
    /// List devices and what killed daemons left (their stale files are removed).
    List,
    /// Show a device's live figures (all devices when none is named).
    Stat {
        /// Device name.
        device: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop a device gracefully, or remove what a killed daemon left (its ublk device included).
    Delete {
        /// Device name, or a kernel ublk device whose server is gone (ublkN, /dev/ublkbN).
        device: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Transport {
    Nbd,
    Ublk,
}

fn main() -> ExitCode {
    // libublk logs every control command it sends at info (each `list` opens every device).
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,libublk=warn"),
    )
    .init();
    let command = Cli::parse().command;
    if !matches!(
        command,
        Command::Create {
            foreground: true,
            ..
        }
    ) {
        cli::die_quietly_on_closed_stdout();
    }
    let result = match command {
        Command::Create {
            size,
            algorithm,
            mem_limit,
            transport,
            socket,
            listen,
            name,
            workers,
            foreground,
            swap,
            queues,
            depth,
        } => cli::create(&cli::CreateArgs {
            size,
            algorithm,
            mem_limit,
            ublk: match transport {
                Some(Transport::Ublk) => Some(true),
                Some(Transport::Nbd) => Some(false),
                None => None,
            },
            socket,
            listen,
            name,
            workers,
            foreground,
            swap,
            queues,
            depth: Some(depth),
        }),
        Command::List => cli::list(),
        Command::Stat { device, json } => cli::stat(device.as_deref(), json),
        Command::Delete { device } => cli::delete(&device),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trueno-ublk: {message}");
            ExitCode::FAILURE
        }
    }
}
