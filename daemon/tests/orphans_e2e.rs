//! A daemon killed by SIGKILL cannot clean up: its control socket, NBD socket and state file stay
//! in the run dir. `list` must show what happened and remove them, `delete` must remove them,
//! and `create` must not trip over them. (The ublk side, with the kernel device a killed daemon
//! leaves, is in `ublk_e2e`, which needs the driver.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trueno-ublk");

struct RunDir(PathBuf);

impl RunDir {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("trueno-orphans-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("TRUENO_UBLK_RUN_DIR", &self.0)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Starts device `name` in the background over NBD; returns its daemon's pid.
    fn create(&self, name: &str) -> i32 {
        self.ok(&[
            "create",
            "--transport",
            "nbd",
            "--name",
            name,
            "--size",
            "16M",
        ]);
        let state = std::fs::read_to_string(self.file(&format!("{name}.state"))).unwrap();
        state
            .lines()
            .find_map(|l| l.strip_prefix("pid="))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {state}"))
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Stop whatever still runs (a failed test), then remove the directory.
        for name in self.files() {
            if let Some(device) = name.strip_suffix(".ctl") {
                let _ = self.cli(&["delete", device]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SIGKILL, and wait until every thread of the process is gone or a zombie. The main thread turns
/// zombie before the others have exited, and the files (the control socket) close only with the
/// last thread, so the main thread's state alone is not enough.
fn kill9(pid: i32) {
    // SAFETY: kill(2) with a pid this test started and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let started = Instant::now();
    while !all_threads_dead(pid) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{pid} lives on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn all_threads_dead(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|task| {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        state.is_none_or(|s| s.starts_with('Z'))
    })
}

fn gone(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_err()
}

#[test]
fn list_shows_a_killed_daemon_and_removes_its_leftovers() {
    let run = RunDir::new("list");
    let pid = run.create("k");
    let other = run.create("alive");
    assert!(run.ok(&["list"]).contains("k "));
    kill9(pid);
    for leftover in ["k.ctl", "k.nbd", "k.state"] {
        assert!(!gone(&run.file(leftover)), "{leftover}: SIGKILL leaves it");
    }
    let listed = run.ok(&["list"]);
    let line = listed
        .lines()
        .find(|l| l.starts_with("k "))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        line.contains(&format!("gone: daemon pid {pid} was killed; removed")),
        "{line}"
    );
    for leftover in ["k.ctl", "k.nbd", "k.state"] {
        assert!(line.contains(leftover), "{line}");
        assert!(gone(&run.file(leftover)), "{leftover} is still there");
    }
    // The live device is untouched and listed as before; the log of the killed one stays.
    assert!(listed.contains(&format!("pid {other}")), "{listed}");
    assert_eq!(
        run.files(),
        [
            "alive.ctl",
            "alive.log",
            "alive.nbd",
            "alive.state",
            "k.log"
        ]
    );
    let again = run.ok(&["list"]);
    assert!(!again.contains("k "), "{again}");
    run.ok(&["delete", "alive"]);
    assert_eq!(run.files(), ["alive.log", "k.log"]);
}

#[test]
fn delete_removes_what_a_killed_daemon_left() {
    let run = RunDir::new("delete");
    let pid = run.create("k");
    kill9(pid);
    let out = run.ok(&["delete", "k"]);
    assert_eq!(
        out.trim(),
        format!("k: its daemon (pid {pid}) was gone; removed its files")
    );
    assert_eq!(run.files(), ["k.log"]);
    let again = run.cli(&["delete", "k"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no device `k`"));
    // A kernel device name that does not exist here is refused with what was looked for.
    let absent = run.cli(&["delete", "/dev/ublkb77"]);
    assert!(!absent.status.success());
    assert!(
        String::from_utf8_lossy(&absent.stderr).contains("no ublk device 77"),
        "{}",
        String::from_utf8_lossy(&absent.stderr)
    );
}

#[test]
fn create_takes_the_name_of_a_killed_daemon() {
    let run = RunDir::new("create");
    let first = run.create("k");
    kill9(first);
    let second = run.create("k");
    assert_ne!(first, second);
    let stat = run.ok(&["stat", "k", "--json"]);
    assert!(stat.contains(&format!("\"pid\":{second}")), "{stat}");
    run.ok(&["delete", "k"]);
    assert_eq!(run.files(), ["k.log"]);
    // Any create cleans what killed daemons left, whatever their names.
    let dead = run.create("dead");
    kill9(dead);
    run.create("other");
    assert_eq!(
        run.files(),
        [
            "dead.log",
            "k.log",
            "other.ctl",
            "other.log",
            "other.nbd",
            "other.state"
        ]
    );
    run.ok(&["delete", "other"]);
}

#[test]
fn a_running_daemon_is_refused_a_second_time_and_not_cleaned() {
    let run = RunDir::new("twice");
    run.create("k");
    let twice = run.cli(&[
        "create",
        "--transport",
        "nbd",
        "--name",
        "k",
        "--size",
        "16M",
    ]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("device `k` is already running"));
    assert!(run.files().contains(&"k.state".to_owned()));
    run.ok(&["delete", "k"]);
}
