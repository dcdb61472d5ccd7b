//! A command whose reader goes away early (`trueno-ublk list | head -0`) ends as `ls` or `cat`
//! would, killed by SIGPIPE, instead of panicking on its next write.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// Runs `bin args` with stdout on a pipe whose read end is already closed.
fn run_into_closed_pipe(bin: &str, args: &[&str]) -> std::process::Output {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills both descriptors of a valid two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created by pipe(2) and are owned here alone.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let run_dir = std::env::temp_dir().join(format!("trueno-closed-stdout-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).unwrap();
    let out = Command::new(bin)
        .args(args)
        .env("TRUENO_UBLK_RUN_DIR", &run_dir)
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&run_dir);
    out
}

fn assert_ended_by_sigpipe(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {stderr}",
        out.status
    );
}

#[test]
fn list_into_a_closed_pipe_ends_by_sigpipe_without_a_panic() {
    let out = run_into_closed_pipe(env!("CARGO_BIN_EXE_trueno-ublk"), &["list"]);
    assert_ended_by_sigpipe(&out);
}

#[test]
fn zram_cli_entropy_into_a_closed_pipe_ends_by_sigpipe_without_a_panic() {
    // `entropy` of a file prints one line per bucket.
    let file =
        std::env::temp_dir().join(format!("trueno-closed-stdout-{}.bin", std::process::id()));
    std::fs::write(&file, vec![7u8; 64 * 1024]).unwrap();
    let out = run_into_closed_pipe(
        env!("CARGO_BIN_EXE_trueno-zram"),
        &["entropy", file.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&file);
    assert_ended_by_sigpipe(&out);
}
