//! The commands of the `trueno-ublk` binary.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::control;
use crate::device::{self, DeviceConfig, attach_hint};
use crate::nbd::Endpoint;
use crate::store::{StoreConfig, parse_algorithm};
use crate::units::{human_size, parse_size};

/// Arguments of `create`.
#[derive(Debug, Clone)]
pub struct CreateArgs {
    /// Device size.
    pub size: String,
    /// Algorithm name.
    pub algorithm: String,
    /// Memory limit.
    pub mem_limit: Option<String>,
    /// `Some(true)`: ublk asked for; `Some(false)`: NBD asked for; `None`: choose.
    pub ublk: Option<bool>,
    /// NBD Unix socket.
    pub socket: Option<PathBuf>,
    /// NBD loopback TCP address.
    pub listen: Option<SocketAddr>,
    /// Device name.
    pub name: Option<String>,
    /// Workers per NBD connection.
    pub workers: usize,
    /// Run in the foreground.
    pub foreground: bool,
    /// Serve a swap device (memory locked, I/O flusher).
    pub swap: bool,
    /// ublk queues (default: CPU count up to 4).
    pub queues: Option<u16>,
    /// ublk queue depth (default 128).
    pub depth: Option<u16>,
}

const UBLK_CONTROL: &str = "/dev/ublk-control";

/// `create`: checks everything, then serves in the foreground or starts a background daemon and
/// waits until it answers.
pub fn create(args: &CreateArgs) -> Result<(), String> {
    let ublk = args
        .ublk
        .unwrap_or_else(|| std::path::Path::new(UBLK_CONTROL).exists());
    if ublk && !std::path::Path::new(UBLK_CONTROL).exists() {
        return Err(format!(
            "{UBLK_CONTROL} is absent: the ublk transport needs Linux >= 6.0 built with CONFIG_BLK_DEV_UBLK and `modprobe ublk_drv` (as root); or use --transport nbd"
        ));
    }
    let queues = crate::ublk::params::queue_config(args.queues, args.depth)?;
    let size = parse_size(&args.size)?;
    let algorithm = parse_algorithm(&args.algorithm)?;
    let mem_limit = args.mem_limit.as_deref().map(parse_size).transpose()?;
    let name = match &args.name {
        Some(n) => {
            control::check_name(n)?;
            if control::request(&control::control_path(n), "stat").is_ok() {
                return Err(format!("device `{n}` is already running"));
            }
            n.clone()
        }
        None => first_free_name(),
    };
    let endpoint = match (&args.listen, &args.socket) {
        (Some(addr), _) => Endpoint::Tcp(*addr),
        (None, Some(path)) => Endpoint::Unix(path.clone()),
        (None, None) => Endpoint::Unix(control::nbd_socket_path(&name)),
    };
    let config = DeviceConfig {
        name: name.clone(),
        store: StoreConfig {
            size,
            algorithm,
            mem_limit,
        },
        endpoint,
        workers: args.workers,
        swap: args.swap,
    };
    // Refuse a bad store before going to the background, where the error would only reach a log.
    crate::store::BlockStore::new(StoreConfig {
        size: config.store.size,
        ..config.store
    })
    .map_err(|e| e.to_string())?;
    if ublk {
        crate::ublk::params::device_params(size)?;
        if !args.foreground {
            return spawn_background(args, &name, true);
        }
        let ublk_config = crate::ublk::device::UblkConfig {
            name: name.clone(),
            store: config.store,
            queues,
            swap: args.swap,
        };
        let algorithm_text = args.algorithm.clone();
        return crate::ublk::device::run(&ublk_config, move |bdev| {
            println!(
                "{name}: {} device ({algorithm_text}) serving {bdev}",
                human_size(size)
            );
        });
    }
    if args.foreground {
        return device::run(&config, |endpoint| {
            println!(
                "{name}: {} device ({}) serving NBD on {endpoint}",
                human_size(size),
                args.algorithm
            );
            println!("{}", attach_hint(&name, endpoint));
        });
    }
    spawn_background(args, &name, false)
}

fn first_free_name() -> String {
    let running = control::list();
    (0..)
        .map(|i| format!("trueno{i}"))
        .find(|n| !running.contains(n))
        .unwrap_or_else(|| "trueno".into())
}

/// Starts `create --foreground` as a daemon in its own process group, output to its log file,
/// then waits until its control socket answers.
fn spawn_background(args: &CreateArgs, name: &str, ublk: bool) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let dir = control::run_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let log_path = control::log_path(name);
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "create",
        "--foreground",
        "--name",
        name,
        "--size",
        &args.size,
    ])
    .args(["--algorithm", &args.algorithm, "--transport"])
    .arg(if ublk { "ublk" } else { "nbd" })
    .args(["--workers", &args.workers.to_string()]);
    if let Some(limit) = &args.mem_limit {
        cmd.args(["--mem-limit", limit]);
    }
    if args.swap {
        cmd.arg("--swap");
    }
    if let Some(queues) = args.queues {
        cmd.args(["--queues", &queues.to_string()]);
    }
    if let Some(depth) = args.depth {
        cmd.args(["--depth", &depth.to_string()]);
    }
    if let Some(path) = &args.socket {
        cmd.arg("--socket").arg(path);
    }
    if let Some(addr) = &args.listen {
        cmd.args(["--listen", &addr.to_string()]);
    }
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C in this terminal must not stop the daemon.
        cmd.process_group(0);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start the daemon: {e}"))?;
    let started = Instant::now();
    loop {
        if let Ok(status) = control::stat(name) {
            if ublk {
                println!(
                    "{name}: {} device ({}) serving {} (pid {})",
                    human_size(status.stats.disksize),
                    status.algorithm,
                    status.endpoint,
                    status.pid
                );
                println!("log: {}", log_path.display());
                return Ok(());
            }
            println!(
                "{name}: {} device ({}) serving NBD on {} (pid {})",
                human_size(status.stats.disksize),
                status.algorithm,
                status.endpoint,
                status.pid
            );
            let endpoint = match (&args.listen, &args.socket) {
                (Some(addr), _) => Endpoint::Tcp(*addr),
                (None, Some(path)) => Endpoint::Unix(path.clone()),
                (None, None) => Endpoint::Unix(control::nbd_socket_path(name)),
            };
            println!("{}", attach_hint(name, &endpoint));
            println!("log: {}", log_path.display());
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut text = String::new();
            let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut text));
            return Err(format!(
                "the daemon exited ({status}):\n{}",
                text.trim_end()
            ));
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "the daemon did not answer within 10 s; see {}",
                log_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `list`: one line per running device.
pub fn list() -> Result<(), String> {
    let names = control::list();
    if names.is_empty() {
        println!(
            "no devices (control sockets in {})",
            control::run_dir().display()
        );
    }
    for name in names {
        match control::stat(&name) {
            Ok(s) => println!(
                "{:<12} {:>10} {:<10} {:<4} {} pid {}",
                s.name,
                human_size(s.stats.disksize),
                s.algorithm,
                s.transport,
                s.endpoint,
                s.pid
            ),
            Err(e) => println!("{name:<12} (not answering: {e})"),
        }
    }
    Ok(())
}

/// `stat`: live figures of one device, or of all.
pub fn stat(device: Option<&str>, json: bool) -> Result<(), String> {
    let names = match device {
        Some(d) => vec![d.to_owned()],
        None => control::list(),
    };
    let statuses = names
        .iter()
        .map(|n| control::stat(n))
        .collect::<Result<Vec<_>, _>>()?;
    if json {
        let objects: Vec<String> = statuses
            .iter()
            .map(control::DeviceStatus::to_json)
            .collect();
        if device.is_some() {
            println!("{}", objects.join(""));
        } else {
            println!("[{}]", objects.join(","));
        }
        return Ok(());
    }
    for s in statuses {
        let st = &s.stats;
        let ratio = if st.mem_used_total > 0 {
            st.orig_data_size as f64 / st.mem_used_total as f64
        } else {
            0.0
        };
        println!(
            "{} ({}, {}, pid {})",
            s.name, s.algorithm, s.endpoint, s.pid
        );
        println!("  disksize        {}", human_size(st.disksize));
        println!("  orig_data_size  {}", human_size(st.orig_data_size));
        println!("  compr_data_size {}", human_size(st.compr_data_size));
        println!(
            "  mem_used_total  {} (ratio {ratio:.2})",
            human_size(st.mem_used_total)
        );
        println!("  same/huge pages {} / {}", st.same_pages, st.huge_pages);
        println!(
            "  requests        {} reads, {} writes, {} discards, {} write-zeroes, {} flushes",
            st.reads, st.writes, st.discards, st.write_zeroes, st.flushes
        );
        println!("  mm_stat         {}", st.mm_stat_line());
        println!("  io_stat         {}", st.io_stat_line());
    }
    Ok(())
}

/// `delete`: stops a device gracefully.
pub fn delete(device: &str) -> Result<(), String> {
    control::delete(device)?;
    println!("{device}: stopped");
    Ok(())
}
