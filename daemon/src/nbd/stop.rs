//! A stop signal that any number of loops can wait on together with their own file descriptor:
//! a socket pair whose read end becomes readable, and stays so, once the signal fires. Signal
//! handlers fire it through `signal_hook`'s self-pipe, which only writes one byte.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// The signal.
#[derive(Debug)]
pub struct StopSignal {
    read: UnixStream,
    write: UnixStream,
}

impl StopSignal {
    /// A signal not yet fired.
    pub fn new() -> io::Result<Self> {
        let (read, write) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        Ok(Self { read, write })
    }

    /// Fires the signal.
    pub fn fire(&self) {
        // A full buffer means it has fired already.
        let _ = (&self.write).write(&[1]);
    }

    /// A handle that fires this signal, for signal handlers (`signal_hook::low_level::pipe`).
    pub fn trigger(&self) -> io::Result<UnixStream> {
        self.write.try_clone()
    }

    /// Whether the signal has fired.
    pub fn fired(&self) -> bool {
        poll(&[self.read.as_raw_fd()], 0).is_ok_and(|r| r.first() == Some(&true))
    }

    /// Waits up to `timeout` for the signal; true when it fired.
    pub fn wait_timeout(&self, timeout: std::time::Duration) -> bool {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        match poll(&[self.read.as_raw_fd()], ms) {
            Ok(ready) => ready.first() == Some(&true),
            Err(e) => {
                // Callers loop `while !wait_timeout(..)`: returning at once would spin them, and
                // sleeping the whole timeout (an hour for the ublk loop) would miss a stop.
                log::warn!("waiting for the stop signal: {e}");
                std::thread::sleep(timeout.min(std::time::Duration::from_millis(100)));
                self.fired()
            }
        }
    }

    /// Waits until `fd` is readable (true) or the signal fires (false).
    pub fn wait_readable(&self, fd: RawFd) -> io::Result<bool> {
        loop {
            let ready = poll(&[self.read.as_raw_fd(), fd], -1)?;
            if ready.first() == Some(&true) {
                return Ok(false);
            }
            if ready.get(1) == Some(&true) {
                return Ok(true);
            }
        }
    }
}

/// Which of `fds` are readable (or hung up) after waiting up to `timeout_ms` (-1: forever).
fn poll(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let nfds = libc::nfds_t::try_from(pfds.len()).unwrap_or(0);
        // SAFETY: `pfds` is a live, initialised array of `nfds` pollfd structures that poll may
        // write `revents` into; no other reference to it exists during the call.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), nfds, timeout_ms) };
        if rc >= 0 {
            return Ok(pfds
                .iter()
                .map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
                .collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted && !is_kernel_restart(&e) {
            return Err(e);
        }
    }
}

/// The kernel's internal "restart the call" codes (ERESTARTSYS 512 to ERESTART_RESTARTBLOCK 516).
/// They are meant never to reach user space, but a `poll` interrupted by a tracer attaching (gdb,
/// strace) can return 516; like EINTR, they mean "call again".
fn is_kernel_restart(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(512..=516))
}
