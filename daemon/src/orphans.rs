//! What is left when a daemon dies without cleaning up (SIGKILL, OOM kill, crash): its control
//! socket, its state file and NBD socket in the run dir, and for ublk the kernel device it added,
//! which the kernel keeps (stopped) until someone deletes it.
//!
//! [`Survey::take`] looks at a run dir, a proc tree and the kernel's ublk devices and sorts what
//! it finds; `list` shows it, [`Survey::clean`] removes the files of dead daemons, and `delete`
//! removes an orphaned kernel device. Every input is given, so tests use fake trees.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::state::{DaemonRecord, ProcTable, state_path};
use crate::ublk::kernel::{KernelDevice, UblkKernel, parse_device_arg};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A daemon whose control socket answers.
    Running {
        /// Device name.
        name: String,
        /// The kernel ublk device it serves, where its state file says.
        ublk_id: Option<u32>,
    },
    /// A daemon that still runs but does not answer on its control socket (starting, or stuck).
    Unresponsive {
        /// Device name.
        name: String,
        /// Its pid.
        pid: u32,
    },
    /// A daemon that is gone.
    Dead {
        /// Device name.
        name: String,
        /// Its pid, where its state file said.
        pid: Option<u32>,
        /// Its files that [`Survey::clean`] removes.
        stale: Vec<PathBuf>,
        /// The kernel device it added, still held by the kernel; its state file stays (so that
        /// `delete NAME` finds the device) until the device is removed.
        orphan: Option<KernelDevice>,
        /// Its state file.
        state_file: Option<PathBuf>,
    },
    /// A kernel ublk device whose server is gone and that no state file names.
    OrphanDevice(KernelDevice),
    /// A kernel ublk device served by a running process that no state file names (another ublk
    /// server, or a trueno-ublk daemon with another run dir).
    OtherDevice(KernelDevice),
    /// A kernel ublk device that could not be asked about itself.
    Unreadable {
        /// Its id.
        id: u32,
        /// Why.
        why: String,
    },
}

/// Everything found, daemons by name first, then kernel devices by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survey {
    /// The findings.
    pub findings: Vec<Finding>,
}

/// Whether a Unix socket has a listener: connecting to a socket file whose server is gone is
/// refused, so this does not need the server to answer.
fn socket_listens(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// Device names that have a control socket or a state file in `run_dir`, sorted.
fn names_in(run_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name();
            let file = file.to_str()?;
            let name = file
                .strip_suffix(".ctl")
                .or_else(|| file.strip_suffix(".state"))?;
            crate::control::check_name(name)
                .is_ok()
                .then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

impl Survey {
    /// Looks at the daemons of `run_dir` (processes from `procs`) and the devices of `kernel`.
    pub fn take(run_dir: &Path, procs: &ProcTable, kernel: &dyn UblkKernel) -> Self {
        let devices = kernel.devices();
        let device = |id: u32| {
            devices
                .iter()
                .find_map(|(i, d)| (*i == id).then_some(d.as_ref().ok()).flatten())
        };
        let mut findings = Vec::new();
        // Kernel ids accounted for by a daemon's state file.
        let mut claimed = Vec::new();
        for name in names_in(run_dir) {
            let ctl = run_dir.join(format!("{name}.ctl"));
            let state = state_path(run_dir, &name);
            let record = std::fs::read_to_string(&state)
                .ok()
                .map(|text| DaemonRecord::parse(&text));
            let record = match record {
                Some(Ok(r)) if r.name == name => Some(r),
                Some(Ok(_)) | Some(Err(_)) => {
                    log::debug!("{}: not a state file of ours", state.display());
                    None
                }
                None => None,
            };
            // The kernel device of this daemon, if the kernel still holds it: for the same pid,
            // or stopped (the kernel sets the pid to -1 when it stops a device whose server
            // died) and carrying our mark.
            let own_device = record.as_ref().and_then(|r| {
                let d = device(r.ublk_id?)?;
                let same_pid = u32::try_from(d.server_pid).ok() == Some(r.pid);
                (same_pid || (d.server_pid <= 0 && d.ours)).then_some(*d)
            });
            if let Some(d) = own_device {
                claimed.push(d.id);
            }
            if socket_listens(&ctl) {
                let ublk_id = record.as_ref().and_then(|r| r.ublk_id);
                findings.push(Finding::Running { name, ublk_id });
                continue;
            }
            if let Some(r) = record.as_ref().filter(|r| procs.runs_daemon(r)) {
                findings.push(Finding::Unresponsive { name, pid: r.pid });
                continue;
            }
            let mut stale = Vec::new();
            if is_socket(&ctl) {
                stale.push(ctl);
            }
            let mut sockets = vec![run_dir.join(format!("{name}.nbd"))];
            if let Some(path) = record
                .as_ref()
                .and_then(|r| r.endpoint.strip_prefix("unix:"))
            {
                sockets.push(PathBuf::from(path));
            }
            for socket in sockets {
                if is_socket(&socket) && !socket_listens(&socket) && !stale.contains(&socket) {
                    stale.push(socket);
                }
            }
            let state_file = state.exists().then_some(state);
            if own_device.is_none() {
                stale.extend(state_file.clone());
            }
            findings.push(Finding::Dead {
                name,
                pid: record.as_ref().map(|r| r.pid),
                stale,
                orphan: own_device,
                state_file,
            });
        }
        for (id, info) in devices {
            match info {
                Err(why) => findings.push(Finding::Unreadable { id, why }),
                Ok(_) if claimed.contains(&id) => {}
                Ok(d) => {
                    let runs = u32::try_from(d.server_pid).is_ok_and(|pid| procs.runs(pid));
                    findings.push(if runs {
                        Finding::OtherDevice(d)
                    } else {
                        Finding::OrphanDevice(d)
                    });
                }
            }
        }
        Self { findings }
    }

    /// The finding about device name `name`.
    pub fn named(&self, name: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| match f {
            Finding::Running { name: n, .. }
            | Finding::Unresponsive { name: n, .. }
            | Finding::Dead { name: n, .. } => n == name,
            _ => false,
        })
    }

    /// The finding about kernel device `id`, if no daemon's name covers it.
    pub fn kernel_device(&self, id: u32) -> Option<&Finding> {
        self.findings.iter().find(|f| match f {
            Finding::OrphanDevice(d) | Finding::OtherDevice(d) => d.id == id,
            Finding::Unreadable { id: i, .. } => *i == id,
            _ => false,
        })
    }

    /// The name of the running daemon that serves kernel device `id`.
    pub fn serving(&self, id: u32) -> Option<&str> {
        self.findings.iter().find_map(|f| match f {
            Finding::Running {
                name,
                ublk_id: Some(i),
            } if *i == id => Some(name.as_str()),
            _ => None,
        })
    }

    /// The kernel device `id` if it is held for a server that is gone, whoever named it.
    pub fn orphaned_device(&self, id: u32) -> Option<(KernelDevice, Option<&str>)> {
        self.findings.iter().find_map(|f| match f {
            Finding::OrphanDevice(d) if d.id == id => Some((*d, None)),
            Finding::Dead {
                name,
                orphan: Some(d),
                ..
            } if d.id == id => Some((*d, Some(name.as_str()))),
            _ => None,
        })
    }

    /// Removes the stale files of dead daemons; returns those removed. Each is looked at again
    /// first: a daemon started since the survey may have taken the name.
    pub fn clean(&self) -> Vec<PathBuf> {
        self.findings
            .iter()
            .filter_map(|f| match f {
                Finding::Dead { stale, pid, .. } => Some(stale.iter().map(move |p| (p, *pid))),
                _ => None,
            })
            .flatten()
            .filter(|(path, pid)| still_stale(path, *pid))
            .filter_map(|(path, _)| match std::fs::remove_file(path) {
                Ok(()) => Some(path.clone()),
                Err(e) => {
                    log::warn!("cannot remove {}: {e}", path.display());
                    None
                }
            })
            .collect()
    }
}

/// Whether `path`, found stale for the daemon `dead_pid`, still is: a socket nobody listens on,
/// or a state file that is garbage or still the dead daemon's.
fn still_stale(path: &Path, dead_pid: Option<u32>) -> bool {
    if is_socket(path) {
        return !socket_listens(path);
    }
    match std::fs::read_to_string(path).map(|text| DaemonRecord::parse(&text)) {
        Ok(Ok(record)) => Some(record.pid) == dead_pid,
        Ok(Err(_)) => true,
        Err(_) => false,
    }
}

/// Removes what a dead daemon left: its kernel device first (so that a failure keeps the state
/// file that names it), then its files.
pub fn remove_dead(finding: &Finding, kernel: &dyn UblkKernel) -> Result<(), String> {
    let Finding::Dead {
        stale,
        orphan,
        state_file,
        ..
    } = finding
    else {
        return Err("not a dead daemon".into());
    };
    if let Some(d) = orphan {
        kernel.remove(d.id)?;
    }
    for path in stale.iter().chain(state_file) {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
        }
    }
    Ok(())
}

/// What `delete DEVICE` comes to when no daemon answers on DEVICE's control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// A running daemon (named, or serving the kernel device named): stop it through its control
    /// socket.
    Running(String),
    /// Leftovers removed; says what.
    Removed(String),
}

/// `delete DEVICE`, where DEVICE is a device name or a kernel ublk device (`ublkN`,
/// `/dev/ublkbN`): removes what a dead daemon left (its kernel device first), or a kernel device
/// whose server is gone; refuses a live daemon that does not answer and another server's device.
pub fn delete(
    survey: &Survey,
    kernel: &dyn UblkKernel,
    run_dir: &Path,
    device: &str,
) -> Result<Deletion, String> {
    let id = parse_device_arg(device);
    // A kernel device a dead daemon of ours added is removed with that daemon's files.
    let finding = survey.named(device).or_else(|| {
        let (_, owner) = survey.orphaned_device(id?)?;
        survey.named(owner?)
    });
    let control = |name: &str| run_dir.join(format!("{name}.ctl"));
    match finding {
        Some(Finding::Running { name, .. }) => Ok(Deletion::Running(name.clone())),
        Some(Finding::Unresponsive { name, pid }) => Err(format!(
            "device `{name}`: its daemon (pid {pid}) runs but does not answer on {}: stop it (`kill {pid}`), then delete again",
            control(name).display()
        )),
        Some(
            found @ Finding::Dead {
                name, pid, orphan, ..
            },
        ) => {
            remove_dead(found, kernel)?;
            let pid = pid.map_or_else(String::new, |p| format!(" (pid {p})"));
            Ok(Deletion::Removed(match orphan {
                Some(d) => format!(
                    "{name}: its daemon{pid} was gone; removed ublk device {} and its files",
                    d.id
                ),
                None => format!("{name}: its daemon{pid} was gone; removed its files"),
            }))
        }
        _ => match id {
            Some(id) => delete_kernel_device(survey, kernel, id),
            None => Err(format!(
                "no device `{device}`: no daemon answers on {}",
                control(device).display()
            )),
        },
    }
}

/// `delete ublkN` for a device no dead daemon of the run dir names.
fn delete_kernel_device(
    survey: &Survey,
    kernel: &dyn UblkKernel,
    id: u32,
) -> Result<Deletion, String> {
    if let Some(name) = survey.serving(id) {
        return Ok(Deletion::Running(name.to_owned()));
    }
    match survey.kernel_device(id) {
        Some(Finding::OrphanDevice(d)) => {
            kernel.remove(id)?;
            Ok(Deletion::Removed(if d.server_pid > 0 {
                format!(
                    "ublk{id}: its server (pid {}) was gone; removed ublk device {id}",
                    d.server_pid
                )
            } else {
                format!("ublk{id}: it had no server; removed ublk device {id}")
            }))
        }
        Some(Finding::OtherDevice(d)) => Err(format!(
            "ublk device {id} is served by pid {}, which runs: stop it through its server{}",
            d.server_pid,
            if d.ours {
                " (a trueno-ublk daemon: `trueno-ublk delete NAME` with its TRUENO_UBLK_RUN_DIR)"
            } else {
                ""
            }
        )),
        Some(Finding::Unreadable { why, .. }) => Err(format!("ublk device {id}: {why}")),
        _ => Err(format!(
            "no ublk device {id} (and no daemon named ublk{id})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::os::unix::net::UnixListener;

    use super::*;
    use crate::state::StateFile;
    use crate::state::tests::{fake_process, record, temp_dir};
    use crate::ublk::kernel::DevState;

    /// A kernel with the given devices; records removals (or refuses them).
    #[derive(Default)]
    struct FakeKernel {
        devices: Vec<(u32, Result<KernelDevice, String>)>,
        removed: RefCell<Vec<u32>>,
        refuse: bool,
    }

    impl UblkKernel for FakeKernel {
        fn devices(&self) -> Vec<(u32, Result<KernelDevice, String>)> {
            self.devices
                .iter()
                .filter(|(id, _)| !self.removed.borrow().contains(id))
                .cloned()
                .collect()
        }
        fn remove(&self, id: u32) -> Result<(), String> {
            if self.refuse {
                return Err(format!(
                    "cannot delete ublk device {id}: Device or resource busy"
                ));
            }
            self.removed.borrow_mut().push(id);
            Ok(())
        }
    }

    fn kdev(id: u32, server_pid: i32, state: DevState) -> KernelDevice {
        KernelDevice {
            id,
            server_pid,
            state,
            ours: true,
        }
    }

    /// A socket file whose server is gone.
    fn dead_socket(path: &Path) {
        drop(UnixListener::bind(path).unwrap_or_else(|e| unreachable!("{e}")));
    }

    fn write_record(run: &Path, r: &DaemonRecord) {
        // The guard would remove it: keep the file as a killed daemon does.
        std::mem::forget(StateFile::write(run, r).unwrap_or_else(|e| unreachable!("{e}")));
    }

    struct Tree {
        run: PathBuf,
        procs: ProcTable,
        root: PathBuf,
    }

    fn tree(test: &str) -> Tree {
        let root = temp_dir(test);
        let run = root.join("run");
        std::fs::create_dir_all(&run).unwrap_or_else(|e| unreachable!("{e}"));
        let procs = ProcTable::at(root.join("proc"));
        Tree { run, procs, root }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    #[test]
    fn running_unresponsive_and_dead_daemons_are_told_apart() {
        let t = tree("daemons");
        let proc_root = t.root.join("proc");
        // `live`: answers on its control socket.
        let _listener = UnixListener::bind(t.run.join("live.ctl"));
        write_record(&t.run, &record("live", 10, 1));
        fake_process(&proc_root, 10, 'S', 1);
        // `stuck`: its process runs, its control socket is gone.
        write_record(&t.run, &record("stuck", 11, 1));
        fake_process(&proc_root, 11, 'S', 1);
        // `killed`: pid gone; dead control and NBD sockets, a dead custom socket.
        let custom = t.root.join("custom.nbd");
        let mut killed = record("killed", 12, 1);
        killed.endpoint = format!("unix:{}", custom.display());
        write_record(&t.run, &killed);
        dead_socket(&t.run.join("killed.ctl"));
        dead_socket(&t.run.join("killed.nbd"));
        dead_socket(&custom);
        // `reused`: its pid now belongs to a process that started later.
        write_record(&t.run, &record("reused", 13, 1));
        fake_process(&proc_root, 13, 'S', 999);
        // `zombie`: killed, not yet reaped.
        write_record(&t.run, &record("zombie", 14, 1));
        fake_process(&proc_root, 14, 'Z', 1);
        // `oldstyle`: a dead control socket and no state file.
        dead_socket(&t.run.join("oldstyle.ctl"));
        // Garbage: a state file that is not ours, files that name no device.
        std::fs::write(t.run.join("garbage.state"), "\u{0}\u{1}binary").unwrap_or_default();
        std::fs::write(t.run.join("notes.txt"), "x").unwrap_or_default();
        std::fs::write(t.run.join("..state"), "x").unwrap_or_default();
        std::fs::write(t.run.join("killed.log"), "the log stays").unwrap_or_default();

        let kernel = FakeKernel::default();
        let survey = Survey::take(&t.run, &t.procs, &kernel);
        assert_eq!(
            survey.named("live"),
            Some(&Finding::Running {
                name: "live".into(),
                ublk_id: None
            })
        );
        assert_eq!(
            survey.named("stuck"),
            Some(&Finding::Unresponsive {
                name: "stuck".into(),
                pid: 11
            })
        );
        let Some(Finding::Dead {
            pid, stale, orphan, ..
        }) = survey.named("killed")
        else {
            unreachable!("{survey:?}")
        };
        assert_eq!((*pid, *orphan), (Some(12), None));
        let mut expected = vec![
            t.run.join("killed.ctl"),
            t.run.join("killed.nbd"),
            custom.clone(),
            t.run.join("killed.state"),
        ];
        assert_eq!(stale, &expected);
        for name in ["reused", "zombie", "garbage"] {
            assert!(
                matches!(survey.named(name), Some(Finding::Dead { stale, .. }) if stale == &[t.run.join(format!("{name}.state"))]),
                "{name}: {survey:?}"
            );
        }
        assert!(
            matches!(survey.named("oldstyle"), Some(Finding::Dead { pid: None, stale, .. }) if stale == &[t.run.join("oldstyle.ctl")])
        );
        assert_eq!(survey.findings.len(), 7, "{survey:?}");

        let mut removed = survey.clean();
        removed.sort();
        expected.extend(["reused", "zombie", "garbage"].map(|n| t.run.join(format!("{n}.state"))));
        expected.push(t.run.join("oldstyle.ctl"));
        expected.sort();
        assert_eq!(removed, expected);
        for path in &expected {
            assert!(!path.exists(), "{}", path.display());
        }
        // What belongs to live daemons, and files that are no daemon's, stay.
        for kept in [
            "live.ctl",
            "live.state",
            "stuck.state",
            "notes.txt",
            "..state",
            "killed.log",
        ] {
            assert!(t.run.join(kept).exists(), "{kept}");
        }
        let after = Survey::take(&t.run, &t.procs, &kernel);
        assert_eq!(after.findings.len(), 2, "{after:?}");
    }

    #[test]
    fn clean_spares_what_a_new_daemon_took_since_the_survey() {
        let t = tree("race");
        write_record(&t.run, &record("k", 70, 1));
        dead_socket(&t.run.join("k.ctl"));
        let survey = Survey::take(&t.run, &t.procs, &FakeKernel::default());
        assert!(matches!(survey.named("k"), Some(Finding::Dead { stale, .. }) if stale.len() == 2));
        // A new daemon for `k` binds its control socket and writes its state file.
        std::fs::remove_file(t.run.join("k.ctl")).unwrap_or_default();
        let _listener = UnixListener::bind(t.run.join("k.ctl"));
        write_record(&t.run, &record("k", 71, 1));
        assert_eq!(survey.clean(), Vec::<PathBuf>::new());
        assert!(t.run.join("k.ctl").exists() && t.run.join("k.state").exists());
    }

    #[test]
    fn a_socket_a_live_server_holds_is_never_stale() {
        let t = tree("livesocket");
        // The daemon is gone but another server now listens on its NBD socket path.
        write_record(&t.run, &record("gone", 20, 1));
        let _other = UnixListener::bind(t.run.join("gone.nbd"));
        let survey = Survey::take(&t.run, &t.procs, &FakeKernel::default());
        assert!(
            matches!(survey.named("gone"), Some(Finding::Dead { stale, .. }) if stale == &[t.run.join("gone.state")]),
            "{survey:?}"
        );
    }

    #[test]
    fn kernel_devices_of_dead_servers_are_orphans() {
        let t = tree("kernel");
        let proc_root = t.root.join("proc");
        // `ublk0`: our daemon, killed; the kernel still holds its device 0.
        let mut dead = record("ublk0", 30, 1);
        dead.transport = "ublk".into();
        dead.ublk_id = Some(0);
        write_record(&t.run, &dead);
        dead_socket(&t.run.join("ublk0.ctl"));
        // `served`: our daemon, running, device 1.
        let mut live = record("served", 31, 1);
        live.ublk_id = Some(1);
        write_record(&t.run, &live);
        let _listener = UnixListener::bind(t.run.join("served.ctl"));
        fake_process(&proc_root, 31, 'S', 1);
        // `stopped`: killed; the kernel has stopped its device 6 (pid -1), which carries our mark.
        let mut stopped = record("stopped", 33, 1);
        stopped.ublk_id = Some(6);
        write_record(&t.run, &stopped);
        // `foreign`: killed; its old id 7 is now a stopped device without our mark.
        let mut foreign = record("foreign", 34, 1);
        foreign.ublk_id = Some(7);
        write_record(&t.run, &foreign);
        // `recycled`: dead, and its old id 2 now belongs to a device of another server.
        let mut recycled = record("recycled", 32, 1);
        recycled.ublk_id = Some(2);
        write_record(&t.run, &recycled);
        fake_process(&proc_root, 40, 'S', 1);
        let kernel = FakeKernel {
            devices: vec![
                (0, Ok(kdev(0, 30, DevState::Dead))),
                (1, Ok(kdev(1, 31, DevState::Live))),
                (2, Ok(kdev(2, 40, DevState::Live))),
                // A device no state file names, server gone; one that could not be read.
                (3, Ok(kdev(3, 41, DevState::Live))),
                (4, Err("permission denied".into())),
                (5, Ok(kdev(5, -1, DevState::Dead))),
                (6, Ok(kdev(6, -1, DevState::Dead))),
                (
                    7,
                    Ok(KernelDevice {
                        ours: false,
                        ..kdev(7, -1, DevState::Dead)
                    }),
                ),
            ],
            removed: RefCell::default(),
            refuse: false,
        };
        let survey = Survey::take(&t.run, &t.procs, &kernel);
        let Some(found @ Finding::Dead { orphan, stale, .. }) = survey.named("ublk0") else {
            unreachable!("{survey:?}")
        };
        assert_eq!(*orphan, Some(kdev(0, 30, DevState::Dead)));
        assert_eq!(stale, &[t.run.join("ublk0.ctl")], "the state file stays");
        assert_eq!(
            survey.named("served"),
            Some(&Finding::Running {
                name: "served".into(),
                ublk_id: Some(1)
            })
        );
        assert_eq!(survey.serving(1), Some("served"));
        assert_eq!(survey.serving(0), None);
        assert!(
            matches!(
                survey.named("recycled"),
                Some(Finding::Dead { orphan: None, .. })
            ),
            "{survey:?}"
        );
        assert!(
            matches!(survey.named("stopped"), Some(Finding::Dead { orphan: Some(d), .. }) if d.id == 6),
            "{survey:?}"
        );
        assert!(matches!(
            survey.named("foreign"),
            Some(Finding::Dead { orphan: None, .. })
        ));
        assert_eq!(survey.kernel_device(6), None, "named by stopped");
        assert!(matches!(survey.kernel_device(7), Some(Finding::OrphanDevice(d)) if !d.ours));
        assert_eq!(survey.kernel_device(0), None, "named by ublk0");
        assert_eq!(survey.kernel_device(1), None, "named by served");
        assert_eq!(
            survey.kernel_device(2),
            Some(&Finding::OtherDevice(kdev(2, 40, DevState::Live)))
        );
        assert_eq!(
            survey.kernel_device(3),
            Some(&Finding::OrphanDevice(kdev(3, 41, DevState::Live)))
        );
        assert!(matches!(
            survey.kernel_device(4),
            Some(Finding::Unreadable { id: 4, .. })
        ));
        assert_eq!(
            survey.kernel_device(5),
            Some(&Finding::OrphanDevice(kdev(5, -1, DevState::Dead)))
        );
        assert_eq!(
            survey.orphaned_device(0).map(|(_, n)| n),
            Some(Some("ublk0"))
        );
        assert_eq!(survey.orphaned_device(3).map(|(_, n)| n), Some(None));
        assert_eq!(survey.orphaned_device(1), None);
        assert_eq!(survey.orphaned_device(2), None);

        // Cleaning files keeps the orphan's state file; removing the orphan takes the rest.
        let cleaned = survey.clean();
        assert!(cleaned.contains(&t.run.join("ublk0.ctl")));
        assert!(t.run.join("ublk0.state").exists());
        remove_dead(found, &kernel).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(*kernel.removed.borrow(), vec![0]);
        assert!(!t.run.join("ublk0.state").exists());
        let after = Survey::take(&t.run, &t.procs, &kernel);
        assert_eq!(after.named("ublk0"), None);
        let running = Finding::Running {
            name: "x".into(),
            ublk_id: None,
        };
        assert!(remove_dead(&running, &kernel).is_err());
    }

    /// A run dir and kernel as `delete` may find them.
    fn delete_scene(t: &Tree, refuse: bool) -> FakeKernel {
        let proc_root = t.root.join("proc");
        let mut dead = record("dead", 50, 1);
        dead.ublk_id = Some(0);
        write_record(&t.run, &dead);
        let mut live = record("served", 51, 1);
        live.ublk_id = Some(1);
        write_record(&t.run, &live);
        let _ = UnixListener::bind(t.run.join("served.ctl")).map(std::mem::forget);
        fake_process(&proc_root, 51, 'S', 1);
        write_record(&t.run, &record("stuck", 52, 1));
        fake_process(&proc_root, 52, 'S', 1);
        write_record(&t.run, &record("filesonly", 53, 1));
        fake_process(&proc_root, 60, 'S', 1);
        FakeKernel {
            devices: vec![
                (0, Ok(kdev(0, 50, DevState::Dead))),
                (1, Ok(kdev(1, 51, DevState::Live))),
                (2, Ok(kdev(2, 60, DevState::Live))),
                (3, Ok(kdev(3, 61, DevState::Dead))),
                (4, Err("Permission denied (os error 13)".into())),
            ],
            removed: RefCell::default(),
            refuse,
        }
    }

    #[test]
    fn delete_removes_leftovers_and_refuses_what_lives() {
        let t = tree("delete");
        let kernel = delete_scene(&t, false);
        let survey = Survey::take(&t.run, &t.procs, &kernel);
        let del = |device: &str| delete(&survey, &kernel, &t.run, device);
        assert_eq!(del("served"), Ok(Deletion::Running("served".into())));
        assert_eq!(del("/dev/ublkb1"), Ok(Deletion::Running("served".into())));
        let stuck = del("stuck").err().unwrap_or_default();
        assert!(
            stuck.contains("pid 52") && stuck.contains("kill 52"),
            "{stuck}"
        );
        let other = del("ublkb2").err().unwrap_or_default();
        assert!(other.contains("served by pid 60, which runs"), "{other}");
        let unreadable = del("ublkc4").err().unwrap_or_default();
        assert!(unreadable.contains("Permission denied"), "{unreadable}");
        assert!(
            del("ublk9")
                .err()
                .unwrap_or_default()
                .contains("no ublk device 9")
        );
        assert!(
            del("nope")
                .err()
                .unwrap_or_default()
                .contains("no device `nope`")
        );
        assert!(
            kernel.removed.borrow().is_empty(),
            "nothing live was removed"
        );

        assert_eq!(
            del("ublk3"),
            Ok(Deletion::Removed(
                "ublk3: its server (pid 61) was gone; removed ublk device 3".into()
            ))
        );
        // The dead daemon's device, named by its kernel path: the daemon's files go with it.
        assert_eq!(
            del("/dev/ublkb0"),
            Ok(Deletion::Removed(
                "dead: its daemon (pid 50) was gone; removed ublk device 0 and its files".into()
            ))
        );
        assert!(!t.run.join("dead.state").exists());
        assert_eq!(
            del("filesonly"),
            Ok(Deletion::Removed(
                "filesonly: its daemon (pid 53) was gone; removed its files".into()
            ))
        );
        assert!(!t.run.join("filesonly.state").exists());
        assert_eq!(*kernel.removed.borrow(), vec![3, 0]);
    }

    #[test]
    fn a_device_the_kernel_will_not_delete_keeps_its_state_file() {
        let t = tree("refused");
        let kernel = delete_scene(&t, true);
        let survey = Survey::take(&t.run, &t.procs, &kernel);
        let e = delete(&survey, &kernel, &t.run, "dead")
            .err()
            .unwrap_or_default();
        assert!(e.contains("Device or resource busy"), "{e}");
        // Still named, so that a later `delete dead` can try again.
        assert!(t.run.join("dead.state").exists());
        let again = Survey::take(&t.run, &t.procs, &kernel);
        assert!(matches!(
            again.named("dead"),
            Some(Finding::Dead {
                orphan: Some(_),
                ..
            })
        ));
    }
}
