//! What a running daemon leaves in the run dir besides its sockets: `<name>.state`, saying which
//! process serves the device (pid and its start time, so that a reused pid is not taken for the
//! daemon) and, for ublk, which kernel device it added. A daemon killed by SIGKILL cannot remove
//! it; [`crate::orphans`] reads it to tell the leftovers of dead daemons from live devices.
//!
//! Process liveness is read from a proc tree given by its root, so that tests can use a fake one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The state file of device `name` in `run_dir`.
pub fn state_path(run_dir: &Path, name: &str) -> PathBuf {
    run_dir.join(format!("{name}.state"))
}

/// What a daemon records about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonRecord {
    /// Device name.
    pub name: String,
    /// Daemon process id.
    pub pid: u32,
    /// Its start time in clock ticks since boot (field 22 of `/proc/PID/stat`).
    pub start_time: u64,
    /// `nbd` or `ublk`.
    pub transport: String,
    /// Where clients attach (`unix:PATH`, `tcp:ADDR`, `/dev/ublkbN`).
    pub endpoint: String,
    /// The kernel ublk device id, for ublk.
    pub ublk_id: Option<u32>,
}

impl DaemonRecord {
    /// The record of this process.
    pub fn of_this_process(
        name: &str,
        transport: &str,
        endpoint: &str,
        ublk_id: Option<u32>,
    ) -> Result<Self, String> {
        let pid = std::process::id();
        let start_time = ProcTable::system()
            .process(pid)
            .map(|p| p.start_time)
            .ok_or_else(|| format!("cannot read /proc/{pid}/stat"))?;
        Ok(Self {
            name: name.into(),
            pid,
            start_time,
            transport: transport.into(),
            endpoint: endpoint.into(),
            ublk_id,
        })
    }

    /// The file's text: `key=value` lines.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "name={}\npid={}\nstart_time={}\ntransport={}\nendpoint={}\n",
            self.name, self.pid, self.start_time, self.transport, self.endpoint
        );
        if let Some(id) = self.ublk_id {
            out.push_str(&format!("ublk_id={id}\n"));
        }
        out
    }

    /// Parses a state file; says what is wrong with one that is not ours.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut name = None;
        let mut pid = None;
        let mut start_time = None;
        let mut transport = None;
        let mut endpoint = None;
        let mut ublk_id = None;
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line `{line}` is not key=value"));
            };
            let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{key} `{v}`: {e}"));
            match key {
                "name" => name = Some(value.to_owned()),
                "pid" => {
                    pid = Some(u32::try_from(number(value)?).map_err(|e| format!("pid: {e}"))?);
                }
                "start_time" => start_time = Some(number(value)?),
                "transport" => transport = Some(value.to_owned()),
                "endpoint" => endpoint = Some(value.to_owned()),
                "ublk_id" => {
                    ublk_id =
                        Some(u32::try_from(number(value)?).map_err(|e| format!("ublk_id: {e}"))?);
                }
                // Keys a newer daemon writes: ignore them.
                _ => {}
            }
        }
        let missing = |what: &str| format!("no `{what}=` line");
        Ok(Self {
            name: name.ok_or_else(|| missing("name"))?,
            pid: pid.filter(|&p| p > 0).ok_or_else(|| missing("pid"))?,
            start_time: start_time.ok_or_else(|| missing("start_time"))?,
            transport: transport.ok_or_else(|| missing("transport"))?,
            endpoint: endpoint.unwrap_or_default(),
            ublk_id,
        })
    }
}

/// The state file of a running daemon: written whole (a temporary file renamed into place, so a
/// reader never sees half of it), removed on drop.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// Writes `record` into `run_dir`.
    pub fn write(run_dir: &Path, record: &DaemonRecord) -> Result<Self, String> {
        let path = state_path(run_dir, &record.name);
        let tmp = run_dir.join(format!(".{}.state.{}", record.name, record.pid));
        let written = std::fs::create_dir_all(run_dir)
            .and_then(|()| std::fs::File::create(&tmp))
            .and_then(|mut f| f.write_all(record.to_text().as_bytes()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("cannot write {}: {e}", path.display()));
        }
        Ok(Self { path })
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A process as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Start time in clock ticks since boot.
    pub start_time: u64,
    /// A zombie (`Z`) or dead (`X`) process: it serves nothing any more.
    pub exited: bool,
}

/// Parses `/proc/PID/stat`. The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from the last `)`.
pub fn parse_proc_stat(text: &str) -> Option<ProcessInfo> {
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    // Field 3 is the state; field 22 the start time, 19 fields after it.
    let state = fields.next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcessInfo {
        start_time,
        exited: matches!(state, "Z" | "X" | "x"),
    })
}

/// The processes of a proc tree (`/proc`, or a fake one in tests).
#[derive(Debug, Clone)]
pub struct ProcTable {
    root: PathBuf,
}

impl ProcTable {
    /// The system's `/proc`.
    pub fn system() -> Self {
        Self::at("/proc")
    }

    /// The proc tree at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Process `pid`, if it exists.
    pub fn process(&self, pid: u32) -> Option<ProcessInfo> {
        let text = std::fs::read_to_string(self.root.join(pid.to_string()).join("stat")).ok()?;
        parse_proc_stat(&text)
    }

    /// Whether process `pid` runs (exists and is no zombie).
    pub fn runs(&self, pid: u32) -> bool {
        pid > 0 && self.process(pid).is_some_and(|p| !p.exited)
    }

    /// Whether the daemon of `record` still runs: its pid runs and started when the record says,
    /// so a pid the system has since given to another process does not count.
    pub fn runs_daemon(&self, record: &DaemonRecord) -> bool {
        self.process(record.pid)
            .is_some_and(|p| !p.exited && p.start_time == record.start_time)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stat line as the kernel writes it, with a hostile command name.
    pub(crate) fn stat_line(pid: u32, state: char, start_time: u64) -> String {
        format!(
            "{pid} (evil) R (name)) {state} 1 {pid} {pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {start_time} 1000 200 18446744073709551615\n"
        )
    }

    /// Writes a fake `/proc/PID/stat` under `root`.
    pub(crate) fn fake_process(root: &Path, pid: u32, state: char, start_time: u64) {
        let dir = root.join(pid.to_string());
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| unreachable!("{e}"));
        std::fs::write(dir.join("stat"), stat_line(pid, state, start_time))
            .unwrap_or_else(|e| unreachable!("{e}"));
    }

    pub(crate) fn record(name: &str, pid: u32, start_time: u64) -> DaemonRecord {
        DaemonRecord {
            name: name.into(),
            pid,
            start_time,
            transport: "nbd".into(),
            endpoint: "unix:/run/x.nbd".into(),
            ublk_id: None,
        }
    }

    pub(crate) fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trueno-state-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| unreachable!("{e}"));
        dir
    }

    #[test]
    fn records_survive_their_text() {
        let mut r = record("trueno0", 42, 12345);
        assert_eq!(DaemonRecord::parse(&r.to_text()), Ok(r.clone()));
        r.ublk_id = Some(7);
        r.transport = "ublk".into();
        assert_eq!(DaemonRecord::parse(&r.to_text()), Ok(r.clone()));
        let newer = format!("{}future_key=1\n", r.to_text());
        assert_eq!(DaemonRecord::parse(&newer), Ok(r));
    }

    #[test]
    fn garbage_records_are_refused_with_the_reason() {
        for (text, why) in [
            ("", "no `name=`"),
            ("garbage", "not key=value"),
            ("name=a\npid=x\n", "pid `x`"),
            ("name=a\npid=0\nstart_time=1\ntransport=nbd\n", "no `pid=`"),
            ("name=a\npid=99999999999\n", "pid:"),
            ("name=a\npid=1\ntransport=nbd\n", "no `start_time=`"),
            (
                "name=a\npid=1\nstart_time=1\ntransport=ublk\nublk_id=-1\n",
                "ublk_id `-1`",
            ),
        ] {
            let e = DaemonRecord::parse(text).err().unwrap_or_default();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn proc_stat_is_read_past_a_hostile_command_name() {
        assert_eq!(
            parse_proc_stat(&stat_line(10, 'S', 777)),
            Some(ProcessInfo {
                start_time: 777,
                exited: false
            })
        );
        assert_eq!(
            parse_proc_stat(&stat_line(10, 'Z', 7)).map(|p| p.exited),
            Some(true)
        );
        for bad in [
            "",
            "12 (x",
            "12 (x) S 1 2",
            "12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 nan",
        ] {
            assert_eq!(parse_proc_stat(bad), None, "{bad}");
        }
    }

    #[test]
    fn liveness_needs_the_same_start_time_and_no_zombie() {
        let root = temp_dir("liveness");
        fake_process(&root, 100, 'S', 5000);
        fake_process(&root, 101, 'Z', 5000);
        let procs = ProcTable::at(&root);
        assert!(procs.runs(100));
        assert!(!procs.runs(101), "zombie");
        assert!(!procs.runs(102), "absent");
        assert!(!procs.runs(0));
        assert!(procs.runs_daemon(&record("a", 100, 5000)));
        assert!(!procs.runs_daemon(&record("a", 100, 4999)), "pid reused");
        assert!(!procs.runs_daemon(&record("a", 101, 5000)));
        assert!(!procs.runs_daemon(&record("a", 102, 5000)));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn this_process_runs_and_its_state_file_goes_on_drop() {
        let dir = temp_dir("statefile");
        let me = DaemonRecord::of_this_process("me", "nbd", "unix:/x", None)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(ProcTable::system().runs_daemon(&me));
        let file = StateFile::write(&dir, &me).unwrap_or_else(|e| unreachable!("{e}"));
        let text = std::fs::read_to_string(state_path(&dir, "me")).unwrap_or_default();
        assert_eq!(DaemonRecord::parse(&text), Ok(me));
        drop(file);
        assert!(!state_path(&dir, "me").exists());
        assert_eq!(std::fs::read_dir(&dir).map(Iterator::count).unwrap_or(1), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
