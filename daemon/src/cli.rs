//! The commands of the `trueno-ublk` binary.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::control;
use crate::device::{self, DeviceConfig, attach_hint};
use crate::nbd::Endpoint;
use crate::orphans::{self, Deletion, Finding, Survey};
use crate::state::ProcTable;
use crate::store::{StoreConfig, parse_algorithm};
use crate::swap::{self, SwapNeeds};
use crate::ublk::kernel::SystemUblk;
use crate::units::{self, human_size, parse_size, total_ram};

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

/// Lets SIGPIPE end this process quietly, as it ends `cat` or `ls`: Rust ignores SIGPIPE, so a
/// command whose output goes to a reader that closes early (`trueno-ublk list | head`) would
/// otherwise panic on its next write. Only for commands that serve nothing: a daemon must see a
/// closed client socket as an error, not die of it.
pub fn die_quietly_on_closed_stdout() {
    // SAFETY: signal(2) with a valid signal number and SIG_DFL, before any thread is started; it
    // changes only this process's disposition, which nothing else in it relies on.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `create`: checks everything, then serves in the foreground or starts a background daemon and
/// waits until it answers.
pub fn create(args: &CreateArgs) -> Result<(), String> {
    let ublk_present = std::path::Path::new(UBLK_CONTROL).exists();
    let ublk = args.ublk.unwrap_or(ublk_present);
    let queues = crate::ublk::params::queue_config(args.queues, args.depth)?;
    let ram = total_ram()?;
    let size = parse_size(&args.size, ram)?;
    let algorithm = parse_algorithm(&args.algorithm)?;
    // 0 is no limit, as in zram's mem_limit and in what `stat` shows; a limit of 0 bytes would
    // refuse every page that is not one repeated word.
    let mem_limit = args
        .mem_limit
        .as_deref()
        .map(|limit| units::evaluate(limit, ram))
        .transpose()?
        .filter(|&limit| limit > 0);
    let store = StoreConfig {
        size,
        algorithm,
        mem_limit,
    };
    if args.swap {
        // Refused here, before anything is started, as the daemon itself would refuse.
        let needs = if ublk {
            SwapNeeds::ublk(&store, queues)
        } else {
            SwapNeeds::nbd(&store)
        };
        swap::check(&needs, &swap::ProcessLimits::of_this_process()?)
            .map_err(|lines| lines.join("\n"))?;
    }
    if ublk && !ublk_present {
        return Err(format!(
            "{UBLK_CONTROL} is absent: the ublk transport needs Linux >= 6.0 built with CONFIG_BLK_DEV_UBLK and `modprobe ublk_drv` (as root); or use --transport nbd"
        ));
    }
    // What killed daemons left is cleaned before a name is chosen, so their names are free.
    let survey = system_survey();
    for path in survey.clean() {
        log::info!("removed {}, left by a daemon that is gone", path.display());
    }
    let name = match &args.name {
        Some(n) => {
            control::check_name(n)?;
            match survey.named(n) {
                Some(Finding::Running { .. }) => {
                    return Err(format!("device `{n}` is already running"));
                }
                Some(Finding::Unresponsive { pid, .. }) => {
                    return Err(format!(
                        "device `{n}` has a daemon (pid {pid}) that runs but does not answer: stop it first"
                    ));
                }
                _ => {}
            }
            n.clone()
        }
        None => first_free_name(&survey),
    };
    if ublk
        && let Some(id) = crate::ublk::device::fixed_device_id(&name)
            .and_then(|id| survey.orphaned_device(id))
            .map(|(d, _)| d.id)
    {
        return Err(format!(
            "ublk device {id} is still held by the kernel for a daemon that is gone: remove it with `trueno-ublk delete {name}` first"
        ));
    }
    let config = DeviceConfig {
        name: name.clone(),
        store,
        endpoint: nbd_endpoint(args, &name),
        workers: args.workers,
        swap: args.swap,
    };
    // Refuse a bad store before going to the background, where the error would only reach a log.
    crate::store::BlockStore::new(config.store).map_err(|e| e.to_string())?;
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

/// Where the NBD server of device `name` listens: `--listen`, else `--socket`, else the socket in
/// the run dir. The foreground daemon binds it and the background `create` prints its attach hint,
/// so both must derive it the same way.
fn nbd_endpoint(args: &CreateArgs, name: &str) -> Endpoint {
    match (&args.listen, &args.socket) {
        (Some(addr), _) => Endpoint::Tcp(*addr),
        (None, Some(path)) => Endpoint::Unix(path.clone()),
        (None, None) => Endpoint::Unix(control::nbd_socket_path(name)),
    }
}

/// The first of trueno0, trueno1, ... that no daemon uses, and that names no kernel device a
/// killed daemon left (its state file names it until `delete`).
fn first_free_name(survey: &Survey) -> String {
    let running = control::list();
    (0..)
        .map(|i| format!("trueno{i}"))
        .find(|n| {
            !running.contains(n)
                && survey
                    .named(n)
                    .is_none_or(|f| matches!(f, Finding::Dead { orphan: None, .. }))
        })
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
            println!("{}", attach_hint(name, &nbd_endpoint(args, name)));
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

/// The daemons of the run dir and the kernel's ublk devices.
fn system_survey() -> Survey {
    Survey::take(
        &control::run_dir(),
        &ProcTable::system(),
        &SystemUblk::new(),
    )
}

/// `list`: one line per device: running ones with their figures, then what daemons that are gone
/// left behind (their stale files are removed on the way; kernel devices stay until `delete`).
pub fn list() -> Result<(), String> {
    let survey = system_survey();
    let cleaned = survey.clean();
    if survey.findings.is_empty() {
        println!(
            "no devices (control sockets in {})",
            control::run_dir().display()
        );
    }
    for finding in &survey.findings {
        println!("{}", list_line(finding, &cleaned));
    }
    Ok(())
}

fn list_line(finding: &Finding, cleaned: &[std::path::PathBuf]) -> String {
    let pid_text =
        |pid: &Option<u32>| pid.map_or_else(|| "its daemon".into(), |p| format!("daemon pid {p}"));
    match finding {
        Finding::Running { name, .. } => match control::stat(name) {
            Ok(s) => format!(
                "{:<12} {:>10} {:<10} {:<4} {} pid {}",
                s.name,
                human_size(s.stats.disksize),
                s.algorithm,
                s.transport,
                s.endpoint,
                s.pid
            ),
            Err(e) => format!("{name:<12} (not answering: {e})"),
        },
        Finding::Unresponsive { name, pid } => format!(
            "{name:<12} (daemon pid {pid} runs but does not answer on {})",
            control::control_path(name).display()
        ),
        Finding::Dead {
            name,
            pid,
            orphan: Some(d),
            ..
        } => format!(
            "{name:<12} orphaned: {} is gone; the kernel still holds ublk device {} (/dev/ublkc{}, {}): `trueno-ublk delete {name}` removes it",
            pid_text(pid),
            d.id,
            d.id,
            d.state
        ),
        Finding::Dead {
            name, pid, stale, ..
        } => {
            let removed: Vec<String> = stale
                .iter()
                .filter(|p| cleaned.contains(p))
                .map(|p| p.display().to_string())
                .collect();
            format!(
                "{name:<12} (gone: {} was killed; removed {})",
                pid_text(pid),
                if removed.is_empty() {
                    "nothing".into()
                } else {
                    removed.join(", ")
                }
            )
        }
        Finding::OrphanDevice(d) => format!(
            "{:<12} orphaned: ublk device {} (/dev/ublkc{}, {}) {}{}: `trueno-ublk delete ublk{}` removes it",
            format!("ublk{}", d.id),
            d.id,
            d.id,
            d.state,
            if d.server_pid > 0 {
                format!("of pid {}, which is gone", d.server_pid)
            } else {
                "with no server".into()
            },
            if d.ours {
                " (added by trueno-ublk)"
            } else {
                ""
            },
            d.id
        ),
        Finding::OtherDevice(d) => format!(
            "{:<12} /dev/ublkb{} ({}) served by pid {} ({})",
            format!("ublk{}", d.id),
            d.id,
            d.state,
            d.server_pid,
            if d.ours {
                "trueno-ublk with another run dir"
            } else {
                "another ublk server"
            }
        ),
        Finding::Unreadable { id, why } => {
            format!(
                "{:<12} (cannot ask the kernel about it: {why})",
                format!("ublk{id}")
            )
        }
    }
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

/// `delete`: stops a device gracefully; removes what a daemon that is gone left behind, its
/// kernel ublk device included; or removes a kernel ublk device (`ublkN`, `/dev/ublkbN`) whose
/// server is gone.
pub fn delete(device: &str) -> Result<(), String> {
    let answers = control::check_name(device).is_ok()
        && std::os::unix::net::UnixStream::connect(control::control_path(device)).is_ok();
    if answers {
        return stop_running(device);
    }
    let run_dir = control::run_dir();
    let kernel = SystemUblk::new();
    let survey = Survey::take(&run_dir, &ProcTable::system(), &kernel);
    match orphans::delete(&survey, &kernel, &run_dir, device)? {
        Deletion::Running(name) => stop_running(&name),
        Deletion::Removed(what) => {
            println!("{what}");
            Ok(())
        }
    }
}

fn stop_running(name: &str) -> Result<(), String> {
    control::delete(name)?;
    println!("{name}: stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ublk::kernel::{DevState, KernelDevice};

    fn kdev(id: u32, server_pid: i32, ours: bool) -> KernelDevice {
        KernelDevice {
            id,
            server_pid,
            state: DevState::Dead,
            ours,
        }
    }

    #[test]
    fn list_lines_say_what_is_left_and_how_to_remove_it() {
        let stale = std::path::PathBuf::from("/run/x/k.ctl");
        let lines = [
            Finding::Dead {
                name: "k".into(),
                pid: Some(12),
                stale: vec![stale.clone()],
                orphan: None,
                state_file: None,
            },
            Finding::Dead {
                name: "ublk0".into(),
                pid: Some(13),
                stale: Vec::new(),
                orphan: Some(kdev(0, 13, true)),
                state_file: None,
            },
            Finding::OrphanDevice(kdev(3, 14, true)),
            Finding::OtherDevice(kdev(4, 15, false)),
            Finding::Unreadable {
                id: 5,
                why: "Permission denied".into(),
            },
            Finding::Unresponsive {
                name: "stuck".into(),
                pid: 16,
            },
            Finding::OrphanDevice(kdev(6, -1, false)),
        ]
        .map(|f| list_line(&f, std::slice::from_ref(&stale)));
        assert_eq!(
            lines[0],
            "k            (gone: daemon pid 12 was killed; removed /run/x/k.ctl)"
        );
        assert_eq!(
            lines[1],
            "ublk0        orphaned: daemon pid 13 is gone; the kernel still holds ublk device 0 (/dev/ublkc0, dead): `trueno-ublk delete ublk0` removes it"
        );
        assert_eq!(
            lines[2],
            "ublk3        orphaned: ublk device 3 (/dev/ublkc3, dead) of pid 14, which is gone (added by trueno-ublk): `trueno-ublk delete ublk3` removes it"
        );
        assert_eq!(
            lines[3],
            "ublk4        /dev/ublkb4 (dead) served by pid 15 (another ublk server)"
        );
        assert_eq!(
            lines[4],
            "ublk5        (cannot ask the kernel about it: Permission denied)"
        );
        assert!(
            lines[5].starts_with("stuck        (daemon pid 16 runs but does not answer on "),
            "{}",
            lines[5]
        );
        assert_eq!(
            lines[6],
            "ublk6        orphaned: ublk device 6 (/dev/ublkc6, dead) with no server: `trueno-ublk delete ublk6` removes it"
        );
    }
}
